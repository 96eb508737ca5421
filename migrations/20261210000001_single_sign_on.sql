-- Single sign-on through an OpenID Provider (design.md, "Single sign-on (OpenID Connect)").

-- The link between an account and a person at a provider: the subject (issuer + sub),
-- never the email, so a changed email at the provider does not move the account.
-- `email` is what the provider last said, shown on the account page.
CREATE TABLE sso_links (
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
-- One person per provider for each account.
CREATE UNIQUE INDEX sso_links_user ON sso_links (user_id, issuer);

-- A browser's sign-in waiting at the provider: the hash of `state`, the hash of the
-- cookie that binds it to the browser that started it, the nonce and the PKCE verifier.
-- Used once; ten minutes at most.
CREATE TABLE sso_flows (
    state_hash    TEXT PRIMARY KEY,
    browser_hash  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sso_flows_expiry ON sso_flows (expires_at);

-- A provider's sign-in for an email that already has an account, waiting for that
-- account's password (and code) once before the link is made. Only the token's hash
-- is stored; a few tries, a few minutes.
CREATE TABLE sso_pending_links (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    email        TEXT NOT NULL,
    session_kind TEXT NOT NULL,
    tries        BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sso_pending_links_expiry ON sso_pending_links (expires_at);
