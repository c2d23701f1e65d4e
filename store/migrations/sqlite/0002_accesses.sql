-- Raceway store, SQLite schema version 2: the accesses of completed traces, for the audit trail.
--
-- One row per access (the event id), with every field of raceway_schemas::Access. A trace
-- re-analysed after a late event writes its accesses again; the newer row replaces the older one
-- (INSERT OR REPLACE), so the clocks and lock sets are those of the latest analysis.

CREATE TABLE IF NOT EXISTS accesses
(
    event_id TEXT PRIMARY KEY NOT NULL,
    trace_id TEXT NOT NULL,
    timestamp_ns INTEGER NOT NULL,
    environment TEXT NOT NULL,
    variable TEXT NOT NULL,
    access_type TEXT NOT NULL,
    location TEXT NOT NULL,
    -- JSON text of the value read or written, and of the value before a write (NULL: unknown).
    value TEXT NOT NULL,
    old_value TEXT,
    service TEXT NOT NULL,
    instance TEXT NOT NULL,
    thread TEXT NOT NULL,
    -- JSON array of [component, counter], sorted by component.
    clock TEXT NOT NULL,
    trusted_clock INTEGER NOT NULL,
    -- JSON array of [lock_id, mode] with mode "exclusive" or "shared".
    locks TEXT NOT NULL,
    trace_start_ns INTEGER NOT NULL,
    trace_end_ns INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS accesses_variable_time ON accesses (variable, timestamp_ns, event_id);
CREATE INDEX IF NOT EXISTS accesses_trace_variable ON accesses (trace_id, variable);

-- GET /api/races filters findings by variable and orders them by time.
CREATE INDEX IF NOT EXISTS findings_variable ON findings (variable);
