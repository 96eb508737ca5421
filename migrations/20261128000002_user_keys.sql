-- Each user's data key, stored only wrapped (AES-KW) by the master key whose version is
-- recorded; the master key itself never enters the database.
CREATE TABLE user_keys (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    kek_version BIGINT NOT NULL,
    wrapped     TEXT NOT NULL
);

-- A fingerprint of each master-key version (an HMAC of a fixed label under the key),
-- recorded by the first instance that uses it, so every other instance can prove it
-- holds the same key before wrapping anything. It reveals nothing about the key.
CREATE TABLE master_key_checks (
    version     BIGINT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
