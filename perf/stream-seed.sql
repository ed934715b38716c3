-- Seeds a backlog for the drain benchmark (perf/stream-bench.sh drain) straight into the event
-- log, in exactly the shape ingest stores (persistence/.../events/EventLog.java): one merchant,
-- seqs 1..:events in event_chunks rows of 500 events each (NDJSON, line i has seq first_seq + i,
-- members seq, ingestedAt, eventId, orderId, type, occurredAt, data), the matching event_keys
-- rows, and merchants.head_seq. Events are about 520 bytes, like perf's EventFactory makes, with buyer and receiver personal data.
--
--   psql -v merchant=drain-xyz -v events=1000000 -v masked_by=m1-... [-v masks=whole] \
--        -f perf/stream-seed.sql "$GATEWAY_PG_URL"
--
-- masks: patch (default) stores each event's masks as ingest does since session 35 (MaskPatch:
-- <fromEnd>,<length>,"<mask>" per masked value, masked_by 'patch:' and the fingerprint); whole
-- stores the masked rendering whole, as ingest did before (for a gateway of that time).
--
-- The merchant must be new. ingested_at is now(), so today's partitions must exist (the gateway
-- creates them at startup).
\set ON_ERROR_STOP on
\if :{?masks}
\else
\set masks patch
\endif
BEGIN;
INSERT INTO merchants (merchant_id, head_seq) VALUES (:'merchant', :events);

-- masked: what masks the same events' personal data of the default masking.paths, as ingest
-- renders it (persistence/.../masking/Masks.java): per event its patch (the masks, each at its
-- value's distance from the end of the line and that value's length) or, with masks=whole, its
-- masked line; masked_by: the gateway's masking fingerprint (its log says "masking rules
-- fingerprint ..."), so delivery trusts them.
INSERT INTO event_chunks (merchant_id, first_seq, last_seq, ingested_at, events, masked, masked_by)
SELECT :'merchant', min(s), max(s), now(),
       string_agg(head || '"data":{"buyer":{"id":"b-' || bid || '","name":' || t1, E'\n' ORDER BY s),
       CASE WHEN :'masks' = 'whole' THEN
       string_agg(head || '"data":{"buyer":{"id":"b-' || bid || '","name":"' || m1
                  || '","phone":"' || m2 || '"},"receiver":{"name":"' || m3
                  || '","mobile":"' || m4 || '","address":"' || m5 || '"},' || rest, E'\n' ORDER BY s)
       ELSE
       string_agg(length(t1) || ',' || (length(bname) + 2) || ',"' || m1 || '"'
                  || length(t2) || ',' || (length(bphone) + 2) || ',"' || m2 || '"'
                  || length(t3) || ',' || (length(rname) + 2) || ',"' || m3 || '"'
                  || length(t4) || ',' || (length(rmobile) + 2) || ',"' || m4 || '"'
                  || length(t5) || ',' || (length(raddr) + 2) || ',"' || m5 || '"', E'\n' ORDER BY s)
       END,
       CASE WHEN :'masks' = 'whole' THEN '' ELSE 'patch:' END || :'masked_by'
FROM (
SELECT *,
       -- each masked value and all that follows it to the end of the line
       '"' || bname || '","phone":' || t2 AS t1
FROM (
SELECT *, '"' || bphone || '"},"receiver":{"name":' || t3 AS t2
FROM (
SELECT *, '"' || rname || '","mobile":' || t4 AS t3
FROM (
SELECT *, '"' || rmobile || '","address":' || t5 AS t4
FROM (
SELECT *, '"' || raddr || '"},' || rest AS t5,
       left(bname, 1) || repeat('*', length(bname) - 1) AS m1,
       left(bphone, 7) || '****' || right(bphone, 4) AS m2,
       left(rname, 1) || repeat('*', length(rname) - 1) AS m3,
       left(rmobile, 3) || '****' || right(rmobile, 4) AS m4,
       left(raddr, least(6, length(raddr) / 2)) || '****' AS m5
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
) AS e) AS e5) AS e4) AS e3) AS e2) AS e1
GROUP BY (s - 1) / 500;

INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)
SELECT :'merchant', :'merchant' || '-e' || s, s, now() FROM generate_series(1, :events) AS s;
COMMIT;

-- What a delivery read sees: the chunks must cover 1..:events exactly.
SELECT count(*) AS chunks, sum(last_seq - first_seq + 1) AS events, min(first_seq) AS first, max(last_seq) AS last
FROM event_chunks WHERE merchant_id = :'merchant';
