-- The review indexes move off the commit path. Migration 0006 indexed access_log itself
-- eight ways, so every durable append wrote nine B-trees and, at each commit, as many
-- scattered pages to the WAL (appends at 64 writers fell to less than half). They now
-- live on access_log_review, a copy of the filtered columns in a file of its own beside
-- this one, filled after commit on a connection of its own (crates/store-sqlite/src/
-- review.rs, which creates it); the review reads entries not yet copied from access_log
-- by seq. The dashboard's sums over a period read the copy too, so access_log loses its
-- time index as well: the log is indexed by seq alone, which every commit only appends to.
-- PostgreSQL keeps its indexes on access_log and makes access_log_review a view of it
-- (crates/store-postgres/migrations/0007_access_log_review_table.sql says why); the
-- review's SQL is the same on both.

DROP INDEX access_log_by_time;
DROP INDEX access_log_by_user;
DROP INDEX access_log_by_activity;
DROP INDEX access_log_by_export_from;
DROP INDEX access_log_by_report;
DROP INDEX access_log_by_file_type;
DROP INDEX access_log_by_outcome;
DROP INDEX access_log_by_document;
