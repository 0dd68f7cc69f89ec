//! The PostgreSQL backend: one database shared by many stateless app servers.
//!
//! Every connection runs with `synchronous_commit=on`, so a commit has reached the
//! server's disk before the call returns; the Access Log depends on that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod partitions;
mod reports;
mod retention;

use std::str::FromStr;
use std::time::Duration;

use accesslog_core::Timestamp;
use accesslog_core::entry::{Entry, Event};
use accesslog_core::merkle::{Hash, NodeId};
use accesslog_store::log::{
    ENTRY_FIELDS, Extension, RawColumn, entry_from_row, extend, frontier_from_stored,
    hash_from_bytes, seq_bound, settle_time, split_node_ids, to_i64,
};
use accesslog_store::{Appended, LeafCheck, LeafRow, Store, StoreError, StoreResult};
use accesslog_store::{Dialect, LogReads, LogStore, SqlBacked, SqlStore};
use async_trait::async_trait;
use sqlx::{Postgres, Row};

const INSERT_ENTRIES: &str = "INSERT INTO access_log (seq, timestamp, \"user\", activity, method, \
    export_from, reference_document, report_name, print_format, file_type, filters, columns, \
    page, row_count, byte_count, content_sha256, outcome, reason, ip, user_agent, request_id, \
    roles, auth, source, leaf_hash) \
    SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], \
    $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], \
    $13::TEXT[], $14::BIGINT[], $15::BIGINT[], $16::TEXT[], $17::TEXT[], $18::TEXT[], \
    $19::TEXT[], $20::TEXT[], $21::TEXT[], $22::TEXT[], $23::TEXT[], $24::TEXT[], $25::BYTEA[])";

/// The SQL here that names an entry's columns, for the test that holds every such list
/// against core's entry schema (`crates/store-tests/tests/entry_schema.rs`).
#[doc(hidden)]
pub mod entry_sql {
    /// The batch insert (one array per column).
    pub const INSERT: &str = super::INSERT_ENTRIES;
    /// The migration that made `access_log`.
    pub const MIGRATION: &str = include_str!("../migrations/0002_access_log.sql");
}

/// A batch of entries as one array per column, for `INSERT_ENTRIES`.
#[derive(Default)]
pub(crate) struct Columns {
    seq: Vec<i64>,
    timestamp: Vec<i64>,
    user: Vec<String>,
    activity: Vec<&'static str>,
    method: Vec<String>,
    export_from: Vec<Option<String>>,
    reference_document: Vec<Option<String>>,
    report_name: Vec<Option<String>>,
    print_format: Vec<Option<String>>,
    file_type: Vec<Option<String>>,
    filters: Vec<Option<String>>,
    columns: Vec<Option<String>>,
    page: Vec<Option<String>>,
    row_count: Vec<Option<i64>>,
    byte_count: Vec<Option<i64>>,
    content_sha256: Vec<Option<String>>,
    outcome: Vec<&'static str>,
    reason: Vec<Option<String>>,
    ip: Vec<Option<String>>,
    user_agent: Vec<Option<String>>,
    request_id: Vec<Option<String>>,
    roles: Vec<String>,
    auth: Vec<Option<String>>,
    source: Vec<String>,
    leaf_hash: Vec<Vec<u8>>,
}

