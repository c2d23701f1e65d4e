-- One row per trace, kept by every write of events: the trace list reads these instead of
-- aggregating every stored event per request. `services` and `environments` are JSON arrays of
-- distinct, sorted names.
CREATE TABLE IF NOT EXISTS trace_summaries
(
    trace_id TEXT PRIMARY KEY NOT NULL,
    event_count INTEGER NOT NULL,
    services TEXT NOT NULL,
    environments TEXT NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL
);

-- The list's default order: newest first, then by id.
CREATE INDEX IF NOT EXISTS trace_summaries_time ON trace_summaries (first_ts DESC, trace_id);

-- Traces stored before this table existed.
INSERT OR IGNORE INTO trace_summaries (trace_id, event_count, services, environments, first_ts, last_ts)
SELECT trace_id,
       COUNT(*),
       (SELECT json_group_array(service) FROM
            (SELECT DISTINCT service FROM events s WHERE s.trace_id = e.trace_id ORDER BY service)),
       (SELECT json_group_array(environment) FROM
            (SELECT DISTINCT environment FROM events s WHERE s.trace_id = e.trace_id ORDER BY environment)),
       MIN(timestamp_ns),
       MAX(timestamp_ns)
FROM events e
GROUP BY trace_id;
