-- Event ids as their 16 bytes (BLOB) instead of their 36-character text, in events and accesses.
--
-- Before: every event's id was stored as hyphenated text in the row and in the unique key's
-- index, and every access's event id in its row and in both of its indexes; a commit wrote those
-- pages to the WAL and the checkpoint copied them again into the file. The bytes compare in the
-- order the lowercase text did (UUID order), so every `ORDER BY ... id` keeps its order. Trace
-- ids stay text: the other tables and the filters match them as text.
--
-- Each id column is replaced by a BLOB column of the same name (now the table's last; every
-- query names its columns), and the indexes that hold it are made again. The default only
-- fills the rows while the column is added: every write gives the id. A stored id that is not
-- a UUID's text (none written by the store) is kept as it was.
DROP INDEX events_trace_id;
ALTER TABLE events ADD COLUMN id_bytes BLOB NOT NULL DEFAULT x'';
UPDATE events SET id_bytes =
    CASE WHEN length(unhex(replace(id, '-', ''))) = 16 THEN unhex(replace(id, '-', '')) ELSE id END;
ALTER TABLE events DROP COLUMN id;
ALTER TABLE events RENAME COLUMN id_bytes TO id;
CREATE UNIQUE INDEX events_trace_id ON events (trace_id, id);

DROP INDEX accesses_trace_variable_event;
DROP INDEX accesses_variable_time;
ALTER TABLE accesses ADD COLUMN event_id_bytes BLOB NOT NULL DEFAULT x'';
UPDATE accesses SET event_id_bytes =
    CASE WHEN length(unhex(replace(event_id, '-', ''))) = 16 THEN unhex(replace(event_id, '-', ''))
         ELSE event_id END;
ALTER TABLE accesses DROP COLUMN event_id;
ALTER TABLE accesses RENAME COLUMN event_id_bytes TO event_id;
CREATE UNIQUE INDEX accesses_trace_variable_event ON accesses (trace_id, variable, event_id);
CREATE INDEX accesses_variable_time ON accesses (variable, timestamp_ns, event_id);