impl Columns {
    /// Inserts the batch through `INSERT_ENTRIES`.
    async fn insert(self, conn: &mut sqlx::PgConnection) -> StoreResult<()> {
        let c = self;
        sqlx::query(INSERT_ENTRIES)
            .bind(c.seq)
            .bind(c.timestamp)
            .bind(c.user)
            .bind(c.activity)
            .bind(c.method)
            .bind(c.export_from)
            .bind(c.reference_document)
            .bind(c.report_name)
            .bind(c.print_format)
            .bind(c.file_type)
            .bind(c.filters)
            .bind(c.columns)
            .bind(c.page)
            .bind(c.row_count)
            .bind(c.byte_count)
            .bind(c.content_sha256)
            .bind(c.outcome)
            .bind(c.reason)
            .bind(c.ip)
            .bind(c.user_agent)
            .bind(c.request_id)
            .bind(c.roles)
            .bind(c.auth)
            .bind(c.source)
            .bind(c.leaf_hash)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub(crate) fn push(&mut self, entry: &Entry, leaf: &Hash) -> StoreResult<()> {
        let e = &entry.event;
        self.seq.push(to_i64(entry.seq)?);
        self.timestamp.push(entry.timestamp.as_micros());
        self.user.push(e.user.clone());
        self.activity.push(e.activity.as_str());
        self.method.push(e.method.clone());
        self.export_from.push(e.export_from.clone());
        self.reference_document.push(e.reference_document.clone());
        self.report_name.push(e.report_name.clone());
        self.print_format.push(e.print_format.clone());
        self.file_type.push(e.file_type.clone());
        self.filters
            .push(e.filters.as_ref().map(|j| j.as_str().to_owned()));
        self.columns
            .push(e.columns.as_ref().map(|j| j.as_str().to_owned()));
        self.page.push(e.page.clone());
        self.row_count.push(e.row_count.map(to_i64).transpose()?);
        self.byte_count.push(e.byte_count.map(to_i64).transpose()?);
        self.content_sha256.push(e.content_sha256.clone());
        self.outcome.push(e.outcome.as_str());
        self.reason.push(e.reason.clone());
        self.ip.push(e.ip.clone());
        self.user_agent.push(e.user_agent.clone());
        self.request_id.push(e.request_id.clone());
        self.roles.push(e.roles_json().as_str().to_owned());
        self.auth.push(e.auth.clone());
        self.source.push(e.source.clone());
        self.leaf_hash.push(leaf.to_vec());
        Ok(())
    }
}
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long an append waits for a lock before it fails.
const APPEND_LOCK_TIMEOUT: &str = "10s";

/// `application_name` of the store's connections, and of the one that appends to the log.
pub const APPLICATION_NAME: &str = "accesslog";
pub const WRITER_APPLICATION_NAME: &str = "accesslog writer";

#[derive(Clone, Debug)]
pub struct PgStore {
    /// The pool, through which accounts, documents and the log's reads run the shared SQL.
    sql: SqlStore<Postgres>,
    /// One long-lived connection for Access Log appends: warm, and never pinged.
    writer: PgPool,
    /// Where the newest partition of `access_log` ends, as last seen (`partitions.rs`).
    partition_end: std::sync::Arc<partitions::PartitionEnd>,
}

impl PgStore {
    /// Connects to a `postgres://…` URL and runs the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(Self::options(url)?).await
    }

    /// Connects with every table in `schema` (created if missing): how tests get a fresh,
    /// private database in a shared server.
    pub async fn connect_in_schema(url: &str, schema: &str) -> StoreResult<Self> {
        checked_schema(schema)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(Self::options(url)?)
            .await?;
        let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&admin)
            .await?;
        admin.close().await;
        Self::connect_with(Self::options(url)?.options([("search_path", schema)])).await
    }

    /// Closes every connection: from now on each call fails as if the database were gone.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool().close().await;
    }

    /// Drops a schema made by [`PgStore::connect_in_schema`], with everything in it, and
    /// closes this store. For test harnesses; never called by the server.
    pub async fn drop_schema(self, schema: &str) -> StoreResult<()> {
        checked_schema(schema)?;
        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(self.pool())
            .await?;
        self.pool().close().await;
        self.writer.close().await;
        Ok(())
    }

    fn options(url: &str) -> StoreResult<PgConnectOptions> {
        PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))
    }

    async fn connect_with(options: PgConnectOptions) -> StoreResult<Self> {
        // Named in `pg_stat_activity`, so an operator (and log_bench's `servers` run) can
        // tell the appending connection from the others, and see what it waits on.
        let options = options
            .options([("synchronous_commit", "on")])
            .application_name(APPLICATION_NAME);
        // An append that cannot get its locks fails after this long, so that a log locked
        // by someone else refuses egress (503) rather than holding every request (SQLite's
        // busy timeout does the same after 5 s). Long enough for several servers queueing
        // on the tree state's row lock.
        let options_for_writer = options
            .clone()
            .options([("lock_timeout", APPEND_LOCK_TIMEOUT)])
            .application_name(WRITER_APPLICATION_NAME);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(format!("migrating the PostgreSQL database: {e}")))?;
        let writer = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options_for_writer)
            .await?;
        Ok(Self {
            sql: SqlStore::new(pool, Dialect::Postgres),
            writer,
            partition_end: std::sync::Arc::default(),
        })
    }

    /// The rows verification walks: the entries, and the kept leaves of pruned ones.
    async fn walk(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<sqlx::postgres::PgRow>> {
        let after = seq_bound(after_seq)?;
        let pruned_ahead: bool = sqlx::query_scalar(accesslog_store::log::PRUNED_AHEAD_SQL)
            .bind(after)
            .fetch_one(self.pool())
            .await?;
        let sql = accesslog_store::log::walk_sql(pruned_ahead);
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        // A partition being dropped has its entries in both tables for a moment.
        if pruned_ahead {
            partitions::dedupe(rows)
        } else {
            Ok(rows)
        }
    }

    /// The pool, for code in this workspace that needs SQL beyond the trait (tests).
    pub fn pool(&self) -> &PgPool {
        self.sql.pool()
    }
}

