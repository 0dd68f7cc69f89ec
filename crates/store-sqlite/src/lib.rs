//! The SQLite backend: the embedded default, one file in the site folder.
//!
//! The database runs in WAL mode with `synchronous=FULL` on every connection, so a commit
//! has reached the disk before the call returns; the Access Log depends on that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use accesslog_core::Timestamp;
use accesslog_core::entry::{Entry, Event};
use accesslog_core::merkle::{Hash, NodeId};
use accesslog_store::log::{hash_from_bytes, seq_bound, split_node_ids};
use accesslog_store::{
    Appended, BlockingAppend, LeafCheck, LeafRow, ReviewDifference, Store, StoreError, StoreResult,
};
use accesslog_store::{Dialect, LogReads, LogStore, SqlBacked, SqlStore};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Sqlite};

// SQLite allows 32,766 bound values per statement.
const NODES_PER_QUERY: usize = 8000;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

mod log_file;
mod reader;
mod reports;
mod retention;
mod review;
mod worker;
mod writer;

pub use log_file::{SCHEMA as LOG_SCHEMA, log_path};

/// The SQL here that names an entry's columns, for the test that holds every such list
/// against core's entry schema (`crates/store-tests/tests/entry_schema.rs`).
#[doc(hidden)]
pub mod entry_sql {
    /// The writer's insert.
    pub const INSERT: &str = crate::writer::INSERT_ENTRY;
    /// The migration that first made `access_log`.
    pub const MIGRATION: &str = include_str!("../migrations/0002_access_log.sql");
    /// The log file's tables, as a database is given them today.
    pub fn log_tables() -> String {
        crate::log_file::tables_sql(crate::log_file::SCHEMA)
    }
}
pub use review::review_path;

/// Every file a site's SQLite database at `main` may consist of: itself, the log's and
/// the review's files, and the write-ahead log and shared-memory file of each.
pub fn database_files(main: &Path) -> Vec<std::path::PathBuf> {
    [main.to_path_buf(), log_path(main), review_path(main)]
        .into_iter()
        .flat_map(|file| {
            ["", "-wal", "-shm"].map(|suffix| {
                let mut p = file.as_os_str().to_owned();
                p.push(suffix);
                std::path::PathBuf::from(p)
            })
        })
        .collect()
}

/// The files attached to every connection of a site's database: the Access Log's and the
/// review table's.
#[derive(Clone, Debug)]
pub struct Sidecars {
    log: String,
    review: String,
}

impl Sidecars {
    /// The files beside the database at `main`.
    pub fn beside(main: &Path) -> StoreResult<Self> {
        Ok(Self {
            log: log_file::utf8(&log_file::log_path(main))?.to_owned(),
            review: log_file::utf8(&review::review_path(main))?.to_owned(),
        })
    }

