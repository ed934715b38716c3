-- Seeds callback backlogs (perf/callback-bench.sh) straight into the event log, in exactly the
-- shape ingest stores (persistence/.../events/EventLog.java), like perf/stream-seed.sql but for
-- :merchants merchants at once (ids :prefix0000, :prefix0001, ...), each with seqs 1..:events in
-- event_chunks rows of :chunk events (NDJSON, line i has seq first_seq + i; members seq,
-- ingestedAt, eventId, orderId, type, occurredAt, data; about 400 bytes per event), the matching
-- event_keys rows and merchants.head_seq.
--
--   psql -v prefix=cbm-xyz- -v merchants=1000 -v events=1000 -v chunk=100 -f perf/callback-seed.sql "$GATEWAY_PG_URL"
--
-- Ingest writes one chunk per merchant per group commit (at most 512 events): a single merchant's
-- backlog ingested in large requests has chunks of a few hundred events, a backlog spread over
-- many merchants much smaller ones. The merchants must be new. ingested_at is now(), so today's
-- partitions must exist (the gateway creates them at startup).
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE seed_m ON COMMIT DROP AS
SELECT :'prefix' || lpad(i::text, 4, '0') AS m FROM generate_series(0, :merchants - 1) AS i;

INSERT INTO merchants (merchant_id, head_seq) SELECT m, :events FROM seed_m;

INSERT INTO event_chunks (merchant_id, first_seq, last_seq, ingested_at, events)
SELECT seed_m.m, min(s), max(s), now(),
       string_agg(
           '{"seq":' || s
           || ',"ingestedAt":"' || t.at
           || '","eventId":"' || seed_m.m || '-e' || s
           || '","orderId":"ord-' || seed_m.m || '-' || (s / 3)
           || '","type":"' || (ARRAY['order.created', 'order.paid', 'order.shipped', 'order.updated'])[s % 4 + 1]
           || '","occurredAt":"' || t.at
           || '","data":{"buyer":{"id":"b-' || (100000 + s % 900000) || '","name":"Buyer ' || (s % 256)
           || '","phone":"+86-138' || (10000000 + s % 89999999) || '"},"items":[{"sku":"SKU-10022-BLK-M","qty":'
           || (1 + s % 3) || ',"price":' || (1999 + s % 20000) || '},{"sku":"SKU-20871-WHT-L","qty":1,"price":'
           || (499 + s % 5000) || '}],"amount":{"total":' || ((1 + s % 3) * (1999 + s % 20000) + 499 + s % 5000)
           || ',"currency":"CNY"},"shipping":{"city":"Hangzhou","zip":"' || (100000 + s % 800000) || '"}}}',
           E'\n' ORDER BY s)
FROM seed_m, generate_series(1, :events) AS s,
     (SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at) AS t
GROUP BY seed_m.m, (s - 1) / :chunk;

INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)
SELECT seed_m.m, seed_m.m || '-e' || s, s, now() FROM seed_m, generate_series(1, :events) AS s;
COMMIT;

-- What delivery reads: the chunks must cover 1..:events of every merchant exactly.
SELECT count(DISTINCT merchant_id) AS merchants, count(*) AS chunks, sum(last_seq - first_seq + 1) AS events,
       min(first_seq) AS first, max(last_seq) AS last
FROM event_chunks WHERE merchant_id LIKE :'prefix' || '%';
