-- Fresh user keys (`rotate-user-keys`): while a user's images are re-encrypted, the key
-- they move to waits beside the current one; `epoch` counts the user's keys, and each
-- image records the epoch of the key its blobs are sealed under (its blob names carry
-- it too, so old and new blobs never share a name).
ALTER TABLE user_keys ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_keys ADD COLUMN next_kek_version BIGINT;
ALTER TABLE user_keys ADD COLUMN next_wrapped TEXT;
ALTER TABLE images ADD COLUMN key_epoch BIGINT NOT NULL DEFAULT 0;
CREATE INDEX images_owner_epoch ON images (owner_id, key_epoch);
