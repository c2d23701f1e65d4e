-- Raceway store, ClickHouse schema version 4: what the Grafana dashboards (deploy/grafana/) read.
-- Valid on ClickHouse 18.16 and current ClickHouse (see 0001_init.sql).
--
-- The tables store times as nanosecond integers, which Grafana's time macros cannot filter on,
-- and keep several versions of a row until merges drop the old ones. Dashboards therefore read
-- the objects below, which carry DateTime columns and keep only the current version of each row:
--
-- * `events_per_minute`: events and traces per minute, environment and service, as
--   `uniqExactState` of their ids. A replayed event adds its id to a set that already holds it,
--   so the merged counts stay exact under replays (a counting trigger would double them).
--   Read with `uniqExactMerge(events)` / `uniqExactMerge(traces)` and GROUP BY.
-- * `trace_services`: the set of (trace, environment, service) seen in events, one row each
--   after merges (read with DISTINCT): gives traces, calls and anomalies, which the analyses
--   store without them, an environment and a service to filter on.
-- * `grafana_findings`, `grafana_traces`, `grafana_service_calls`, `grafana_anomalies`: plain
--   views over the current version of each finding and trace analysis (the same rules as the
--   store's reads), with `time` as a DateTime.
--
-- Buckets use toStartOfMinute or intDiv: 18.16 has no toStartOfInterval (Grafana's
-- `$__timeInterval`).

CREATE TABLE IF NOT EXISTS events_per_minute
(
    minute DateTime,
    environment String,
    service String,
    events AggregateFunction(uniqExact, UUID),
    traces AggregateFunction(uniqExact, UUID)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(minute)
ORDER BY (environment, service, minute);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_per_minute_mv TO events_per_minute AS
SELECT toStartOfMinute(toDateTime(intDiv(timestamp_ns, 1000000000))) AS minute,
       environment,
       service,
       uniqExactState(id) AS events,
       uniqExactState(trace_id) AS traces
FROM events
GROUP BY minute, environment, service;

-- The events stored before this migration. Adding ids to sets is idempotent, so rows the view
-- above already saw are harmless.
INSERT INTO events_per_minute
SELECT toStartOfMinute(toDateTime(intDiv(timestamp_ns, 1000000000))) AS minute,
       environment,
       service,
       uniqExactState(id) AS events,
       uniqExactState(trace_id) AS traces
FROM events
GROUP BY minute, environment, service;

CREATE TABLE IF NOT EXISTS trace_services
(
    day Date,
    trace_id String,
    environment String,
    service String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (trace_id, environment, service);

CREATE MATERIALIZED VIEW IF NOT EXISTS trace_services_mv TO trace_services AS
SELECT toDate(toDateTime(intDiv(min(timestamp_ns), 1000000000))) AS day,
       toString(trace_id) AS trace_id,
       environment,
       service
FROM events
GROUP BY trace_id, environment, service;

INSERT INTO trace_services
SELECT toDate(toDateTime(intDiv(min(timestamp_ns), 1000000000))) AS day,
       toString(trace_id) AS trace_id,
       environment,
       service
FROM events
GROUP BY trace_id, environment, service;

-- The current version of each finding that is not retracted; `time` is the earlier event's.
CREATE VIEW IF NOT EXISTS grafana_findings AS
SELECT id,
       kind,
       environment,
       variable,
       severity,
       severity_rank,
       occurrences,
       explanation,
       first_trace_id AS trace_id,
       second_trace_id,
       first_service AS service,
       second_service,
       first_location,
       second_location,
       toDateTime(intDiv(least(first_timestamp_ns, second_timestamp_ns), 1000000000)) AS time,
       toDateTime(intDiv(detected_at_ns, 1000000000)) AS detected_at
FROM findings
WHERE (id, version) IN (SELECT id, max(version) FROM findings GROUP BY id)
  AND occurrences > 0
LIMIT 1 BY id;

-- The current analysis of each trace, once per service of the trace; `time` is its start.
CREATE VIEW IF NOT EXISTS grafana_traces AS
SELECT trace_id, environment, service, time, duration_ms, event_count, critical_path_ms,
       isolation_score
FROM
(
    SELECT trace_id,
           toDateTime(intDiv(start_ns, 1000000000)) AS time,
           duration_ns / 1000000 AS duration_ms,
           event_count,
           critical_path_ns / 1000000 AS critical_path_ms,
           isolation_score
    FROM trace_analyses
    ORDER BY trace_id, version DESC
    LIMIT 1 BY trace_id
)
ALL INNER JOIN (SELECT DISTINCT trace_id, environment, service FROM trace_services) USING trace_id;

-- The calls between services of each trace's current analysis.
CREATE VIEW IF NOT EXISTS grafana_service_calls AS
SELECT id, trace_id, environment, caller_service, callee_service, kind, latency_ms, is_error, time
FROM
(
    SELECT id,
           trace_id,
           caller_service,
           callee_service,
           kind,
           latency_ns / 1000000 AS latency_ms,
           is_error,
           toDateTime(intDiv(timestamp_ns, 1000000000)) AS time
    FROM service_calls
    WHERE (trace_id, version) IN (SELECT trace_id, max(version) FROM trace_analyses GROUP BY trace_id)
    LIMIT 1 BY id
)
ANY LEFT JOIN (SELECT DISTINCT trace_id, environment FROM trace_services) USING trace_id;

-- The duration anomalies of each trace's current analysis; `time` is the trace's start.
CREATE VIEW IF NOT EXISTS grafana_anomalies AS
SELECT id, trace_id, event_id, environment, service, kind, location, actual_ms, expected_ms,
       deviations, severity, time
FROM
(
    SELECT id,
           trace_id,
           event_id,
           service,
           kind,
           location,
           actual_ns / 1000000 AS actual_ms,
           expected_ns / 1000000 AS expected_ms,
           deviations,
           severity,
           toDateTime(intDiv(timestamp_ns, 1000000000)) AS time
    FROM duration_anomalies
    WHERE (trace_id, version) IN (SELECT trace_id, max(version) FROM trace_analyses GROUP BY trace_id)
    LIMIT 1 BY id
)
ANY LEFT JOIN (SELECT DISTINCT trace_id, environment FROM trace_services) USING trace_id;
