-- Raceway store, SQLite schema version 1 (the embedded default).
--
-- Primary keys on the deterministic ids make replays harmless: events are inserted with
-- INSERT OR IGNORE, findings upserted keeping the largest detected_at_ns. Counts are computed at
-- query time.

-- One row per event. The full event is `payload` (Raceway JSON); the other columns are for
-- filtering. Ids are hyphenated lowercase UUIDs, so text order is UUID order.
CREATE TABLE IF NOT EXISTS events
(
    id TEXT PRIMARY KEY NOT NULL,
    trace_id TEXT NOT NULL,
    parent_id TEXT,
    timestamp_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    service TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    variable TEXT NOT NULL,
    access_type TEXT NOT NULL,
    payload TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS events_trace_time ON events (trace_id, timestamp_ns, id);
CREATE INDEX IF NOT EXISTS events_time ON events (timestamp_ns);
CREATE INDEX IF NOT EXISTS events_service_trace ON events (service, trace_id);

-- One row per finding (the newest version). Clocks are JSON arrays of [component, counter].
CREATE TABLE IF NOT EXISTS findings
(
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    environment TEXT NOT NULL,
    variable TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    occurrences INTEGER NOT NULL,
    explanation TEXT NOT NULL,
    first_event_id TEXT NOT NULL,
    first_trace_id TEXT NOT NULL,
    first_thread_id TEXT NOT NULL,
    first_service TEXT NOT NULL,
    first_instance TEXT NOT NULL,
    first_location TEXT NOT NULL,
    first_access_type TEXT NOT NULL,
    first_timestamp_ns INTEGER NOT NULL,
    first_clock TEXT NOT NULL,
    second_event_id TEXT NOT NULL,
    second_trace_id TEXT NOT NULL,
    second_thread_id TEXT NOT NULL,
    second_service TEXT NOT NULL,
    second_instance TEXT NOT NULL,
    second_location TEXT NOT NULL,
    second_access_type TEXT NOT NULL,
    second_timestamp_ns INTEGER NOT NULL,
    second_clock TEXT NOT NULL,
    detected_at_ns INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS findings_first_trace ON findings (first_trace_id);
CREATE INDEX IF NOT EXISTS findings_second_trace ON findings (second_trace_id);
