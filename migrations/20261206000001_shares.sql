-- Share links: chosen images of an owner's, for people without an account. The token
-- is stored only as its SHA-256; a share's images are numbered `n` = 1… so the owner's
-- image ids never reach a public answer. Same one dialect: TEXT and BIGINT only.
CREATE TABLE shares (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash     TEXT NOT NULL UNIQUE,
    -- NULL: no title (the public page says "Shared photos").
    title          TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    -- Argon2id PHC string; NULL: no password.
    password_hash  TEXT,
    -- NULL: no limit. `views` counts every opening, atomically against the limit.
    max_views      BIGINT,
    views          BIGINT NOT NULL DEFAULT 0,
    allow_download BIGINT NOT NULL,
    watermark      BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX shares_owner ON shares (owner_id, created_at);

-- A deleted image leaves its share (the number is simply gone).
CREATE TABLE share_images (
    share_id TEXT NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    n        BIGINT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    PRIMARY KEY (share_id, n)
);
CREATE INDEX share_images_image ON share_images (image_id);
