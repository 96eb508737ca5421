-- Accounts, email tokens, sessions and throttling counters.
-- One dialect for SQLite and PostgreSQL: TEXT and BIGINT only (times are unix seconds,
-- flags are 0/1), which both engines and sqlx's Any driver handle identically.

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,
    password_hash     TEXT NOT NULL,
    is_admin          BIGINT NOT NULL DEFAULT 0,
    email_verified_at BIGINT,
    created_at        BIGINT NOT NULL
);

-- Consecutive login failures and lockouts, keyed by normalised email whether or not an
-- account exists, so that lockout behaves identically for both (it must not reveal
-- which addresses are registered).
CREATE TABLE login_failures (
    email        TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    lockouts     BIGINT NOT NULL,
    locked_until BIGINT,
    updated_at   BIGINT NOT NULL
);

-- Verification and reset tokens; only SHA-256 hashes are stored.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

-- Sessions (bearer tokens and browser cookies); only SHA-256 hashes are stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Fixed-window request counters shared by every server instance.
CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);
