-- Raceway store, ClickHouse schema version 2: the accesses of completed traces, for the audit
-- trail. Valid on ClickHouse 18.16 and current ClickHouse (see 0001_init.sql).
--
-- One row per version of an access: every field of raceway_schemas::Access, the clock and the
-- lock set as parallel arrays. A trace re-analysed after a late event writes its accesses again
-- with a larger `version` (the store's insert time, ns); reads keep the largest version per
-- event id (LIMIT 1 BY), merges eventually do the same. Partitioned by the access's day (UTC):
-- the versions of an access have the same timestamp, so they meet in one partition. The sort key
-- starts with the variable, which every audit-trail query filters on; every column of it is fixed
-- for an event, so the rows of one access are merged together.
CREATE TABLE IF NOT EXISTS accesses
(
    event_id UUID,
    trace_id UUID,
    timestamp_ns Int64,
    environment String,
    variable String,
    access_type String,
    location String,
    value String,
    old_value Nullable(String),
    service String,
    instance String,
    thread String,
    clock_components Array(String),
    clock_counters Array(UInt64),
    trusted_clock UInt8,
    lock_ids Array(String),
    lock_modes Array(String),
    trace_start_ns Int64,
    trace_end_ns Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ns, 1000000000)))
ORDER BY (variable, environment, trace_id, event_id);
