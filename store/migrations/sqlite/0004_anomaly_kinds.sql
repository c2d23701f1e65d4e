-- Raceway store, SQLite schema version 4: anomalies of more than one kind.
--
-- `duration_anomalies` holds every anomaly of a trace: `anomaly_kind` says which (`duration`,
-- the rows written before this version, or `unusual_sequence`), and `transition` is the JSON of
-- an unusual sequence's first improbable transition (empty otherwise). The migration runs in one
-- transaction with its record, so it never runs twice.

ALTER TABLE duration_anomalies ADD COLUMN anomaly_kind TEXT NOT NULL DEFAULT 'duration';
ALTER TABLE duration_anomalies ADD COLUMN transition TEXT NOT NULL DEFAULT '';
