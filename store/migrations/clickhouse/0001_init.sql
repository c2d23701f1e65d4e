-- Raceway store, ClickHouse schema version 1.
--
-- Valid on ClickHouse 18.16 and on current ClickHouse (24.x+): no DateTime64, Map, TTL or
-- data-skipping indexes. Names are unqualified: the store runs these statements with its database
-- selected. Every statement is idempotent (IF NOT EXISTS).
--
-- Rows are deduplicated at query time (FINAL, or max(version) per id), never by counters kept at
-- insert time, so replaying inserts is harmless (DESIGN.md "Processing guarantees").

-- One row per event. The full event is `payload` (Raceway JSON); the other columns are for
-- filtering and for Grafana. Partitioned by the event's day (UTC) so that duplicates of an event,
-- which have the same timestamp, meet in one partition and are merged; old days are dropped by
-- `raceway prune`.
CREATE TABLE IF NOT EXISTS events
(
    id UUID,
    trace_id UUID,
    parent_id Nullable(UUID),
    timestamp_ns Int64,
    kind String,
    service String,
    instance_id String,
    thread_id String,
    environment String,
    variable String,
    access_type String,
    payload String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ns, 1000000000)))
ORDER BY (trace_id, id);

-- One row per version of a finding; the row with the largest `version` (= detected_at_ns, clamped
-- at 0) is the finding. Trace ids are stored in hyphenated lowercase form when they are UUIDs.
-- Partitioned by the day of the earlier of the two events, which is stable for a finding's
-- versions in practice; queries do not rely on it (they pick max(version) per id).
CREATE TABLE IF NOT EXISTS findings
(
    id String,
    kind String,
    environment String,
    variable String,
    severity String,
    severity_rank UInt8,
    occurrences UInt64,
    explanation String,
    first_event_id String,
    first_trace_id String,
    first_thread_id String,
    first_service String,
    first_instance String,
    first_location String,
    first_access_type String,
    first_timestamp_ns Int64,
    first_clock_components Array(String),
    first_clock_counters Array(UInt64),
    second_event_id String,
    second_trace_id String,
    second_thread_id String,
    second_service String,
    second_instance String,
    second_location String,
    second_access_type String,
    second_timestamp_ns Int64,
    second_clock_components Array(String),
    second_clock_counters Array(UInt64),
    detected_at_ns Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(toDateTime(intDiv(least(first_timestamp_ns, second_timestamp_ns), 1000000000)))
ORDER BY id;