/// A schema name fit to be written into SQL as it is: letters, digits and `_`.
fn checked_schema(schema: &str) -> StoreResult<()> {
    if schema
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(())
    } else {
        Err(StoreError::Other(format!("bad schema name {schema:?}")))
    }
}

impl SqlBacked for PgStore {
    type Db = Postgres;
    fn sql(&self) -> &SqlStore<Postgres> {
        &self.sql
    }
}

#[async_trait]
impl Store for PgStore {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn backup_to(&self, _path: &std::path::Path) -> StoreResult<()> {
        Err(StoreError::Other(
            "a PostgreSQL site is backed up with PostgreSQL's own tools: pg_dump --format=custom DBNAME > FILE".to_owned(),
        ))
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

/// A walked row's [`LeafCheck`], from the column values as PostgreSQL sends them (binary:
/// integers 8 bytes big-endian).
fn leaf_check(row: &sqlx::postgres::PgRow, buf: &mut Vec<u8>) -> StoreResult<LeafCheck> {
    use sqlx::ValueRef;
    let column = |i: usize, integer: bool| match row.try_get_raw(i) {
        Ok(v) if v.is_null() => RawColumn::Null,
        Ok(v) => match v.as_bytes() {
            Ok(b) if integer => b
                .try_into()
                .map_or(RawColumn::Other, |b| RawColumn::Int(i64::from_be_bytes(b))),
            Ok(b) if std::str::from_utf8(b).is_ok() => RawColumn::Text(b),
            _ => RawColumn::Other,
        },
        Err(_) => RawColumn::Other,
    };
    let int = |i: usize| match column(i, true) {
        RawColumn::Int(v) => Some(v),
        _ => None,
    };
    let seq = int(0).ok_or_else(|| StoreError::Other("a row without a seq".to_owned()))?;
    let stored = row
        .try_get_raw(ENTRY_FIELDS.len())
        .ok()
        .filter(|v| !v.is_null())
        .and_then(|v| v.as_bytes().ok().and_then(|b| hash_from_bytes(b).ok()));
    let pruned = int(ENTRY_FIELDS.len() + 1) == Some(1);
    let timestamp = int(1).unwrap_or(0);
    Ok(LeafCheck::walked(
        seq, timestamp, stored, pruned, buf, column,
    ))
}

#[async_trait]
impl LogStore for PgStore {
    async fn append_entries(&self, events: &[Event], at: Timestamp) -> StoreResult<Appended> {
        // The row lock on the tree state serialises appenders across every server sharing
        // this database, so two can never both read the same size.
        let mut tx = self.writer.begin().await?;
        let row =
            sqlx::query("SELECT size, frontier, last_at FROM log_state WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *tx)
                .await?;
        // The time is settled under the lock: never before the last entry's. `last_at` is
        // kept with the state (a lock wait re-reads this row, not other tables); a state
        // from before the column has it NULL, and the last entry is read once instead.
        let mut last_at: Option<i64> = row.try_get("last_at")?;
        let size: i64 = row.try_get("size")?;
        if last_at.is_none() && size > 0 {
            last_at = sqlx::query_scalar("SELECT timestamp FROM access_log WHERE seq = $1")
                .bind(size)
                .fetch_optional(&mut *tx)
                .await?;
        }
        let at = settle_time(at, last_at);
        let frontier = frontier_from_stored(
            row.try_get("size")?,
            &row.try_get::<Vec<u8>, _>("frontier")?,
        )?;
        let Extension {
            entries,
            leaf_hashes,
            nodes,
            frontier,
        } = extend(frontier, events.iter().cloned(), at)?;

        // One statement whose text never changes, whatever the batch size: the columns go
        // as arrays and UNNEST turns them back into rows.
        let mut c = Columns::default();
        for (entry, leaf) in entries.iter().zip(&leaf_hashes) {
            c.push(entry, leaf)?;
        }
        let last_seq = to_i64(frontier.size())?;
        let new_end = match self.partition_end.ensure(&mut tx, last_seq).await {
            Ok(end) => end,
            Err(e) => {
                self.partition_end.forget();
                return Err(e);
            }
        };
        if let Err(e) = c.insert(&mut tx).await {
            // Perhaps a partition another server dropped or made: read them again.
            self.partition_end.forget();
            return Err(e);
        }
        if !nodes.is_empty() {
            let ids = nodes
                .iter()
                .map(|(id, _)| to_i64(id.stored_index()))
                .collect::<StoreResult<Vec<i64>>>()?;
            let hashes: Vec<Vec<u8>> = nodes.iter().map(|(_, h)| h.to_vec()).collect();
            sqlx::query("INSERT INTO merkle_nodes (id, hash) SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[])")
                .bind(ids)
                .bind(hashes)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE log_state SET size = $1, frontier = $2, last_at = $3 WHERE id = 1")
            .bind(to_i64(frontier.size())?)
            .bind(frontier.to_bytes())
            .bind(at.as_micros())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.partition_end.remember(new_end);
        Ok(Appended {
            entries,
            leaf_hashes,
            size: frontier.size(),
            root: frontier.root(),
        })
    }

    /// Nothing to do: here the review table is a view of the log, indexed as it is written
    /// (migration 0007 says why).
    async fn index_for_review(&self, _limit: u32) -> StoreResult<u64> {
        Ok(0)
    }

    /// The fast path of verification, as on SQLite: each row's leaf hash computed from the
    /// column values as PostgreSQL sends them (binary), without building entries, on a
    /// blocking thread so that the next page's read and the tree's folding go on beside it.
    async fn recomputed_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafCheck>> {
        let rows = self.walk(after_seq, limit).await?;
        tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity(1024);
            rows.iter().map(|row| leaf_check(row, &mut buf)).collect()
        })
        .await
        .map_err(|e| StoreError::Other(format!("the hashing thread failed: {e}")))?
    }

