-- Seeds a backlog for the drain benchmark (perf/stream-bench.sh drain) straight into the event
-- log, in exactly the shape ingest stores (persistence/.../events/EventLog.java): one merchant,
-- seqs 1..:events in event_chunks rows of 500 events each (NDJSON, line i has seq first_seq + i,
-- members seq, ingestedAt, eventId, orderId, type, occurredAt, data), the matching event_keys
-- rows, and merchants.head_seq. Events are about 400 bytes, like perf's EventFactory makes.
--
--   psql -v merchant=drain-xyz -v events=1000000 -f perf/stream-seed.sql "$GATEWAY_PG_URL"
--
-- The merchant must be new. ingested_at is now(), so today's partitions must exist (the gateway
-- creates them at startup).
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO merchants (merchant_id, head_seq) VALUES (:'merchant', :events);

INSERT INTO event_chunks (merchant_id, first_seq, last_seq, ingested_at, events)
SELECT :'merchant', min(s), max(s), now(),
       string_agg(
           '{"seq":' || s
           || ',"ingestedAt":"' || t.at
           || '","eventId":"' || :'merchant' || '-e' || s
           || '","orderId":"ord-' || :'merchant' || '-' || (s / 3)
           || '","type":"' || (ARRAY['order.created', 'order.paid', 'order.shipped', 'order.updated'])[s % 4 + 1]
           || '","occurredAt":"' || t.at
           || '","data":{"buyer":{"id":"b-' || (100000 + s % 900000) || '","name":"Buyer ' || (s % 256)
           || '","phone":"+86-138' || (10000000 + s % 89999999) || '"},"items":[{"sku":"SKU-10022-BLK-M","qty":'
           || (1 + s % 3) || ',"price":' || (1999 + s % 20000) || '},{"sku":"SKU-20871-WHT-L","qty":1,"price":'
           || (499 + s % 5000) || '}],"amount":{"total":' || ((1 + s % 3) * (1999 + s % 20000) + 499 + s % 5000)
           || ',"currency":"CNY"},"shipping":{"city":"Hangzhou","zip":"' || (100000 + s % 800000) || '"}}}',
           E'\n' ORDER BY s)
FROM generate_series(1, :events) AS s,
     (SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at) AS t
GROUP BY (s - 1) / 500;

INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)
SELECT :'merchant', :'merchant' || '-e' || s, s, now() FROM generate_series(1, :events) AS s;
COMMIT;

-- What a delivery read sees: the chunks must cover 1..:events exactly.
SELECT count(*) AS chunks, sum(last_seq - first_seq + 1) AS events, min(first_seq) AS first, max(last_seq) AS last
FROM event_chunks WHERE merchant_id = :'merchant';
