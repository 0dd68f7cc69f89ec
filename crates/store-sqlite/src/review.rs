//! The review table on SQLite: a copy of the columns the Access Log's review filters on,
//! with the eight indexes that serve those filters, kept in a database file of its own
//! beside the site's (`<database>-review`), attached to every connection as `review`.
//!
//! Why a file of its own: SQLite lets one writer at a time into a file. With the indexes
//! on the log, every durable append wrote them (appends at 64 writers fell to less than
//! half); with the copy in the same file, copying held the log's writer for the length of
//! each batch. In a file of its own, the copying runs on its own connection and thread,
//! beside the appends, on the other core, and never holds up an append.
//!
//! It is derived data: the entries and their proofs are only in the log. So it is written
//! without fsync (`synchronous = NORMAL`), is not part of a backup, and is rebuilt when it
//! does not match the log it sits beside (a restored backup, a lost file). The review's
//! SQL (`accesslog_store::log_search`) reads the entries up to this table's largest `seq`
//! from it and the newer ones from the log, so it is never stale, only slower while the
//! copy is behind.

use std::path::{Path, PathBuf};

use accesslog_store::StoreResult;
use accesslog_store::log_search::INDEX_FOR_REVIEW_SQL;
use rusqlite::{Connection, params};

use crate::worker::Worker;
use crate::writer::map_err;

/// The schema name the review file is attached under.
pub(crate) const SCHEMA: &str = "review";

/// The review file beside the database at `main`.
pub fn review_path(main: &Path) -> PathBuf {
    let mut name = main.as_os_str().to_owned();
    name.push("-review");
    PathBuf::from(name)
}

/// The table and its indexes, each ending in `(timestamp, seq)` so that a filter plus a
/// date range is one range scan read backwards.
const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS review.access_log_review (
    seq                INTEGER PRIMARY KEY,
    timestamp          INTEGER NOT NULL,
    \"user\"             TEXT    NOT NULL,
    activity           TEXT    NOT NULL,
    export_from        TEXT,
    reference_document TEXT,
    report_name        TEXT,
    file_type          TEXT,
    outcome            TEXT    NOT NULL,
    byte_count         INTEGER,
    source             TEXT
);
CREATE INDEX IF NOT EXISTS review.access_log_review_by_time ON access_log_review (timestamp, seq);
CREATE INDEX IF NOT EXISTS review.access_log_review_by_user ON access_log_review (\"user\", timestamp, seq);
CREATE INDEX IF NOT EXISTS review.access_log_review_by_activity ON access_log_review (activity, timestamp, seq);
CREATE INDEX IF NOT EXISTS review.access_log_review_by_export_from ON access_log_review (export_from, timestamp, seq);
CREATE INDEX IF NOT EXISTS review.access_log_review_by_report ON access_log_review (report_name, timestamp, seq);
CREATE INDEX IF NOT EXISTS review.access_log_review_by_file_type ON access_log_review (file_type, timestamp, seq);
CREATE INDEX IF NOT EXISTS review.access_log_review_by_outcome ON access_log_review (outcome, timestamp, seq);
CREATE INDEX IF NOT EXISTS review.access_log_review_by_document ON access_log_review (reference_document, timestamp, seq);
CREATE INDEX IF NOT EXISTS review.access_log_review_by_source ON access_log_review (source, timestamp, seq);
";

/// Whether an existing review table lacks a column added since it was made (`source`, for
/// the gate's and imports' entries): such a copy is dropped and made again from the log.
const LACKS_A_COLUMN_SQL: &str = "
SELECT EXISTS (SELECT 1 FROM review.sqlite_master WHERE name = 'access_log_review')
   AND NOT EXISTS (SELECT 1 FROM pragma_table_info('access_log_review', 'review')
                   WHERE name = 'source')";

/// Whether the review table's newest row is a copy of the log's entry at that `seq`: if
/// not (the log was restored from a backup, or replaced), the copy is of another log.
const MATCHES_THE_LOG_SQL: &str = "
SELECT COALESCE((
    SELECT a.seq IS NOT NULL AND r.timestamp = a.timestamp AND r.\"user\" = a.\"user\"
        AND r.activity = a.activity
    FROM review.access_log_review AS r LEFT JOIN main.access_log AS a ON a.seq = r.seq
    ORDER BY r.seq DESC LIMIT 1
), 1)";

/// The connection that fills the review table, on a thread of its own.
#[derive(Debug)]
pub(crate) struct Indexer(Worker);

impl Indexer {
    /// Opens the review file beside the (already migrated) database at `main`, on a
    /// connection to the log file (`log_file.rs`), creating
    /// its table and indexes if missing, and empties it if it is a copy of another log.
    pub(crate) fn open(main: &Path) -> StoreResult<Self> {
        // The log file is this connection's `main`: the copy reads the log and nothing else.
        let conn = crate::log_file::open_alone(main)?;
        let review = review_path(main);
        let review = crate::log_file::utf8(&review)?;
        conn.execute(&format!("ATTACH DATABASE ?1 AS {SCHEMA}"), params![review])
            .map_err(map_err)?;
        conn.execute_batch(&format!(
            "PRAGMA {SCHEMA}.journal_mode = WAL; PRAGMA {SCHEMA}.synchronous = NORMAL;"
        ))
        .map_err(map_err)?;
        let outdated: bool = conn
            .query_row(LACKS_A_COLUMN_SQL, [], |r| r.get(0))
            .map_err(map_err)?;
        if outdated {
            tracing::info!(
                file = review,
                "the review table predates the source column; making it again from the log"
            );
            conn.execute("DROP TABLE review.access_log_review", [])
                .map_err(map_err)?;
        }
        conn.execute_batch(SCHEMA_SQL).map_err(map_err)?;
        let matches: bool = conn
            .query_row(MATCHES_THE_LOG_SQL, [], |r| r.get(0))
            .map_err(map_err)?;
        if !matches {
            tracing::warn!(
                file = review,
                "the review table is a copy of another log (a restored backup?); rebuilding it"
            );
            conn.execute("DELETE FROM review.access_log_review", [])
                .map_err(map_err)?;
        }
        Ok(Self(Worker::spawn(
            "accesslog-sqlite-review",
            "review indexer",
            conn,
        )?))
    }

    /// Copies up to `limit` entries into the review table on the indexer's thread.
    pub(crate) async fn index_for_review(&self, limit: u32) -> StoreResult<u64> {
        self.0.run(move |conn| copy(conn, limit)).await
    }

    /// Runs `work` on the indexer's connection (the log file as `main`, the review file
    /// attached), in turn with the copying.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.0.run(work).await
    }

    pub(crate) fn close(&self) {
        self.0.close();
    }
}

