-- Raceway store, ClickHouse schema version 8: each event's payload stored once.
-- Valid on ClickHouse 18.16 and current ClickHouse (see 0001_init.sql).
--
-- Writers insert into `events_in`, which keeps nothing (Null engine): the views below fan each
-- inserted block out, within the insert, to `events` (every column but the payload, which is
-- stored empty), `events_by_trace` (the payload, the only copy read) and the three tables kept
-- for the trace list and Grafana. Until this version every payload was written, compressed and
-- rewritten by merges twice, once in `events`, where no read used it; that copy was about a
-- third of what ClickHouse spent storing an event and merging it. An insert still fills every
-- table or fails as a whole, and is retried as a whole, as before.
--
-- Rows stored before this version keep their payload in both tables: every read of a payload
-- goes to `events_by_trace`, which 0007 filled with every earlier event, so they read as
-- before. The views of 0004, 0006 and 0007 watched `events`; they are replaced by the views
-- below under new names, so a second process running this migration at once drops nothing it
-- created. A writer of an earlier version inserting into `events` after this migration would
-- store rows that no read by trace finds: upgrade the writers with the schema.

-- The columns of `events`, as writers send them.
CREATE TABLE IF NOT EXISTS events_in AS events ENGINE = Null;

DROP TABLE IF EXISTS events_by_trace_mv;
DROP TABLE IF EXISTS events_per_minute_mv;
DROP TABLE IF EXISTS trace_services_mv;
DROP TABLE IF EXISTS trace_summaries_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_in_events_mv TO events AS
SELECT id, trace_id, parent_id, timestamp_ns, kind, service, instance_id, thread_id,
       environment, variable, access_type, '' AS payload
FROM events_in;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_in_by_trace_mv TO events_by_trace AS
SELECT trace_id, id, timestamp_ns, payload FROM events_in;

-- The three views below restate those of 0004 and 0006 over `events_in`: 18.16 does not run the
-- views of a table that a view writes into, so they cannot stay on `events`.
CREATE MATERIALIZED VIEW IF NOT EXISTS events_in_per_minute_mv TO events_per_minute AS
SELECT toStartOfMinute(toDateTime(intDiv(timestamp_ns, 1000000000))) AS minute, environment, service,
       uniqExactState(id) AS events, uniqExactState(trace_id) AS traces
FROM events_in GROUP BY minute, environment, service;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_in_trace_services_mv TO trace_services AS
SELECT toDate(toDateTime(intDiv(min(timestamp_ns), 1000000000))) AS day,
       toString(trace_id) AS trace_id, environment, service
FROM events_in GROUP BY trace_id, environment, service;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_in_trace_summaries_mv TO trace_summaries AS
SELECT toYYYYMMDD(toDateTime(intDiv(timestamp_ns, 1000000000))) AS day, trace_id,
       uniqExactState(id) AS events, groupUniqArrayState(service) AS services,
       groupUniqArrayState(environment) AS environments, minState(timestamp_ns) AS first_ts,
       maxState(timestamp_ns) AS last_ts
FROM events_in GROUP BY day, trace_id;
