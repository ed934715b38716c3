-- The audit trail: one row per batch that left the gateway (a WebSocket events message, a callback
-- POST attempt, a replay response), never one per event. Sizing: a busy node sends a few thousand
-- batches a second at most; a caught-up channel's batches are small, a draining one's large.
--
-- No foreign key to apps: the trail outlives the app (PRODUCT.md: deleting an app keeps its audit
-- records). Range-partitioned by delivery day (UTC) with its own retention (audit.retention-days,
-- longer than the events'): retention drops whole partitions, created ahead and dropped by
-- PartitionMaintainer like the event tables'.
CREATE SEQUENCE audit_deliveries_id_seq CACHE 100;

CREATE TABLE audit_deliveries (
    -- orders rows delivered in the same microsecond, for paging; not a key of its own
    id           bigint      NOT NULL DEFAULT nextval('audit_deliveries_id_seq'),
    delivered_at timestamptz NOT NULL,
    app_id       uuid        NOT NULL,
    merchant_id  text        COLLATE "C" NOT NULL,
    from_seq     bigint      NOT NULL,
    to_seq       bigint      NOT NULL,
    transport    text        NOT NULL CHECK (transport IN ('websocket', 'callback', 'replay')),
    -- the WebSocket connection id, the callback endpoint URL, or the replay request id
    via          text        NOT NULL,
    -- whether personal data in the batch was masked
    masked       boolean     NOT NULL,
    -- callbacks: the HTTP status of the answer, or NULL and an error when there was none
    status       integer,
    error        text,
    -- callbacks: the attempt's webhook-id, its latency, and the first bytes of the answer's body
    -- (the delivery log of an endpoint)
    webhook_id    text,
    latency_ms    integer,
    response_head text,
    CHECK (to_seq >= from_seq AND from_seq >= 1)
) PARTITION BY RANGE (delivered_at);

ALTER SEQUENCE audit_deliveries_id_seq OWNED BY audit_deliveries.id;

-- The two ways in: a merchant's deliveries (and an order's, through its seqs) and an app's, both in
-- time order; id breaks ties for paging.
CREATE INDEX audit_deliveries_by_merchant ON audit_deliveries (merchant_id, delivered_at, id);
CREATE INDEX audit_deliveries_by_app ON audit_deliveries (app_id, delivered_at, id);
