-- Raceway store, ClickHouse schema version 5: anomalies of more than one kind.
-- Valid on ClickHouse 18.16 and current ClickHouse (see 0001_init.sql).
--
-- `duration_anomalies` holds every anomaly of a trace: `anomaly_kind` says which (`duration`,
-- the rows written before this version, or `unusual_sequence`), and `transition` is the JSON of
-- an unusual sequence's first improbable transition (empty otherwise).
--
-- 18.16 has no `ADD COLUMN IF NOT EXISTS`: one statement adds both columns, and the migrator
-- takes "column already exists" from an ADD COLUMN as already applied (a crash between applying
-- and recording).

ALTER TABLE duration_anomalies
    ADD COLUMN anomaly_kind String DEFAULT 'duration',
    ADD COLUMN transition String DEFAULT '';
