-- The review filters on who reported an entry (issue 21): `local`, the gate in front of
-- an ERPNext site (`gate:<host>`), or an import of its Access Log (`frappe:<host>`). The
-- view gains the column, and access_log an index for it, ending in (timestamp, seq) like
-- the others (created on every partition).

CREATE OR REPLACE VIEW access_log_review AS
SELECT seq, timestamp, "user", activity, export_from, reference_document, report_name,
    file_type, outcome, byte_count, source
FROM access_log;

CREATE INDEX access_log_by_source ON access_log (source, timestamp, seq);
