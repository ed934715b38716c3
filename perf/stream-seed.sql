-- Seeds a backlog for the drain benchmark (perf/stream-bench.sh drain) straight into the event
-- log, in exactly the shape ingest stores (persistence/.../events/EventLog.java): one merchant,
-- seqs 1..:events in event_chunks rows of 500 events each (NDJSON, line i has seq first_seq + i,
-- members seq, ingestedAt, eventId, orderId, type, occurredAt, data), the matching event_keys
-- rows, and merchants.head_seq. Events are about 520 bytes, like perf's EventFactory makes, with buyer and receiver personal data.
--
--   psql -v merchant=drain-xyz -v events=1000000 -v masked_by=m1-... -f perf/stream-seed.sql "$GATEWAY_PG_URL"
--
-- The merchant must be new. ingested_at is now(), so today's partitions must exist (the gateway
-- creates them at startup).
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO merchants (merchant_id, head_seq) VALUES (:'merchant', :events);

-- masked: the same events with the personal data of the default masking.paths masked, as ingest
-- renders it (persistence/.../masking/Masks.java); masked_by: the gateway's masking fingerprint
-- (its log says "masking rules fingerprint ..."), so delivery trusts these renderings.
INSERT INTO event_chunks (merchant_id, first_seq, last_seq, ingested_at, events, masked, masked_by)
SELECT :'merchant', min(s), max(s), now(),
       string_agg(head || '"data":{"buyer":{"id":"b-' || bid || '","name":"' || bname || '","phone":"' || bphone
                  || '"},"receiver":{"name":"' || rname || '","mobile":"' || rmobile || '","address":"' || raddr
                  || '"},' || rest, E'\n' ORDER BY s),
       string_agg(head || '"data":{"buyer":{"id":"b-' || bid || '","name":"' || left(bname, 1) || repeat('*', length(bname) - 1)
                  || '","phone":"' || left(bphone, 7) || '****' || right(bphone, 4)
                  || '"},"receiver":{"name":"' || left(rname, 1) || repeat('*', length(rname) - 1)
                  || '","mobile":"' || left(rmobile, 3) || '****' || right(rmobile, 4)
                  || '","address":"' || left(raddr, least(6, length(raddr) / 2)) || '****'
                  || '"},' || rest, E'\n' ORDER BY s),
       :'masked_by'
FROM (
    SELECT s,
           '{"seq":' || s || ',"ingestedAt":"' || t.at || '","eventId":"' || :'merchant' || '-e' || s
           || '","orderId":"ord-' || :'merchant' || '-' || (s / 3)
           || '","type":"' || (ARRAY['order.created', 'order.paid', 'order.shipped', 'order.updated'])[s % 4 + 1]
           || '","occurredAt":"' || t.at || '",' AS head,
           (100000 + s % 900000)::text AS bid,
           'Buyer ' || (s % 256) AS bname,
           '+86-138' || (10000000 + s % 89999999) AS bphone,
           (ARRAY['张三', '李四', '王小明', '欧阳娜娜'])[s % 4 + 1] AS rname,
           '139' || (10000000 + s % 89999999) AS rmobile,
           '浙江省杭州市西湖区文三路 ' || (1 + s % 999) || ' 号' AS raddr,
           '"items":[{"sku":"SKU-10022-BLK-M","qty":' || (1 + s % 3) || ',"price":' || (1999 + s % 20000)
           || '},{"sku":"SKU-20871-WHT-L","qty":1,"price":' || (499 + s % 5000) || '}],"amount":{"total":'
           || ((1 + s % 3) * (1999 + s % 20000) + 499 + s % 5000)
           || ',"currency":"CNY"},"shipping":{"city":"Hangzhou","zip":"' || (100000 + s % 800000) || '"}}}' AS rest
    FROM generate_series(1, :events) AS s,
         (SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at) AS t
) AS e
GROUP BY (s - 1) / 500;

INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)
SELECT :'merchant', :'merchant' || '-e' || s, s, now() FROM generate_series(1, :events) AS s;
COMMIT;

-- What a delivery read sees: the chunks must cover 1..:events exactly.
SELECT count(*) AS chunks, sum(last_seq - first_seq + 1) AS events, min(first_seq) AS first, max(last_seq) AS last
FROM event_chunks WHERE merchant_id = :'merchant';
