-- Raceway store, ClickHouse schema version 6: trace summaries, kept as events are written.
-- Valid on ClickHouse 18.16 and current ClickHouse (see 0001_init.sql).
--
-- The trace list reads `trace_summaries` instead of grouping every stored event per request.
-- Every insert into `events` adds, through the view below, one row per (day, trace) of the
-- inserted block: the states of the trace's distinct event ids, services and environments and
-- of its first and last timestamp. Each of these aggregates is idempotent (a replayed event adds
-- an id already in the set, a timestamp already the minimum), so replays and late events never
-- make a summary differ from grouping the events; reads merge the states (`uniqExactMerge`,
-- `groupUniqArrayMerge`, `minMerge`, `maxMerge` GROUP BY trace_id) instead of trusting merges
-- to have run. Partitioned by the event's day like `events`, so `raceway prune` drops the same
-- days from both and the summary of a trace the cutoff cut into keeps only its remaining days.
-- 18.16 has no SimpleAggregateFunction: min and max are AggregateFunction states too.

CREATE TABLE IF NOT EXISTS trace_summaries
(
    day UInt32,
    trace_id UUID,
    events AggregateFunction(uniqExact, UUID),
    services AggregateFunction(groupUniqArray, String),
    environments AggregateFunction(groupUniqArray, String),
    first_ts AggregateFunction(min, Int64),
    last_ts AggregateFunction(max, Int64)
)
ENGINE = AggregatingMergeTree()
PARTITION BY day
ORDER BY trace_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS trace_summaries_mv TO trace_summaries AS
SELECT toYYYYMMDD(toDateTime(intDiv(timestamp_ns, 1000000000))) AS day,
       trace_id,
       uniqExactState(id) AS events,
       groupUniqArrayState(service) AS services,
       groupUniqArrayState(environment) AS environments,
       minState(timestamp_ns) AS first_ts,
       maxState(timestamp_ns) AS last_ts
FROM events
GROUP BY day, trace_id;

-- The events stored before this migration. Every state is idempotent, so rows the view above
-- already summarised are harmless.
INSERT INTO trace_summaries
SELECT toYYYYMMDD(toDateTime(intDiv(timestamp_ns, 1000000000))) AS day, trace_id,
       uniqExactState(id), groupUniqArrayState(service), groupUniqArrayState(environment),
       minState(timestamp_ns), maxState(timestamp_ns)
FROM events GROUP BY day, trace_id;
