-- Sessions get a random id of their own, so a session can be named (listed, revoked,
-- logged) without its token hash. Sessions that exist when this runs get theirs from
-- the server right after migrating (SQL has no portable way to make a random UUID).
ALTER TABLE sessions ADD COLUMN id TEXT;
CREATE UNIQUE INDEX sessions_id ON sessions (id);
