-- A batch sent to an app that subscribes to some event types holds only the events of those types
-- between its first and last seq, so its range alone made a query by order name it for an event
-- of the order it passed over. held_seqs lists, per batch (one element per element of sent_ms),
-- the seqs the batch held, comma-separated, when they are not every seq of its range; the element
-- is NULL when they are (or when the list is too long: AuditRecord.MAX_HELD_CHARS), and the
-- column is NULL when no batch of the row passed anything over, as in every row written before.
-- Adding a nullable column without a default rewrites nothing; the lock is taken within 10 s or
-- the migration fails, like V15's and V16's.
SET LOCAL lock_timeout = '10s';
ALTER TABLE audit_batches ADD COLUMN held_seqs text[];
SET LOCAL lock_timeout = 0;
