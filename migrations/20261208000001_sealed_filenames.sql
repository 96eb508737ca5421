-- Filenames sealed under the owner's key, the image id bound in (`sealed_name`, the
-- vault's sealed form in base64). New rows leave `filename` empty; the rows of earlier
-- versions are sealed by the server when it starts with the master keys (it empties
-- their `filename` in the same statement), found through the partial index below.
ALTER TABLE images ADD COLUMN sealed_name TEXT NOT NULL DEFAULT '';
CREATE INDEX images_unsealed ON images (id) WHERE sealed_name = '';
