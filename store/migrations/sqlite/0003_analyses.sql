-- Raceway store, SQLite schema version 3: the trace analyses (issue #4) and the state the trace
-- stage checkpoints.
--
-- One analysis of a trace replaces, in one transaction, the trace's summary, calls and
-- anomalies (deleted and rewritten), so a re-analysis keeps only its latest results and a
-- replay writes the same rows again (primary keys on the deterministic ids).

CREATE TABLE IF NOT EXISTS trace_analyses
(
    trace_id TEXT PRIMARY KEY NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    critical_path_ns INTEGER NOT NULL,
    critical_path_share REAL NOT NULL,
    -- JSON text of the trace's model features.
    features TEXT NOT NULL,
    -- The scores, NULL before a model exists.
    model_version INTEGER,
    isolation_score REAL,
    cluster_id INTEGER,
    centroid_distance REAL,
    relative_distance REAL,
    analyzed_at_ns INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS trace_analyses_end ON trace_analyses (end_ns);

CREATE TABLE IF NOT EXISTS service_calls
(
    id TEXT PRIMARY KEY NOT NULL,
    trace_id TEXT NOT NULL,
    caller_service TEXT NOT NULL,
    callee_service TEXT NOT NULL,
    kind TEXT NOT NULL,
    latency_ns INTEGER NOT NULL,
    is_error INTEGER NOT NULL,
    timestamp_ns INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS service_calls_trace ON service_calls (trace_id);
CREATE INDEX IF NOT EXISTS service_calls_time ON service_calls (timestamp_ns);

CREATE TABLE IF NOT EXISTS duration_anomalies
(
    id TEXT PRIMARY KEY NOT NULL,
    trace_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    actual_ns INTEGER NOT NULL,
    expected_ns INTEGER NOT NULL,
    deviations REAL NOT NULL,
    severity TEXT NOT NULL,
    baseline_samples INTEGER NOT NULL,
    flagged_steps INTEGER NOT NULL,
    timestamp_ns INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS duration_anomalies_trace ON duration_anomalies (trace_id);
CREATE INDEX IF NOT EXISTS duration_anomalies_time ON duration_anomalies (timestamp_ns, id);

-- Named checkpoints of processor state (duration baselines): the latest write wins.
CREATE TABLE IF NOT EXISTS checkpoints
(
    name TEXT PRIMARY KEY NOT NULL,
    payload TEXT NOT NULL,
    version INTEGER NOT NULL
);

-- Versions of the trace models; the largest version is current. `clusters` is JSON text.
CREATE TABLE IF NOT EXISTS trace_models
(
    version INTEGER PRIMARY KEY NOT NULL,
    trained_at_ns INTEGER NOT NULL,
    trained_on INTEGER NOT NULL,
    clusters TEXT NOT NULL,
    payload TEXT NOT NULL
);
