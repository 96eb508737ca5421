-- Upload idempotency keys (design.md, "Upload idempotency"): the image a user's key
-- first stored, answered again for 24 h. A key's row commits in the transaction of the
-- image row it names, so two uploads racing with one key store one image. Deleting the
-- image or the account drops it; hourly purges drop it a day after `created_at`.
CREATE TABLE upload_keys (
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idem_key   TEXT NOT NULL,
    image_id   TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (owner_id, idem_key)
);
CREATE INDEX upload_keys_image ON upload_keys (image_id);
CREATE INDEX upload_keys_created ON upload_keys (created_at);
