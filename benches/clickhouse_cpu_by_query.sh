#!/usr/bin/env bash
# ClickHouse's CPU by query kind over a time window, from system.query_log: which inserts and
# reads a pipeline run costs the server (merges and other background work are not queries: the
# server's CPU from /proc minus this table's total is theirs).
#
# Only queries sent with `log_queries=1` are logged: run the pipeline bench with
# `RACEWAY_BENCH_CLICKHOUSE_SETTINGS=log_queries=1` (its processes then connect to
# `http://host:8123/?log_queries=1`), note the window of the part to break down, then
#
#   benches/clickhouse_cpu_by_query.sh 'YYYY-MM-DD hh:mm:ss' 'YYYY-MM-DD hh:mm:ss' [EVENTS]
#
# Kinds: `INSERT INTO table` (its materialized views' work included), other statements by their
# first 90 characters with literals replaced. EVENTS (optional) adds a CPU µs per event column.
set -euo pipefail
CH=${RACEWAY_TEST_CLICKHOUSE:-http://127.0.0.1:8123}/
SINCE=$1
UNTIL=$2
EVENTS=${3:-0}
curl -sS --fail "$CH" --data-binary "SYSTEM FLUSH LOGS" >/dev/null
curl -sS --fail "$CH" --data-binary "
SELECT kind,
       count() AS queries,
       round(sum(cpu_us) / 1e6, 2) AS cpu_s,
       round(100 * sum(cpu_us) / (SELECT sum(cpu) FROM (SELECT
           ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')]
         + ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')] AS cpu
           FROM system.query_log
           WHERE type = 2 AND event_time BETWEEN toDateTime('$SINCE') AND toDateTime('$UNTIL')
             AND has(Settings.Names, 'log_queries'))), 1) AS share_pct,
       if($EVENTS > 0, round(sum(cpu_us) / $EVENTS, 2), 0) AS us_per_event,
       sum(written_rows) AS rows_written,
       sum(read_rows) AS rows_read,
       round(avg(query_duration_ms), 1) AS avg_ms
FROM
(
    SELECT if(query LIKE 'INSERT INTO%', extract(query, '^INSERT INTO [^ (]+'),
              substring(replaceRegexpAll(replaceRegexpAll(replaceRegexpAll(query,
                  '\\'[^\\']*\\'', '?'), '[0-9]+', 'N'), '[[:space:]]+', ' '), 1, 90)) AS kind,
           ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')]
         + ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')] AS cpu_us,
           written_rows, read_rows, query_duration_ms
    FROM system.query_log
    WHERE type = 2 AND event_time BETWEEN toDateTime('$SINCE') AND toDateTime('$UNTIL')
      AND has(Settings.Names, 'log_queries')
)
GROUP BY kind
ORDER BY cpu_s DESC
FORMAT PrettyCompactMonoBlock"
