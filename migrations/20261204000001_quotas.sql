-- Fair use: what each account stores, counted where every instance sees it. The
-- counters move in the transaction that adds or deletes an image row, so one
-- conditional UPDATE decides whether an upload fits the quota, race-free across
-- instances. Same one dialect as before: TEXT and BIGINT only.

-- `quota_bytes` NULL means the server's DEFAULT_QUOTA_BYTES.
ALTER TABLE users ADD COLUMN quota_bytes BIGINT;
ALTER TABLE users ADD COLUMN bytes_used BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN image_count BIGINT NOT NULL DEFAULT 0;

-- Bytes this image holds in the blob store (image and thumbnail, as stored), so a
-- deletion gives back exactly what the upload took. Older rows count their image.
ALTER TABLE images ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE images SET stored_bytes = size;
UPDATE users SET
    bytes_used = (SELECT COALESCE(SUM(stored_bytes), 0) FROM images WHERE images.owner_id = users.id),
    image_count = (SELECT COUNT(*) FROM images WHERE images.owner_id = users.id);
