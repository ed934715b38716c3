-- EXPLAIN ANALYZE of the four statements of one group commit (EventLog.append), with the
-- shapes IngestBench produces: :n events over random merchants out of :nm ('bench-m-0000'..),
-- ~440-byte event lines. Runs in a transaction that is rolled back: writes nothing.
--
--   psql "$URL" -v n=437 -v nm=1000 -f perf/explain-append.sql            (per-node timing)
--   psql "$URL" -v n=437 -v nm=1000 -v opts='ANALYZE, TIMING OFF, COSTS OFF' -f perf/explain-append.sql
--
-- Use it on the benchmark's database after a run (perf/ingest-bench.sh keeps gateway_ingest_bench),
-- so the merchants exist and the indexes hold realistic data. The statements are copied from
-- persistence/.../events/EventLog.java; keep them in step.
\set ON_ERROR_STOP 1
\if :{?opts}
\else
\set opts 'ANALYZE, BUFFERS, WAL, COSTS OFF'
\endif
BEGIN;
CREATE TEMP TABLE ev ON COMMIT DROP AS
  SELECT g, 'bench-m-' || lpad(floor(random() * :nm)::int::text, 4, '0') AS m,
         'explain-' || g || '-' || md5(random()::text) AS e, repeat('x', 440) AS body
  FROM generate_series(1, :n) g;
SELECT array_agg(DISTINCT m ORDER BY m) AS ms FROM ev \gset
SELECT array_agg(m ORDER BY g) AS km, array_agg(e ORDER BY g) AS ke FROM ev \gset
SELECT count(DISTINCT m) AS merchants, count(*) AS events FROM ev;
PREPARE ins_m(text[]) AS
  INSERT INTO merchants (merchant_id) SELECT m FROM unnest($1::text[]) AS t(m) ORDER BY m
  ON CONFLICT (merchant_id) DO NOTHING;
PREPARE lock_h(text[]) AS
  SELECT merchant_id, head_seq FROM merchants WHERE merchant_id = ANY($1::text[]) ORDER BY merchant_id FOR UPDATE;
PREPARE find_k(text[], text[]) AS
  SELECT k.merchant_id, k.event_id, k.seq FROM event_keys k
  JOIN unnest($1::text[], $2::text[]) AS q(merchant_id, event_id)
    ON k.merchant_id = q.merchant_id AND k.event_id = q.event_id;
PREPARE wr(text[], text[], bigint[], timestamptz, text[], bigint[], bigint[], text[], text[], bigint[]) AS
  WITH keys AS (
    INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)
    SELECT m, e, s, $4::timestamptz FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(m, e, s)
  ), chunks AS (
    INSERT INTO event_chunks (merchant_id, first_seq, last_seq, ingested_at, events)
    SELECT m, f, l, $4::timestamptz, ev FROM unnest($5::text[], $6::bigint[], $7::bigint[], $8::text[]) AS t(m, f, l, ev)
  )
  UPDATE merchants SET head_seq = u.h FROM unnest($9::text[], $10::bigint[]) AS u(m, h)
  WHERE merchants.merchant_id = u.m;
\echo '== INSERT_MERCHANTS'
EXPLAIN (:opts) EXECUTE ins_m(:'ms');
\echo '== LOCK_HEADS'
EXPLAIN (:opts) EXECUTE lock_h(:'ms');
\echo '== FIND_KEYS'
EXPLAIN (:opts) EXECUTE find_k(:'km', :'ke');
CREATE TEMP TABLE seqd ON COMMIT DROP AS
  SELECT ev.*, mm.head_seq + row_number() OVER (PARTITION BY ev.m ORDER BY g) AS s
  FROM ev JOIN merchants mm ON mm.merchant_id = ev.m;
SELECT array_agg(m ORDER BY g) AS wm, array_agg(e ORDER BY g) AS we, array_agg(s ORDER BY g) AS ws FROM seqd \gset
SELECT array_agg(m ORDER BY m) AS cm, array_agg(f ORDER BY m) AS cf, array_agg(l ORDER BY m) AS cl,
       array_agg(b ORDER BY m) AS cb
  FROM (SELECT m, min(s) AS f, max(s) AS l, string_agg(body, E'\n' ORDER BY s) AS b FROM seqd GROUP BY m) c \gset
\echo '== WRITE'
EXPLAIN (:opts) EXECUTE wr(:'wm', :'we', :'ws', now(), :'cm', :'cf', :'cl', :'cb', :'cm', :'cl');
ROLLBACK;
