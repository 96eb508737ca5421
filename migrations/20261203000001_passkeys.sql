-- Passkeys (WebAuthn discoverable credentials) and the ceremonies that make and use
-- them. Same one dialect as before: TEXT and BIGINT only.

-- A registered passkey. `credential_id` (base64url) is unique across accounts: an
-- authenticator's credential can belong to one account only. `passkey` is webauthn-rs's
-- record of it as JSON: the public key and the signature counter, nothing secret.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A registration or sign-in waiting for the browser's answer: five minutes, used once.
-- Registration is keyed by the account (one at a time); sign-in by the hash of the
-- challenge id handed to the browser. `state` is webauthn-rs's ceremony state as JSON
-- (kept here, never sent to the client, so a challenge cannot be replayed or forged).
CREATE TABLE webauthn_ceremonies (
    id         TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
