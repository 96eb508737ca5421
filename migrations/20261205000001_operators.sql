-- Operators and fair use: disabled accounts, the last sign-in, the tamper-evident audit
-- log, and the uploads each account has in progress.
-- Same one dialect as before: TEXT and BIGINT only.

-- When an administrator disabled the account (NULL: enabled), and when it last
-- signed in (NULL: never since this column was added).
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT;

-- Every security event, append-only. `mac` is HMAC-SHA256 under the audit key of
-- master-key `key_version` over the previous row's mac and this row, so a row deleted,
-- edited or moved breaks the chain at its `seq`. `user_id` has no foreign key on
-- purpose: the events of a deleted account stay (they hold an id, never an address).
CREATE TABLE audit_log (
    seq          BIGINT PRIMARY KEY,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    user_id      TEXT,
    address_hint TEXT,
    detail       TEXT NOT NULL,
    key_version  BIGINT NOT NULL,
    mac          TEXT NOT NULL
);
CREATE INDEX audit_log_user ON audit_log (user_id, seq);
CREATE INDEX audit_log_kind ON audit_log (kind, at);

-- The chain's head: the last seq and mac. Appending first updates this one row, which
-- makes concurrent appends (any number of instances) take turns on both engines, and
-- lets `audit verify` notice rows cut off the end.
CREATE TABLE audit_head (
    id  BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    mac TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, mac) VALUES (1, 0, '');

-- Uploads in progress, a row each, so UPLOADS_PER_USER holds across instances. A lease
-- left by an instance that died mid-upload stops counting at `expires_at`.
CREATE TABLE upload_leases (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX upload_leases_user ON upload_leases (user_id);
