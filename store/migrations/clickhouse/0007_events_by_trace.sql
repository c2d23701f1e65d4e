-- Raceway store, ClickHouse schema version 7: each trace's events in small granules.
-- Valid on ClickHouse 18.16 and current ClickHouse (see 0001_init.sql).
--
-- `events` has ClickHouse's default granularity (8,192 rows per mark), and the payload column
-- is decompressed a granule at a time, so reading one trace of 500 events read about 25,000
-- rows (14 MB) of payloads: one granule or more per part holding the trace. `events_by_trace`
-- holds what the reads by trace need (key, time, payload) in granules of 256 rows, filled by
-- the view below within every insert into `events` (an event is readable here as soon as the
-- insert that wrote it returns). It plays the part of a projection ordered by trace, which
-- 18.16 lacks; the payloads are stored twice (compressed), the price of reading one trace's
-- rows instead of its granules' neighbours. Rows are deduplicated at read time like `events`
-- (`LIMIT 1 BY id`, `uniqExact(id)`), so the backfill below and replays are harmless.
-- Partitioned by the event's day like `events`: `raceway prune` drops the same days.

CREATE TABLE IF NOT EXISTS events_by_trace (trace_id UUID, id UUID, timestamp_ns Int64, payload String)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ns, 1000000000)))
ORDER BY (trace_id, id) SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_by_trace_mv TO events_by_trace AS
SELECT trace_id, id, timestamp_ns, payload FROM events;

-- The events stored before this migration (after the view exists, so none is missed).
INSERT INTO events_by_trace SELECT trace_id, id, timestamp_ns, payload FROM events;
