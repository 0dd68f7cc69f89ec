-- Indexes that serve the Access Log's review: newest first by time, alone or under one
-- standard filter (each index ends with timestamp, seq, so a filter plus a date range is
-- one range scan read backwards). Keep in step with the other backend's 0006.
CREATE INDEX access_log_by_time ON access_log (timestamp, seq);
CREATE INDEX access_log_by_user ON access_log ("user", timestamp, seq);
CREATE INDEX access_log_by_activity ON access_log (activity, timestamp, seq);
CREATE INDEX access_log_by_export_from ON access_log (export_from, timestamp, seq);
CREATE INDEX access_log_by_report ON access_log (report_name, timestamp, seq);
CREATE INDEX access_log_by_file_type ON access_log (file_type, timestamp, seq);
CREATE INDEX access_log_by_outcome ON access_log (outcome, timestamp, seq);
CREATE INDEX access_log_by_document ON access_log (reference_document, timestamp, seq);
