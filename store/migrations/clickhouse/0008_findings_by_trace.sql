-- Raceway store, ClickHouse schema version 8: each trace's findings, ordered by trace.
-- Valid on ClickHouse 18.16 and current ClickHouse (see 0001_init.sql).
--
-- `findings` is ordered by finding id, so the findings of one trace (`GET
-- /api/traces/{id}/races`, which clients and the pipeline bench poll until a trace's races show)
-- were a scan of every finding, twice (the newest-version subquery), and cost more the more
-- findings were stored. `findings_by_trace` holds every version of every finding once per trace
-- it involves (one row when both events are of one trace), ordered by (trace, id) in granules of
-- 256 rows, filled by the view below within every insert into `findings`. Reads keep the newest
-- version per id and drop retracted ones, as reads of `findings` do, so the backfill and
-- replays are harmless. Partitioned like `findings`: `raceway prune` drops the same days.

CREATE TABLE IF NOT EXISTS findings_by_trace
(
    trace_id String,
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
ORDER BY (trace_id, id) SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS findings_by_trace_mv TO findings_by_trace AS
SELECT arrayJoin(if(first_trace_id = second_trace_id, [first_trace_id],
                    [first_trace_id, second_trace_id])) AS trace_id,
       id, kind, environment, variable, severity, severity_rank, occurrences, explanation,
       first_event_id, first_trace_id, first_thread_id, first_service, first_instance,
       first_location, first_access_type, first_timestamp_ns, first_clock_components,
       first_clock_counters, second_event_id, second_trace_id, second_thread_id, second_service,
       second_instance, second_location, second_access_type, second_timestamp_ns,
       second_clock_components, second_clock_counters, detected_at_ns, version
FROM findings;

-- The findings stored before this migration (after the view exists, so none is missed).
INSERT INTO findings_by_trace
SELECT arrayJoin(if(first_trace_id = second_trace_id, [first_trace_id],
                    [first_trace_id, second_trace_id])) AS trace_id,
       id, kind, environment, variable, severity, severity_rank, occurrences, explanation,
       first_event_id, first_trace_id, first_thread_id, first_service, first_instance,
       first_location, first_access_type, first_timestamp_ns, first_clock_components,
       first_clock_counters, second_event_id, second_trace_id, second_thread_id, second_service,
       second_instance, second_location, second_access_type, second_timestamp_ns,
       second_clock_components, second_clock_counters, detected_at_ns, version
FROM findings;
