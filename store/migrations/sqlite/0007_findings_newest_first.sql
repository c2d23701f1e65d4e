-- The race list's order, newest first by the later of a finding's two events, then by id: a page
-- reads its rows from this index instead of sorting every stored finding (with its clocks) per
-- request. The expression is written exactly as the list's ORDER BY, or SQLite does not use it.
CREATE INDEX IF NOT EXISTS findings_newest_first
    ON findings (MAX(first_timestamp_ns, second_timestamp_ns) DESC, id);
