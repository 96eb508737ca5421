-- Two-step sign-in (TOTP and recovery codes), sessions a person can recognise and end,
-- and lockout by device. Same one dialect as before: TEXT and BIGINT only.

-- Where and how each session was made and when it was last used. `device_id` names the
-- browser or app that holds it: a device that has signed in before is not locked out
-- by a stranger's failures (see `login_failures`).
ALTER TABLE sessions ADD COLUMN device_id TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN address_hint TEXT;
UPDATE sessions SET last_seen_at = created_at WHERE last_seen_at IS NULL;

-- The TOTP secret, sealed by the vault under the user's key with the user id bound in
-- (never in clear). Pending until a first code confirms it. `last_step` is the newest
-- 30-second step a code was accepted for: a code is accepted at most once.
CREATE TABLE totp_secrets (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed       TEXT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Recovery codes, only as keyed hashes; each is used once.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A password step passed, waiting for its second step: five minutes, five tries, gone
-- once used. Only the token's hash is stored. `known_device` says whose failure count the
-- second step's failures go to (the device's, or the account's for unknown devices).
CREATE TABLE mfa_challenges (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    known_device BIGINT NOT NULL,
    tries        BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
