-- Merchant and event ids are opaque ASCII keys: compare them bytewise. Under the database's
-- linguistic collation every index comparison went through strcoll, about 38% of PostgreSQL's CPU
-- on the ingest path (perf/README.md, ingest section).
ALTER TABLE merchants ALTER COLUMN merchant_id TYPE text COLLATE "C";
ALTER TABLE event_chunks ALTER COLUMN merchant_id TYPE text COLLATE "C";
ALTER TABLE event_keys ALTER COLUMN merchant_id TYPE text COLLATE "C",
                       ALTER COLUMN event_id TYPE text COLLATE "C";
ALTER TABLE grants ALTER COLUMN merchant_id TYPE text COLLATE "C";
ALTER TABLE cursor_checkpoints ALTER COLUMN merchant_id TYPE text COLLATE "C";