    /// Attaches both to `conn`, the log with its durability settings.
    pub async fn attach(&self, conn: &mut sqlx::SqliteConnection) -> sqlx::Result<()> {
        for (file, schema) in [
            (&self.log, log_file::SCHEMA),
            (&self.review, review::SCHEMA),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ATTACH DATABASE ?1 AS {schema}"
            )))
            .bind(file.as_str())
            .execute(&mut *conn)
            .await?;
        }
        let schema = log_file::SCHEMA;
        let (pages,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(log_file::page_count(schema)))
            .fetch_one(&mut *conn)
            .await?;
        if pages == 0 {
            sqlx::raw_sql(sqlx::AssertSqlSafe(log_file::pragmas_when_new(schema)))
                .execute(&mut *conn)
                .await?;
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(log_file::pragmas(schema)))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// The pool, through which accounts, documents and the log's reads run the shared SQL.
    sql: SqlStore<Sqlite>,
    path: std::path::PathBuf,
    /// Appends to the Access Log go through this dedicated connection.
    writer: std::sync::Arc<writer::Writer>,
    /// The review table, in a file of its own, is filled through this one.
    indexer: std::sync::Arc<review::Indexer>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and runs the migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::connect_with(options).await
    }

    /// Opens a `sqlite://…` URL and runs the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true);
        Self::connect_with(options).await
    }

    async fn connect_with(options: SqliteConnectOptions) -> StoreResult<Self> {
        let path = options.get_filename().to_path_buf();
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let sidecars = Sidecars::beside(&path)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A local file: a ping before each use would only add a round trip.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            // Every connection sees the log (`log_file.rs`) and the review table
            // (`review.rs`) under their plain names.
            .after_connect(move |conn, _| {
                let sidecars = sidecars.clone();
                Box::pin(async move { sidecars.attach(conn).await })
            })
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(format!("migrating the SQLite database: {e}")))?;
        log_file::adopt(&path)?;
        let writer = std::sync::Arc::new(writer::Writer::open(&path)?);
        let indexer = std::sync::Arc::new(review::Indexer::open(&path)?);
        Ok(Self {
            sql: SqlStore::new(pool, Dialect::Sqlite),
            path,
            writer,
            indexer,
        })
    }

    /// The pool, for code in this workspace that needs SQL beyond the trait (tests).
    pub fn pool(&self) -> &SqlitePool {
        self.sql.pool()
    }

    /// Runs `f` on a blocking thread with the database's path, failing at once when the
    /// store is closed.
    async fn blocking<A: Send + 'static, T: Send + 'static>(
        &self,
        arg: A,
        f: impl FnOnce(&Path, A) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        if self.pool().is_closed() {
            return Err(StoreError::Unavailable(
                "the database has been closed".into(),
            ));
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || f(&path, arg))
            .await
            .map_err(|e| StoreError::Other(format!("the database thread failed: {e}")))?
    }

    /// Closes every connection: from now on each call fails as if the database were gone.
    pub async fn close(&self) {
        self.writer.close();
        self.indexer.close();
        self.pool().close().await;
    }
}

impl SqlBacked for SqliteStore {
    type Db = Sqlite;
    fn sql(&self) -> &SqlStore<Sqlite> {
        &self.sql
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn backup_to(&self, path: &std::path::Path) -> StoreResult<()> {
        let target = log_file::utf8(path)?;
        // The site's file, then the log's, each a consistent copy; then one file holding
        // both, as a backup always was (`log_file::merge_into_backup`).
        let mut snapshot = path.as_os_str().to_owned();
        snapshot.push(".log-snapshot");
        let snapshot = std::path::PathBuf::from(snapshot);
        let _ = std::fs::remove_file(&snapshot);
        let snapshot_name = log_file::utf8(&snapshot)?;
        sqlx::query("VACUUM main INTO $1")
            .bind(target)
            .execute(self.pool())
            .await?;
        let merged = async {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "VACUUM {} INTO $1",
                log_file::SCHEMA
            )))
            .bind(snapshot_name)
            .execute(self.pool())
            .await?;
            let (target, snapshot) = (path.to_path_buf(), snapshot.clone());
            tokio::task::spawn_blocking(move || log_file::merge_into_backup(&target, &snapshot))
                .await
                .map_err(|e| StoreError::Other(format!("the backup thread failed: {e}")))?
        }
        .await;
        let _ = std::fs::remove_file(&snapshot);
        if merged.is_err() {
            let _ = std::fs::remove_file(path);
        }
        merged
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    fn pool_use(&self) -> accesslog_store::PoolUse {
        let pool = self.pool();
        accesslog_store::PoolUse {
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }
}

/// Copied rows above the log's last entry: the one difference verification's walk, which
/// compares each entry with its copied row as it reads them, cannot see.
const REVIEW_PAST_THE_END: &str = "SELECT r.seq FROM review.access_log_review r \
    WHERE r.seq > (SELECT size FROM log.log_state WHERE id = 1) \
    ORDER BY r.seq LIMIT 1";

#[async_trait]
impl LogStore for SqliteStore {
    async fn append_entries(&self, events: &[Event], at: Timestamp) -> StoreResult<Appended> {
        self.writer.append(events, at).await
    }

    fn blocking_appender(&self) -> StoreResult<Option<Box<dyn BlockingAppend>>> {
        Ok(Some(Box::new(self.writer.appender(&self.path)?)))
    }