/// One batch: a write transaction on the review file only, reading the log's committed
/// entries, so the log's writer never waits for it.
fn copy(conn: &Connection, limit: u32) -> StoreResult<u64> {
    let copied = conn
        .prepare_cached(INDEX_FOR_REVIEW_SQL)
        .and_then(|mut insert| insert.execute(params![i64::from(limit)]))
        .map_err(map_err)?;
    Ok(u64::try_from(copied).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use accesslog_core::Timestamp;
    use accesslog_core::entry::{Activity, Event};
    use accesslog_store::log_search::{EntryPage, EntryQuery};
    use accesslog_store::{LogReads, LogStore};

    /// A review file made before the `source` column is made again from the log when the
    /// store opens, and the source filter finds entries through it.
    #[tokio::test]
    async fn a_copy_from_before_the_source_column_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.db");
        let store = crate::SqliteStore::open(&path).await.unwrap();
        let mut gate = Event::new("clerk@erp.example.com", Activity::Print, "GET /printview");
        gate.source = "gate:erp.example.com".into();
        let local = Event::new("ana@example.com", Activity::Print, "GET /printview");
        store
            .append_entries(
                &[gate, local],
                Timestamp::from_micros(1_764_406_800_000_000),
            )
            .await
            .unwrap();
        assert_eq!(store.index_for_review(100).await.unwrap(), 2);
        store.close().await;
        drop(store);
        let conn = rusqlite::Connection::open(super::review_path(&path)).unwrap();
        conn.execute_batch(
            "DROP INDEX access_log_review_by_source; ALTER TABLE access_log_review DROP COLUMN source;",
        )
        .unwrap();
        drop(conn);

        let store = crate::SqliteStore::open(&path).await.unwrap();
        assert_eq!(
            store.index_for_review(100).await.unwrap(),
            2,
            "copied again"
        );
        let q = EntryQuery {
            source: Some("gate:".into()),
            ..EntryQuery::default()
        };
        let found = store
            .search_entries(&q, EntryPage::Newest { before: None }, 10)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].event.user, "clerk@erp.example.com");
    }
}
