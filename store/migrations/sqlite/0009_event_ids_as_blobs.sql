-- Event ids as their 16 bytes (BLOB) instead of their 36-character text, in events and accesses.
--
-- Before: every event's id was stored as hyphenated text in the row and in the unique key's
-- index, and every access's event id in its row and in both of its indexes; a commit wrote those
-- pages to the WAL and the checkpoint copied them again into the file. The bytes compare in the
-- order the lowercase text did (UUID order), so every `ORDER BY ... id` keeps its order. Trace
-- ids stay text: the other tables and the filters match them as text.
-- A stored id that is not a UUID's text (none written by the store) is kept as it was.
CREATE TABLE events_by_id_bytes
(
    trace_id TEXT NOT NULL,
    id BLOB NOT NULL,
    timestamp_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    -- As in version 6: the compact encoding (BLOB), or Raceway JSON (TEXT).
    payload BLOB NOT NULL
);

INSERT INTO events_by_id_bytes (trace_id, id, timestamp_ns, kind, service, environment, payload)
SELECT trace_id,
       CASE WHEN length(unhex(replace(id, '-', ''))) = 16 THEN unhex(replace(id, '-', ''))
            ELSE id END,
       timestamp_ns, kind, service, environment, payload
FROM events
ORDER BY rowid;

DROP TABLE events;
ALTER TABLE events_by_id_bytes RENAME TO events;

CREATE UNIQUE INDEX events_trace_id ON events (trace_id, id);
CREATE INDEX events_time ON events (timestamp_ns);
CREATE INDEX events_service_trace ON events (service, trace_id);

-- The columns of version 8, with the event id as bytes.
CREATE TABLE accesses_by_id_bytes
(
    event_id BLOB NOT NULL, trace_id TEXT NOT NULL, timestamp_ns INTEGER NOT NULL,
    environment TEXT NOT NULL, variable TEXT NOT NULL, access_type TEXT NOT NULL,
    location TEXT NOT NULL, value TEXT NOT NULL, old_value TEXT, service TEXT NOT NULL,
    instance TEXT NOT NULL, thread TEXT NOT NULL, clock TEXT NOT NULL,
    trusted_clock INTEGER NOT NULL, locks TEXT NOT NULL, trace_start_ns INTEGER NOT NULL,
    trace_end_ns INTEGER NOT NULL
);

INSERT INTO accesses_by_id_bytes (event_id, trace_id, timestamp_ns, environment, variable,
    access_type, location, value, old_value, service, instance, thread, clock, trusted_clock,
    locks, trace_start_ns, trace_end_ns)
SELECT CASE WHEN length(unhex(replace(event_id, '-', ''))) = 16
            THEN unhex(replace(event_id, '-', '')) ELSE event_id END,
       trace_id, timestamp_ns, environment, variable, access_type, location, value,
       old_value, service, instance, thread, clock, trusted_clock, locks, trace_start_ns,
       trace_end_ns
FROM accesses
ORDER BY rowid;

DROP TABLE accesses;
ALTER TABLE accesses_by_id_bytes RENAME TO accesses;

CREATE UNIQUE INDEX accesses_trace_variable_event ON accesses (trace_id, variable, event_id);
CREATE INDEX accesses_variable_time ON accesses (variable, timestamp_ns, event_id);
