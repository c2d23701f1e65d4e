-- Accesses keyed by trace, as events are since version 6.
--
-- Before: the primary key on the event id (a random UUID) spread each batch's inserts over the
-- whole key index, so every commit rewrote about every page of it once the table held more
-- accesses than a batch (at 500,000 accesses, some 8,000 pages per commit of 25,000 rows), and
-- beside it an index on (trace_id, variable). Now one unique index on (trace_id, variable,
-- event_id) does both jobs: an access is still kept once per event (its trace and variable
-- are its event's, so the key is as unique as the id; a re-analysis replaces the row), a
-- trace's accesses of a variable are one range of it, and a batch's inserts land in its
-- traces' ranges only. The rows are in the order they were written.
-- The columns of version 2, unchanged (see its file for what each holds); no key of its own.
CREATE TABLE accesses_by_trace
(
    event_id TEXT NOT NULL, trace_id TEXT NOT NULL, timestamp_ns INTEGER NOT NULL,
    environment TEXT NOT NULL, variable TEXT NOT NULL, access_type TEXT NOT NULL,
    location TEXT NOT NULL, value TEXT NOT NULL, old_value TEXT, service TEXT NOT NULL,
    instance TEXT NOT NULL, thread TEXT NOT NULL, clock TEXT NOT NULL,
    trusted_clock INTEGER NOT NULL, locks TEXT NOT NULL, trace_start_ns INTEGER NOT NULL,
    trace_end_ns INTEGER NOT NULL
);

INSERT INTO accesses_by_trace (event_id, trace_id, timestamp_ns, environment, variable,
    access_type, location, value, old_value, service, instance, thread, clock, trusted_clock,
    locks, trace_start_ns, trace_end_ns)
SELECT event_id, trace_id, timestamp_ns, environment, variable, access_type, location, value,
       old_value, service, instance, thread, clock, trusted_clock, locks, trace_start_ns,
       trace_end_ns
FROM accesses
ORDER BY trace_id, variable, event_id;

DROP TABLE accesses;
ALTER TABLE accesses_by_trace RENAME TO accesses;

CREATE UNIQUE INDEX accesses_trace_variable_event ON accesses (trace_id, variable, event_id);
-- GET /api/accesses: a variable's accesses in time order.
CREATE INDEX accesses_variable_time ON accesses (variable, timestamp_ns, event_id);
