-- Each user's data key, stored only wrapped (AES-KW) by the master key whose version is
-- recorded; the master key itself never enters the database.
CREATE TABLE user_keys (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    kek_version BIGINT NOT NULL,
    wrapped     TEXT NOT NULL
);
