-- Raceway store, ClickHouse schema version 3: the trace analyses (issue #4) and the state the
-- trace stage checkpoints. Valid on ClickHouse 18.16 and current ClickHouse (see 0001_init.sql).
--
-- One analysis of a trace writes its summary, calls and anomalies with one `version` (the
-- store's write time, ns), the summary last. Reads keep, per trace, only the rows of the
-- summary's largest version (`(trace_id, version) IN (SELECT trace_id, max(version) ...)`), and
-- one row per id (`LIMIT 1 BY id`): a re-analysis replaces the previous results, a replay never
-- doubles a count. Ids are hyphenated lowercase text, so they sort as in SQLite.

-- One row per analysis of a trace. `features` is JSON text; the scores are NULL before a model
-- exists. Partitioned by the trace's first day.
CREATE TABLE IF NOT EXISTS trace_analyses
(
    trace_id String,
    start_ns Int64,
    end_ns Int64,
    duration_ns UInt64,
    event_count UInt64,
    critical_path_ns UInt64,
    critical_path_share Float64,
    features String,
    model_version Nullable(UInt64),
    isolation_score Nullable(Float64),
    cluster_id Nullable(UInt32),
    centroid_distance Nullable(Float64),
    relative_distance Nullable(Float64),
    analyzed_at_ns Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(toDateTime(intDiv(start_ns, 1000000000)))
ORDER BY trace_id;

-- One row per call between services, per analysis version.
CREATE TABLE IF NOT EXISTS service_calls
(
    id String,
    trace_id String,
    caller_service String,
    callee_service String,
    kind String,
    latency_ns UInt64,
    is_error UInt8,
    timestamp_ns Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ns, 1000000000)))
ORDER BY (caller_service, callee_service, id);

-- One row per duration anomaly, per analysis version. `timestamp_ns` is the trace's start.
CREATE TABLE IF NOT EXISTS duration_anomalies
(
    id String,
    trace_id String,
    event_id String,
    service String,
    kind String,
    location String,
    actual_ns UInt64,
    expected_ns UInt64,
    deviations Float64,
    severity String,
    baseline_samples UInt64,
    flagged_steps UInt32,
    timestamp_ns Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ns, 1000000000)))
ORDER BY (trace_id, id);

-- Named checkpoints of processor state that is not window bounded (duration baselines): the
-- row with the largest version is current.
CREATE TABLE IF NOT EXISTS checkpoints
(
    name String,
    payload String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;

-- Versions of the trace models; the largest version is current. `clusters` is JSON text.
CREATE TABLE IF NOT EXISTS trace_models
(
    version UInt64,
    trained_at_ns Int64,
    trained_on UInt64,
    clusters String,
    payload String
)
ENGINE = ReplacingMergeTree()
ORDER BY version;
