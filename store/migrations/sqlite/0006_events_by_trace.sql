-- Events keyed by trace, with a compact payload and only the columns queries read.
--
-- Before: the primary key on the event id (a random UUID) spread each batch's inserts over the
-- whole index, so every commit rewrote more pages as the data grew; beside it an index on
-- (trace_id, timestamp_ns, id). Now one unique index on (trace_id, id) does both jobs (the
-- first copy of an id wins; a trace's events are one range of it), and the rows are in the
-- order they were written. The columns nothing filters on (parent_id, instance_id, thread_id,
-- variable, access_type) are dropped: the payload holds them. The payloads are converted to
-- the compact encoding by the store's migrator right after this file (see
-- `sqlite::payload`), in the same transaction.
CREATE TABLE events_by_trace
(
    trace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    timestamp_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    -- The event, compact (BLOB: LZ4 of a framed Avro `raceway.EventBatch` of this one event
    -- without its ids, see `sqlite::payload`), or Raceway JSON (TEXT) where Avro cannot carry it.
    payload BLOB NOT NULL
);

INSERT INTO events_by_trace (trace_id, id, timestamp_ns, kind, service, environment, payload)
SELECT trace_id, id, timestamp_ns, kind, service, environment, payload
FROM events
ORDER BY trace_id, timestamp_ns, id;

DROP TABLE events;
ALTER TABLE events_by_trace RENAME TO events;

CREATE UNIQUE INDEX events_trace_id ON events (trace_id, id);
-- Retention and the services' time windows.
CREATE INDEX events_time ON events (timestamp_ns);
-- The services' counts and trace lists (`WHERE service = ?`, grouped by trace).
CREATE INDEX events_service_trace ON events (service, trace_id);
