-- The audit trail packs the batches one channel sent over one connection in one write: a row per
-- (app, merchant, transport, via, masked) per group the writer flushes, with one array element per
-- batch, instead of a row per batch. At a few events a second per merchant nearly every event is
-- a batch of its own, and a row per batch cost PostgreSQL a heap tuple and two index entries per
-- event (about a third of its statement time in the live benchmark at 10,000 events/s, and some
-- 330 bytes a batch kept for audit.retention-days). The API still answers one item per batch.
--
-- A callback attempt keeps a row of its own (one element), with its outcome. A row's batches were
-- sent within PACK_SPAN (AuditStore, 10 s) of delivered_at, the earliest of them, so a query from
-- a time looks at rows from that much earlier. Range-partitioned by delivered_at like the table it
-- replaces; the existing records are moved over as rows of one batch each, ids kept.
-- Nodes of the older version write into audit_deliveries until they are replaced. Rows they
-- committed while the copy below runs would be dropped with the table, counted as written: the
-- lock makes them wait instead, and fail once the table is gone (kept in their buffer, then
-- counted as dropped). Taken within 10 s or the migration fails, like V15's.
SET LOCAL lock_timeout = '10s';
LOCK TABLE audit_deliveries IN SHARE ROW EXCLUSIVE MODE;
SET LOCAL lock_timeout = 0;

CREATE SEQUENCE audit_batches_id_seq CACHE 100;

CREATE TABLE audit_batches (
    -- orders rows that start in the same millisecond, for paging; not a key of its own
    id           bigint      NOT NULL DEFAULT nextval('audit_batches_id_seq'),
    -- the earliest batch's time; batch i left at delivered_at + sent_ms[i] milliseconds
    delivered_at timestamptz NOT NULL,
    app_id       uuid        NOT NULL,
    merchant_id  text        COLLATE "C" NOT NULL,
    transport    text        NOT NULL CHECK (transport IN ('websocket', 'callback', 'replay')),
    via          text        NOT NULL,
    masked       boolean     NOT NULL,
    -- one element per batch, in the order they left
    sent_ms      integer[]   NOT NULL,
    from_seqs    bigint[]    NOT NULL,
    to_seqs      bigint[]    NOT NULL,
    -- callbacks (one batch a row): the HTTP status of the answer, or NULL and an error
    status        integer,
    error         text,
    webhook_id    text,
    latency_ms    integer,
    response_head text,
    CHECK (cardinality(sent_ms) >= 1
           AND cardinality(from_seqs) = cardinality(sent_ms)
           AND cardinality(to_seqs) = cardinality(sent_ms)
           AND array_position(sent_ms, NULL) IS NULL
           AND array_position(from_seqs, NULL) IS NULL
           AND array_position(to_seqs, NULL) IS NULL
           -- PACK_SPAN: a query from a time relies on it
           AND 0 <= ALL (sent_ms) AND 10000 >= ALL (sent_ms)
           AND 1 <= ALL (from_seqs)),
    CHECK (transport <> 'callback' OR cardinality(sent_ms) = 1)
) PARTITION BY RANGE (delivered_at);

ALTER SEQUENCE audit_batches_id_seq OWNED BY audit_batches.id;

CREATE INDEX audit_batches_by_merchant ON audit_batches (merchant_id, delivered_at, id);
CREATE INDEX audit_batches_by_app ON audit_batches (app_id, delivered_at, id);

DO $$
DECLARE
    part  record;
BEGIN
    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'audit_deliveries'::regclass
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_batches %s',
                       'audit_batches' || substr(part.relname, length('audit_deliveries') + 1),
                       part.bound);
    END LOOP;
END
$$;

-- ids kept, so a page cursor handed out before the upgrade still names its row; new ones follow
-- (every id came from the old sequence, so its last value bounds them)
INSERT INTO audit_batches (id, delivered_at, app_id, merchant_id, transport, via, masked, sent_ms,
                           from_seqs, to_seqs, status, error, webhook_id, latency_ms,
                           response_head)
SELECT id, delivered_at, app_id, merchant_id, transport, via, masked, ARRAY[0], ARRAY[from_seq],
       ARRAY[to_seq], status, error, webhook_id, latency_ms, response_head
FROM audit_deliveries;

SELECT setval('audit_batches_id_seq', greatest(last_value, 1)) FROM audit_deliveries_id_seq;

DROP TABLE audit_deliveries;