    async fn entries_with_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafRow>> {
        let rows = self.walk(after_seq, limit).await?;
        rows.iter()
            .map(|row| {
                let leaf = row
                    .try_get::<Option<Vec<u8>>, _>("leaf_hash")
                    .ok()
                    .flatten();
                let seq = row.try_get("seq")?;
                let pruned = row.try_get::<i64, _>("pruned")? != 0;
                Ok(LeafRow::walked(seq, leaf.as_deref(), pruned, || {
                    entry_from_row(row)
                }))
            })
            .collect()
    }

    async fn prune_entries(
        &self,
        batch: &accesslog_store::retention::PruneBatch,
    ) -> StoreResult<accesslog_store::retention::BatchPruned> {
        retention::prune(self.pool(), batch).await
    }

    async fn restore_entries(
        &self,
        entries: &[Entry],
    ) -> StoreResult<accesslog_store::retention::Restored> {
        retention::restore(self.pool(), entries).await
    }

    async fn prune_whole_ranges(
        &self,
        due: &[u64],
        bundles: &[(u64, u64, String)],
        keep_fields: bool,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let size = self.log_head().await?.size;
        partitions::prune_whole(self.pool(), due, bundles, keep_fields, size).await
    }

    async fn merkle_nodes(&self, ids: &[NodeId]) -> StoreResult<Vec<(NodeId, Hash)>> {
        let (leaf_seqs, inner) = split_node_ids(ids);
        let mut found = Vec::with_capacity(ids.len());
        let sql = accesslog_store::log::leaf_hashes_sql("(SELECT unnest($1::BIGINT[]))");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&leaf_seqs)
            .fetch_all(self.pool())
            .await?;
        for row in rows {
            let seq: i64 = row.try_get("seq")?;
            let index =
                u64::try_from(seq - 1).map_err(|_| StoreError::Other(format!("bad seq {seq}")))?;
            found.push((
                NodeId::leaf(index),
                hash_from_bytes(&row.try_get::<Vec<u8>, _>("leaf_hash")?)?,
            ));
        }
        let by_key: std::collections::HashMap<i64, NodeId> = inner.iter().copied().collect();
        let keys: Vec<i64> = inner.iter().map(|(k, _)| *k).collect();
        let rows = sqlx::query("SELECT id, hash FROM merkle_nodes WHERE id = ANY($1)")
            .bind(&keys)
            .fetch_all(self.pool())
            .await?;
        for row in rows {
            let key: i64 = row.try_get("id")?;
            if let Some(id) = by_key.get(&key) {
                found.push((*id, hash_from_bytes(&row.try_get::<Vec<u8>, _>("hash")?)?));
            }
        }
        Ok(found)
    }
}
