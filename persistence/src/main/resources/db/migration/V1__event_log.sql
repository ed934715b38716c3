-- The event log. Sizing: tens of millions of events, millions for one merchant.
--
-- merchants: one row per merchant, the head of its dense sequence. Ingest locks
-- this row (SELECT ... FOR UPDATE, merchants in sorted order) for the length of
-- its transaction, so one merchant's seqs are assigned in commit order while
-- different merchants never wait on each other.
CREATE TABLE merchants (
    merchant_id text        PRIMARY KEY,
    head_seq    bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- event_chunks: the payload. One row holds a run of consecutive seqs of one
-- merchant written by one group commit, already rendered as NDJSON in the shape
-- delivery sends (one event per line, line i has seq first_seq + i). A write is
-- one row per merchant per group commit instead of one per event, and a read of
-- a long backlog is a few wide rows instead of thousands of narrow ones.
-- Range-partitioned by ingest day: retention drops whole partitions.
CREATE TABLE event_chunks (
    merchant_id text        NOT NULL,
    first_seq   bigint      NOT NULL,
    last_seq    bigint      NOT NULL,
    ingested_at timestamptz NOT NULL,
    events      text        COMPRESSION lz4 NOT NULL,
    -- chunks of a merchant never overlap, so last_seq orders them as first_seq does,
    -- and "the chunk holding seq n" is the first with last_seq >= n.
    PRIMARY KEY (merchant_id, last_seq, ingested_at),
    CHECK (last_seq >= first_seq AND first_seq >= 1)
) PARTITION BY RANGE (ingested_at);

-- event_keys: idempotency on (merchant_id, event_id) within retention, one
-- narrow row per event. The unique key of a partitioned table must contain the
-- partition key, so uniqueness across days is enforced by ingest itself: it
-- looks keys up and inserts them while holding the merchant's row lock.
CREATE TABLE event_keys (
    merchant_id text        NOT NULL,
    event_id    text        NOT NULL,
    seq         bigint      NOT NULL,
    ingested_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, event_id, ingested_at)
) PARTITION BY RANGE (ingested_at);

-- Which day partitions exist is derived from the catalog; the gateway creates
-- them ahead of time (see PartitionMaintainer).

CREATE TABLE apps (
    app_id            uuid        PRIMARY KEY,
    name              text        NOT NULL,
    delivery_mode     text        NOT NULL CHECK (delivery_mode IN ('websocket', 'callback')),
    callback_url      text,
    -- SHA-256 of the app token: the token itself is shown once and never stored.
    token_hash        bytea       NOT NULL UNIQUE,
    -- AES-256-GCM(nonce || ciphertext) of the whsec_ secret, key from configuration,
    -- app_id as associated data so a ciphertext cannot be moved to another app.
    secret_ciphertext bytea       NOT NULL,
    state             text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'frozen')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((delivery_mode = 'callback') = (callback_url IS NOT NULL))
);

CREATE TABLE grants (
    app_id      uuid        NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
    merchant_id text        NOT NULL,
    scopes      text[]      NOT NULL DEFAULT '{}',
    -- the channel's initial cursor: the merchant's head at grant time, or 0 for "earliest"
    start_seq   bigint      NOT NULL CHECK (start_seq >= 0),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, merchant_id)
);
CREATE INDEX grants_by_merchant ON grants (merchant_id);
