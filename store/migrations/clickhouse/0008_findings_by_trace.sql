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

-- The table has the columns of `findings` after `trace_id`, taken from them (no rows).
CREATE TABLE IF NOT EXISTS findings_by_trace
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(toDateTime(intDiv(least(first_timestamp_ns, second_timestamp_ns), 1000000000)))
ORDER BY (trace_id, id) SETTINGS index_granularity = 256
AS SELECT first_trace_id AS trace_id, * FROM findings LIMIT 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS findings_by_trace_mv TO findings_by_trace AS
SELECT arrayJoin(if(first_trace_id = second_trace_id, [first_trace_id],
                    [first_trace_id, second_trace_id])) AS trace_id, *
FROM findings;

-- The findings stored before this migration (after the view exists, so none is missed).
INSERT INTO findings_by_trace
SELECT arrayJoin(if(first_trace_id = second_trace_id, [first_trace_id],
                    [first_trace_id, second_trace_id])) AS trace_id, *
FROM findings;
