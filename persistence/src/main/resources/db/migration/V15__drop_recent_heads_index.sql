-- The delivery engine's reconcile now reads the stored heads of the merchants with channels on a
-- node (merchants' primary key, a bounded number a round) instead of scanning the chunks of the
-- last seconds through this index. The scan cost PostgreSQL about 150 ms every 2 s at 10,000
-- events/s (every recent row is a heap fetch: fresh rows are never all-visible), growing with
-- the ingest rate, and the index cost an entry per chunk on the write path. Nothing else reads it.
-- The drop locks event_chunks whole; behind a long read it would hold up ingest, so it gives up
-- after 10 s instead (the node exits and is started again; see docs/operations.md, upgrading).
SET LOCAL lock_timeout = '10s';
DROP INDEX IF EXISTS event_chunks_recent;
