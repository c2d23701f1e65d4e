#!/usr/bin/env bash
# ClickHouse's own CPU per stored event, with and without each materialized view on `events_in`
# (the Null table writers insert into; `events_in_events_mv` fills `events` in every variant).
#
# Copies the schema of a database the pipeline bench filled (default `chapi_bench`, from
# `RACEWAY_BENCH_DATABASE=chapi_bench RACEWAY_BENCH_PARTS=kafka-large cargo bench --bench pipeline`)
# into a scratch database, exports ROWS of its events in RowBinary (the store's insert format),
# then inserts them in one INSERT per variant and reads the query's CPU from system.query_log
# (UserTimeMicroseconds + SystemTimeMicroseconds: the views' work is counted, later merges are
# not). The scratch database is dropped at the end.
#
#   benches/clickhouse_insert_cost.sh [SOURCE_DB] [ROWS]
set -euo pipefail
CH=${RACEWAY_TEST_CLICKHOUSE:-http://127.0.0.1:8123}/
SOURCE=${1:-chapi_bench}
ROWS=${2:-200000}
SCRATCH=insert_cost_scratch
VIEWS=(events_in_events_mv events_in_by_trace_mv events_in_per_minute_mv events_in_trace_services_mv
  events_in_trace_summaries_mv)
TABLES=(events_in events events_by_trace events_per_minute trace_services trace_summaries)
work=$(mktemp -d)
trap 'rm -rf "$work"; q "DROP DATABASE IF EXISTS $SCRATCH" >/dev/null' EXIT

q() { curl -sS --fail "$CH" --data-binary "$1"; }
# SHOW CREATE as runnable SQL in the scratch database.
ddl() {
  curl -sS --fail "$CH?query=SHOW+CREATE+TABLE+$SOURCE.$1" |
    sed "s/\\\\n/ /g; s/\\\\'/'/g; s/$SOURCE\\./$SCRATCH./g"
}

q "DROP DATABASE IF EXISTS $SCRATCH"
q "CREATE DATABASE $SCRATCH"
for t in "${TABLES[@]}"; do q "$(ddl "$t")"; done
for v in "${VIEWS[@]}"; do ddl "$v" >"$work/$v.sql"; done
# The payload is stored in `events_by_trace` only (migration 0008).
q "SELECT id, trace_id, parent_id, timestamp_ns, kind, service, instance_id, thread_id, environment,
          variable, access_type, payload
   FROM $SOURCE.events ANY INNER JOIN (SELECT id, payload FROM $SOURCE.events_by_trace) USING id
   LIMIT $ROWS FORMAT RowBinary" >"$work/rows.bin"

run() { # run LABEL VIEW...
  local label=$1 id
  shift
  # events_in (first) keeps nothing.
  for t in "${TABLES[@]:1}"; do q "TRUNCATE TABLE $SCRATCH.$t"; done
  for v in "${VIEWS[@]}"; do q "DROP TABLE IF EXISTS $SCRATCH.$v"; done
  for v in "$@"; do q "$(cat "$work/$v.sql")"; done
  id="insert-cost-$label-$RANDOM$RANDOM"
  curl -sS --fail "$CH?log_queries=1&query_id=$id&query=INSERT+INTO+$SCRATCH.events_in+FORMAT+RowBinary" \
    --data-binary @"$work/rows.bin"
  q "SYSTEM FLUSH LOGS"
  q "SELECT '$label', query_duration_ms AS ms,
            round((ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')]
                 + ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')])
                 / $ROWS, 1) AS cpu_us_per_event
     FROM system.query_log WHERE query_id = '$id' AND type = 2"
}

echo -e "views\tms\tCPU µs per event"
run events_only events_in_events_mv
run by_trace events_in_events_mv events_in_by_trace_mv
run others events_in_events_mv events_in_per_minute_mv events_in_trace_services_mv \
  events_in_trace_summaries_mv
run all "${VIEWS[@]}"
