-- event_keys: each day partition gets a unique index on (merchant_id, event_id) in place of the
-- primary key (merchant_id, event_id, ingested_at), which a partitioned table needs to hold its
-- partition key and so never caught a repeat. One index entry per event as before (8 bytes
-- shorter), and a repeat within the day now fails the very INSERT that stores the keys: ingest's
-- one-round-trip commit (EventLog.appendExpecting) looks up only the other retained days, and the
-- lookup of the locking way finds the same keys as before. PartitionMaintainer creates the index
-- with each new event_keys partition. Building it takes a pass over each existing partition.
ALTER TABLE event_keys DROP CONSTRAINT event_keys_pkey;
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'event_keys'::regclass LOOP
        EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %s (merchant_id, event_id)',
                       part::text || '_key', part);
    END LOOP;
END
$$;
