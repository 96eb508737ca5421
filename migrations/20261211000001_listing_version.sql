-- A count of the changes to an account's list of images (docs/PERFORMANCE.md, issue 18):
-- raised in the transaction that inserts or deletes one of its images (the same
-- statement that charges or refunds its quota), so a listing page built for one value
-- is still right while the value stands, on every instance that reads it.
ALTER TABLE users ADD COLUMN listing_version BIGINT NOT NULL DEFAULT 0;