    async fn index_for_review(&self, limit: u32) -> StoreResult<u64> {
        self.indexer.index_for_review(limit).await
    }

    async fn review_lag(&self) -> StoreResult<u64> {
        let size = self.log_head().await?.size;
        Ok(size.saturating_sub(self.sql.review_watermark().await?))
    }

    async fn entries_with_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafRow>> {
        let after = seq_bound(after_seq)?;
        self.blocking((), move |path, ()| reader::leaf_rows(path, after, limit))
            .await
    }

    async fn check_review_copy(&self) -> StoreResult<Option<ReviewDifference>> {
        let seq: Option<i64> = sqlx::query_scalar(REVIEW_PAST_THE_END)
            .fetch_optional(self.pool())
            .await?;
        Ok(seq.map(|seq| ReviewDifference {
            seq: u64::try_from(seq).unwrap_or(0),
            what: "the copy has a row where the log has no entry",
        }))
    }

    async fn recomputed_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafCheck>> {
        let after = seq_bound(after_seq)?;
        self.blocking((), move |path, ()| reader::leaf_checks(path, after, limit))
            .await
    }

    async fn prune_entries(
        &self,
        batch: &accesslog_store::retention::PruneBatch,
    ) -> StoreResult<accesslog_store::retention::BatchPruned> {
        // The log first (its lock held for that transaction alone), then the review copy
        // on the indexer's connection (`retention.rs`).
        let done = self
            .blocking(batch.clone(), |path, batch| {
                retention::prune_log(path, &batch)
            })
            .await?;
        let (seqs, redacted) = (batch.seqs.clone(), batch.redacted);
        self.indexer
            .run(move |conn| retention::forget_in_review(conn, &seqs, redacted))
            .await?;
        Ok(done)
    }

    async fn tidy_after_prune(&self) -> StoreResult<u64> {
        self.indexer.run(|conn| retention::tidy_review(conn)).await
    }

    async fn release_free_pages(&self, pages: u32) -> StoreResult<Option<u64>> {
        self.blocking(pages, retention::vacuum_step).await.map(Some)
    }

    async fn restore_entries(
        &self,
        entries: &[Entry],
    ) -> StoreResult<accesslog_store::retention::Restored> {
        self.blocking(entries.to_vec(), |path, entries| {
            retention::restore(path, &entries)
        })
        .await
    }

    async fn merkle_nodes(&self, ids: &[NodeId]) -> StoreResult<Vec<(NodeId, Hash)>> {
        let (leaf_seqs, inner) = split_node_ids(ids);
        let mut found = Vec::with_capacity(ids.len());
        // Leaves of pruned entries are kept apart from the entries (issue 19).
        for chunk in leaf_seqs.chunks(NODES_PER_QUERY / 2) {
            let list = vec!["?"; chunk.len()].join(", ");
            let sql = accesslog_store::log::leaf_hashes_sql(&format!("({list})"));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for _ in 0..2 {
                for seq in chunk {
                    q = q.bind(*seq);
                }
            }
            for row in q.fetch_all(self.pool()).await? {
                let seq: i64 = row.try_get("seq")?;
                let index = u64::try_from(seq - 1)
                    .map_err(|_| StoreError::Other(format!("bad seq {seq}")))?;
                found.push((
                    NodeId::leaf(index),
                    hash_from_bytes(&row.try_get::<Vec<u8>, _>("leaf_hash")?)?,
                ));
            }
        }
        let by_key: std::collections::HashMap<i64, NodeId> = inner.iter().copied().collect();
        for chunk in inner.chunks(NODES_PER_QUERY) {
            let mut q =
                QueryBuilder::<Sqlite>::new("SELECT id, hash FROM merkle_nodes WHERE id IN ");
            q.push_tuples(chunk, |mut b, (key, _)| {
                b.push_bind(*key);
            });
            for row in q.build().fetch_all(self.pool()).await? {
                let key: i64 = row.try_get("id")?;
                if let Some(id) = by_key.get(&key) {
                    found.push((*id, hash_from_bytes(&row.try_get::<Vec<u8>, _>("hash")?)?));
                }
            }
        }
        Ok(found)
    }
}
