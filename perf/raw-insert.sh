#!/usr/bin/env bash
# The raw multi-row INSERT ceiling that perf/ingest-bench.sh compares the gateway with: what
# PostgreSQL itself takes when a client sends the same rows the gateway stores, with nothing of the
# gateway's work (no idempotency keys, no chunking, no masked rendering, no dense-seq check).
#
#   perf/raw-insert.sh schema URL            creates the two tables in URL's (empty) database
#   perf/raw-insert.sh script ROWS FILE      writes the pgbench script of one transaction to FILE
#   perf/raw-insert.sh latency URL [ROWS RATE SECONDS]
#                                            PostgreSQL's own commit latency at a fixed rate: in
#                                            URL's database (its raw_* tables dropped and set up
#                                            again as by schema),
#                                            RATE transactions/s of ROWS rows (default 59 rows at
#                                            420/s, the group commits of a live run at 10,000
#                                            events/s) from 2 clients for SECONDS (default 65);
#                                            prints p50/p99/p999/max from the scheduled start
#                                            (pgbench -R, so a stall counts for every transaction
#                                            it held up) and the seconds with commits over 50 ms
#
# One transaction (pgbench -M simple, so every transaction sends its rows as text, as a client
# would): ROWS rows of about 600 bytes each (the size of a stored event line), each for one of
# 1,000 merchants drawn at random (bench-m-1000 ... bench-m-1999), with a unique event id, into a
# table with a primary key on (merchant_id, event_id) in collation C; in the same statement, every
# merchant the rows touch gets its head advanced by its number of rows (one upsert, merchants in
# sorted order so concurrent transactions cannot deadlock). synchronous_commit is the server's.
set -euo pipefail

case ${1:-} in
schema)
    psql -X -w -q -v ON_ERROR_STOP=1 "$2" <<'SQL'
CREATE TABLE raw_heads (
    merchant_id text COLLATE "C" PRIMARY KEY,
    head_seq    bigint NOT NULL DEFAULT 0
);
CREATE TABLE raw_events (
    merchant_id text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    ingested_at timestamptz NOT NULL,
    body        text NOT NULL,
    PRIMARY KEY (merchant_id, event_id)
);
INSERT INTO raw_heads (merchant_id) SELECT 'bench-m-' || i FROM generate_series(1000, 1999) AS i;
SQL
    ;;
script)
    rows=$2 file=$3
    [[ $rows =~ ^[0-9]+$ ]] && ((rows >= 1 && rows <= 5000)) || { echo "ROWS must be 1-5000" >&2; exit 2; }
    {
        for i in $(seq 1 "$rows"); do echo "\\set m$i random(1000, 1999)"; done
        echo "\\set e random(1, 1000000000000)"
        printf 'WITH r(m, e, b) AS (VALUES\n'
        for i in $(seq 1 "$rows"); do
            ((i == 1)) || printf ',\n'
            # About 600 bytes, shaped like a stored event line (perf's EventFactory data).
            printf "('bench-m-:m%d', 'evt-:client_id-:e-%d', " "$i" "$i"
            printf '%s' "'{\"seq\":$((1000 + i)),\"ingestedAt\":\"2026-11-30T07:00:00.000Z\",\"eventId\":\"evt-:client_id-:e-$i\","
            printf '%s' "\"orderId\":\"ord-:e-$i\",\"type\":\"order.paid\",\"occurredAt\":\"2026-11-30T06:59:59.950Z\","
            printf '%s' "\"data\":{\"buyer\":{\"id\":\"b-$((400000 + i))\",\"name\":\"Buyer $i\",\"phone\":\"+86-13812345$((100 + i % 900))\"},"
            printf '%s' "\"receiver\":{\"name\":\"王小明\",\"mobile\":\"13987654$((100 + i % 900))\",\"address\":\"浙江省杭州市西湖区文三路 $i 号\"},"
            printf '%s' "\"items\":[{\"sku\":\"SKU-10022-BLK-M\",\"qty\":2,\"price\":$((1999 + i))},{\"sku\":\"SKU-33104-RED-S\",\"qty\":1,\"price\":1499}],"
            printf '%s' "\"amount\":{\"total\":$((5497 + 2 * i)),\"currency\":\"CNY\"},\"payment\":{\"method\":\"alipay\",\"txn\":\"T20261130$((100000 + i))\"},\"shipping\":{\"city\":\"Hangzhou\",\"zip\":\"310012\"}}}')"
        done
        printf '\n), ins AS (\n'
        printf '  INSERT INTO raw_events (merchant_id, event_id, ingested_at, body) SELECT m, e, now(), b FROM r\n'
        printf ')\nINSERT INTO raw_heads AS h (merchant_id, head_seq)\n'
        printf 'SELECT m, count(*) FROM r GROUP BY m ORDER BY m\n'
        printf 'ON CONFLICT (merchant_id) DO UPDATE SET head_seq = h.head_seq + EXCLUDED.head_seq;\n'
    } >"$file"
    ;;
latency)
    [[ $# -ge 2 ]] || { sed -n '2,24p' "$0" >&2; exit 2; }
    url=$2 rows=${3:-59} rate=${4:-420} secs=${5:-65}
    [[ $rows =~ ^[0-9]+$ && $rate =~ ^[0-9]+$ && $secs =~ ^[0-9]+$ ]] ||
        { echo "ROWS, RATE and SECONDS must be numbers" >&2; exit 2; }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$0" script "$rows" "$work/tx.sql"
    psql -X -w -q -v ON_ERROR_STOP=1 "$url" -c "DROP TABLE IF EXISTS raw_events, raw_heads"
    "$0" schema "$url"
    if ! (cd "$work" && pgbench -n -M simple -c 2 -j 1 -R "$rate" -T "$secs" -l --log-prefix="$work/log" \
        -f "$work/tx.sql" "$url" >"$work/pgbench.out" 2>&1); then
        cat "$work/pgbench.out" >&2
        echo "pgbench failed" >&2
        exit 1
    fi
    grep -E "^tps|schedule lag" "$work/pgbench.out" || true
    # pgbench's log: client, tx, latency (us, from the scheduled start), script, epoch s, us
    cat "$work"/log.* | awk '{print $3}' | sort -n | awk '{ a[NR] = $1 } END {
        printf "transactions %d: p50 %.1f ms, p99 %.1f ms, p999 %.1f ms, max %.1f ms\n",
            NR, a[int(NR * 0.5)] / 1000, a[int(NR * 0.99)] / 1000, a[int(NR * 0.999)] / 1000, a[NR] / 1000 }'
    echo "seconds with commits over 50 ms (UTC, how many):" \
        "$(cat "$work"/log.* | awk '$3 > 50000 { c[$5]++ } END { for (k in c) print k, c[k] }' | sort -n |
            while read -r t c; do printf '%s %s; ' "$(date -u -d "@$t" +%T)" "$c"; done)"
    ;;
*)
    sed -n '2,24p' "$0" >&2
    exit 2
    ;;
esac
