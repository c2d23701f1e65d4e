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
-- before.
--
-- Writers of the previous version still insert into `events` during a rolling upgrade (a
-- processor of the group not yet restarted). Their rows must still reach `events_by_trace`
-- and the summaries, or a read by trace would miss events that were acknowledged as stored.
-- So the views of 0004, 0006 and 0007 on `events` are replaced by views that take only rows
-- with a payload: an old writer's rows always have one, and the rows the views of `events_in`
-- write into `events` never do, so on a ClickHouse that runs the views of a table a view
-- writes into (18.16 does not, current versions do) nothing is counted or stored twice.
-- The new views are created before the old ones are dropped, under new names: an old
-- writer's insert in between passes through both, which `events_by_trace` (read with
-- `LIMIT 1 BY` id, merged by id) and the summaries (exact sets of ids, services, times)
-- absorb, where a gap would have lost it. A second process running this migration at once
-- drops nothing it created.

-- The columns of `events`, as writers send them.
CREATE TABLE IF NOT EXISTS events_in AS events ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_in_events_mv TO events AS
SELECT id, trace_id, parent_id, timestamp_ns, kind, service, instance_id, thread_id,
       environment, variable, access_type, '' AS payload
FROM events_in;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_in_by_trace_mv TO events_by_trace AS
SELECT trace_id, id, timestamp_ns, payload FROM events_in;

-- The three views below restate those of 0004 and 0006 over `events_in`: 18.16 does not run the
-- views of a table that a view writes into, so they cannot be left to the views of `events`.
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

-- Rows of writers of the previous version, inserted into `events` with their payload.
CREATE MATERIALIZED VIEW IF NOT EXISTS events_paid_by_trace_mv TO events_by_trace AS
SELECT trace_id, id, timestamp_ns, payload FROM events WHERE payload != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS events_paid_per_minute_mv TO events_per_minute AS
SELECT toStartOfMinute(toDateTime(intDiv(timestamp_ns, 1000000000))) AS minute, environment, service,
       uniqExactState(id) AS events, uniqExactState(trace_id) AS traces
FROM events WHERE payload != '' GROUP BY minute, environment, service;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_paid_trace_services_mv TO trace_services AS
SELECT toDate(toDateTime(intDiv(min(timestamp_ns), 1000000000))) AS day,
       toString(trace_id) AS trace_id, environment, service
FROM events WHERE payload != '' GROUP BY trace_id, environment, service;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_paid_trace_summaries_mv TO trace_summaries AS
SELECT toYYYYMMDD(toDateTime(intDiv(timestamp_ns, 1000000000))) AS day, trace_id,
       uniqExactState(id) AS events, groupUniqArrayState(service) AS services,
       groupUniqArrayState(environment) AS environments, minState(timestamp_ns) AS first_ts,
       maxState(timestamp_ns) AS last_ts
FROM events WHERE payload != '' GROUP BY day, trace_id;

-- Only now the views that took every row of `events`, payload or not.
DROP TABLE IF EXISTS events_by_trace_mv;
DROP TABLE IF EXISTS events_per_minute_mv;
DROP TABLE IF EXISTS trace_services_mv;
DROP TABLE IF EXISTS trace_summaries_mv;
