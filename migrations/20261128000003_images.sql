-- Image metadata. The bytes live encrypted in the blob store under names derived from
-- `id` alone; a row is committed only after its blobs are durable, so a row always
-- points to blobs that exist. `created_us` is microseconds, so images uploaded in the
-- same second still list newest first; (owner_id, created_us, id) serves every page.
CREATE TABLE images (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename       TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           BIGINT NOT NULL,
    width          BIGINT NOT NULL,
    height         BIGINT NOT NULL,
    thumbnail_type TEXT NOT NULL,
    created_us     BIGINT NOT NULL
);
CREATE INDEX images_owner_newest ON images (owner_id, created_us DESC, id DESC);
