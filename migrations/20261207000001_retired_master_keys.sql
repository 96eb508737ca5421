-- When a master-key version was retired (`rotate-keys --retire`): from then on no user
-- key wrapped by it is stored, and its number is never given to a new key.
ALTER TABLE master_key_checks ADD COLUMN retired_at BIGINT;
