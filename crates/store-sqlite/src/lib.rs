//! The SQLite backend: the embedded default, one file in the site folder.
//!
//! The database runs in WAL mode with `synchronous=FULL` on every connection, so a commit
//! has reached the disk before the call returns; the Access Log depends on that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use accesslog_core::Timestamp;
use accesslog_core::doctype::DocType;
use accesslog_core::entry::{Entry, Event};
use accesslog_core::merkle::{Hash, NodeId};
use accesslog_store::log::{
    ENTRY_COLUMNS, entry_from_row, frontier_from_stored, hash_from_bytes, seq_bound,
    split_node_ids, to_i64,
};
use accesslog_store::records::{
    add_columns_sql, create_table_sql, document_values, index_sql, insert_sql, list_sql,
    row_columns, select_columns, selected_values, update_columns, update_sql,
};
use accesslog_store::{
    ApiKey, Appended, FileRecord, LeafCheck, LeafRow, LogHead, LoginFailureCounts, NewApiKey,
    NewSession, NewUser, Session, Store, StoreError, StoreResult, StoredCheckpoint, User,
};
use accesslog_store::{
    ChildRows, Dialect, Document, DocumentStore, ListQuery, LogStore, NewDocument, SqlValue,
};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::BTreeMap;

// SQLite allows 32,766 bound values per statement.
const NODES_PER_QUERY: usize = 8000;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

mod reader;
mod writer;

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: std::path::PathBuf,
    /// Appends to the Access Log go through this dedicated connection.
    writer: std::sync::Arc<writer::Writer>,
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
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A local file: a ping before each use would only add a round trip.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(format!("migrating the SQLite database: {e}")))?;
        let writer = std::sync::Arc::new(writer::Writer::open(&path)?);
        Ok(Self { pool, path, writer })
    }

    /// The pool, for code in this workspace that needs SQL beyond the trait (tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection: from now on each call fails as if the database were gone.
    pub async fn close(&self) {
        self.writer.close();
        self.pool.close().await;
    }

    async fn user_roles(&self, user_id: i64) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("role").map_err(StoreError::from))
            .collect()
    }

    async fn with_roles(&self, row: Option<SqliteRow>) -> StoreResult<Option<User>> {
        match row {
            Some(row) => {
                let mut user = user_from_row(&row)?;
                user.roles = self.user_roles(user.id).await?;
                Ok(Some(user))
            }
            None => Ok(None),
        }
    }

    async fn user_id(&self, email: &str) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user with email {email:?}")))
    }
}

const USER_BY_EMAIL: &str =
    "SELECT id, email, full_name, enabled, created_at FROM users WHERE email = $1";
const USER_BY_ID: &str =
    "SELECT id, email, full_name, enabled, created_at FROM users WHERE id = $1";

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        full_name: row.try_get("full_name")?,
        enabled: row.try_get("enabled")?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        roles: Vec::new(),
    })
}

fn session_from_row(row: &SqliteRow) -> StoreResult<Session> {
    Ok(Session {
        id_digest: row.try_get("id_digest")?,
        user_id: row.try_get("user_id")?,
        csrf_token: row.try_get("csrf_token")?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        last_seen_at: Timestamp::from_micros(row.try_get("last_seen_at")?),
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
    })
}

fn api_key_from_row(row: &SqliteRow) -> StoreResult<ApiKey> {
    let micros = |col: &str| -> StoreResult<Option<Timestamp>> {
        Ok(row
            .try_get::<Option<i64>, _>(col)?
            .map(Timestamp::from_micros))
    };
    Ok(ApiKey {
        api_key: row.try_get("api_key")?,
        user_id: row.try_get("user_id")?,
        user_email: row.try_get("email")?,
        secret_digest: row.try_get("secret_digest")?,
        label: row.try_get("label")?,
        scopes: row
            .try_get::<String, _>("scopes")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        revoked_at: micros("revoked_at")?,
        last_used_at: micros("last_used_at")?,
    })
}

fn affected_or_not_found(rows: u64, what: impl FnOnce() -> String) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound(what()))
    } else {
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn backup_to(&self, path: &std::path::Path) -> StoreResult<()> {
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Other(format!("{} is not a UTF-8 path", path.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_user(&self, user: &NewUser, now: Timestamp) -> StoreResult<User> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, full_name, enabled, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&user.email)
        .bind(&user.full_name)
        .bind(user.enabled)
        .bind(&user.password_hash)
        .bind(now.as_micros())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a user with email {:?} already exists", user.email))
            }
            other => other,
        })?;
        Ok(User {
            id,
            email: user.email.clone(),
            full_name: user.full_name.clone(),
            enabled: user.enabled,
            created_at: now,
            roles: Vec::new(),
        })
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(USER_BY_EMAIL)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        self.with_roles(row).await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(USER_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        self.with_roles(row).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.full_name, u.enabled, u.created_at, r.role
             FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
             ORDER BY u.email, r.role",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut users: Vec<User> = Vec::new();
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            if users.last().is_none_or(|u| u.id != id) {
                users.push(user_from_row(row)?);
            }
            if let (Some(user), Some(role)) = (users.last_mut(), row.try_get("role")?) {
                user.roles.push(role);
            }
        }
        Ok(users)
    }

    async fn set_user_enabled(&self, email: &str, enabled: bool) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET enabled = $1 WHERE email = $2")
            .bind(enabled)
            .bind(email)
            .execute(&mut *tx)
            .await?;
        affected_or_not_found(done.rows_affected(), || {
            format!("no user with email {email:?}")
        })?;
        if !enabled {
            sqlx::query(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = $1)",
            )
            .bind(email)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_password_hash(&self, email: &str, hash: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
            .bind(hash)
            .bind(email)
            .execute(&mut *tx)
            .await?;
        affected_or_not_found(done.rows_affected(), || {
            format!("no user with email {email:?}")
        })?;
        sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = $1)")
            .bind(email)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn password_hash(&self, user_id: i64) -> StoreResult<Option<String>> {
        let hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(hash.flatten())
    }

    async fn add_role(&self, email: &str, role: &str) -> StoreResult<()> {
        let user_id = self.user_id(email).await?;
        sqlx::query(
            "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(role)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remove_role(&self, email: &str, role: &str) -> StoreResult<()> {
        let user_id = self.user_id(email).await?;
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
            .bind(user_id)
            .bind(role)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_session(&self, s: &NewSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id_digest, user_id, csrf_token, created_at, last_seen_at, ip, user_agent)
             VALUES ($1, $2, $3, $4, $4, $5, $6)",
        )
        .bind(&s.id_digest)
        .bind(s.user_id)
        .bind(&s.csrf_token)
        .bind(s.created_at.as_micros())
        .bind(&s.ip)
        .bind(&s.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, id_digest: &str) -> StoreResult<Option<Session>> {
        let row = sqlx::query(
            "SELECT id_digest, user_id, csrf_token, created_at, last_seen_at, ip, user_agent
             FROM sessions WHERE id_digest = $1",
        )
        .bind(id_digest)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_session(&self, id_digest: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE id_digest = $2 AND last_seen_at < $1",
        )
        .bind(at.as_micros())
        .bind(id_digest)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_session(&self, id_digest: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_digest = $1")
            .bind(id_digest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_sessions(
        &self,
        idle_before: Timestamp,
        created_before: Timestamp,
    ) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before.as_micros())
            .bind(created_before.as_micros())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn create_api_key(&self, k: &NewApiKey) -> StoreResult<()> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(k.user_id)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "no user with id {}",
                k.user_id
            )));
        }
        sqlx::query(
            "INSERT INTO api_keys (api_key, user_id, secret_digest, label, created_at, scopes)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&k.api_key)
        .bind(k.user_id)
        .bind(&k.secret_digest)
        .bind(&k.label)
        .bind(k.created_at.as_micros())
        .bind(k.scopes.join(" "))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn api_key(&self, api_key: &str) -> StoreResult<Option<ApiKey>> {
        let row = sqlx::query(
            "SELECT k.*, u.email FROM api_keys k JOIN users u ON u.id = k.user_id
             WHERE k.api_key = $1",
        )
        .bind(api_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn list_api_keys(&self, user_id: Option<i64>) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query(
            "SELECT k.*, u.email FROM api_keys k JOIN users u ON u.id = k.user_id
             WHERE $1 IS NULL OR k.user_id = $1
             ORDER BY k.created_at DESC, k.api_key",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(&self, api_key: &str, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE api_key = $2",
        )
        .bind(at.as_micros())
        .bind(api_key)
        .execute(&self.pool)
        .await?;
        affected_or_not_found(done.rows_affected(), || format!("no API key {api_key:?}"))
    }

    async fn touch_api_key(&self, api_key: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE api_key = $2")
            .bind(at.as_micros())
            .bind(api_key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn record_login_failure(
        &self,
        account: &str,
        ip: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO login_failures (account, ip, at) VALUES ($1, $2, $3)")
            .bind(account)
            .bind(ip)
            .bind(at.as_micros())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn login_failures_since(
        &self,
        account: &str,
        ip: &str,
        since: Timestamp,
    ) -> StoreResult<LoginFailureCounts> {
        let row = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND at >= $3) AS by_account,
               (SELECT COUNT(*) FROM login_failures WHERE ip = $2 AND at >= $3) AS by_ip",
        )
        .bind(account)
        .bind(ip)
        .bind(since.as_micros())
        .fetch_one(&self.pool)
        .await?;
        let count = |col: &str| -> StoreResult<u64> {
            Ok(u64::try_from(row.try_get::<i64, _>(col)?).unwrap_or(0))
        };
        Ok(LoginFailureCounts {
            account: count("by_account")?,
            ip: count("by_ip")?,
        })
    }

    async fn clear_login_failures(&self, account: &str, older_than: Timestamp) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE account = $1 OR at < $2")
            .bind(account)
            .bind(older_than.as_micros())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl LogStore for SqliteStore {
    async fn append_entries(&self, events: &[Event], at: Timestamp) -> StoreResult<Appended> {
        self.writer.append(events, at).await
    }

    async fn log_head(&self) -> StoreResult<LogHead> {
        let row = sqlx::query("SELECT size, frontier FROM log_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let frontier = frontier_from_stored(
            row.try_get("size")?,
            &row.try_get::<Vec<u8>, _>("frontier")?,
        )?;
        Ok(LogHead {
            size: frontier.size(),
            root: frontier.root(),
        })
    }

    async fn entries_after(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<Entry>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM access_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(to_i64(after_seq)?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn entry(&self, seq: u64) -> StoreResult<Option<Entry>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM access_log WHERE seq = $1"
        )))
        .bind(to_i64(seq)?)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    async fn entries_with_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafRow>> {
        if self.pool.is_closed() {
            return Err(StoreError::Unavailable(
                "the database has been closed".into(),
            ));
        }
        let (path, after) = (self.path.clone(), seq_bound(after_seq)?);
        tokio::task::spawn_blocking(move || reader::leaf_rows(&path, after, limit))
            .await
            .map_err(|e| StoreError::Other(format!("the reader thread failed: {e}")))?
    }

    async fn recomputed_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafCheck>> {
        if self.pool.is_closed() {
            return Err(StoreError::Unavailable(
                "the database has been closed".into(),
            ));
        }
        let (path, after) = (self.path.clone(), seq_bound(after_seq)?);
        tokio::task::spawn_blocking(move || reader::leaf_checks(&path, after, limit))
            .await
            .map_err(|e| StoreError::Other(format!("the reader thread failed: {e}")))?
    }

    async fn merkle_nodes(&self, ids: &[NodeId]) -> StoreResult<Vec<(NodeId, Hash)>> {
        let (leaf_seqs, inner) = split_node_ids(ids);
        let mut found = Vec::with_capacity(ids.len());
        for chunk in leaf_seqs.chunks(NODES_PER_QUERY) {
            let mut q =
                QueryBuilder::<Sqlite>::new("SELECT seq, leaf_hash FROM access_log WHERE seq IN ");
            q.push_tuples(chunk, |mut b, seq| {
                b.push_bind(*seq);
            });
            for row in q.build().fetch_all(&self.pool).await? {
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
            for row in q.build().fetch_all(&self.pool).await? {
                let key: i64 = row.try_get("id")?;
                if let Some(id) = by_key.get(&key) {
                    found.push((*id, hash_from_bytes(&row.try_get::<Vec<u8>, _>("hash")?)?));
                }
            }
        }
        Ok(found)
    }

    async fn add_checkpoint(&self, c: &StoredCheckpoint) -> StoreResult<()> {
        sqlx::query("INSERT INTO checkpoints (size, root, created_at, note) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING")
            .bind(to_i64(c.size)?)
            .bind(c.root.to_vec())
            .bind(c.created_at.as_micros())
            .bind(&c.note)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        let row = sqlx::query(
            "SELECT size, root, created_at, note FROM checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    async fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
        let rows =
            sqlx::query("SELECT size, root, created_at, note FROM checkpoints ORDER BY size")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn sync_doctype(&self, doctype: &DocType) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(create_table_sql(doctype, DIALECT)))
            .execute(&mut *tx)
            .await?;
        let existing: Vec<String> = sqlx::query_scalar(EXISTING_COLUMNS)
            .bind(doctype.table_name())
            .fetch_all(&mut *tx)
            .await?;
        for sql in add_columns_sql(doctype, &existing, DIALECT)
            .into_iter()
            .chain(index_sql(doctype))
        {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn reserve_in_series(&self, prefix: &str, count: u64) -> StoreResult<u64> {
        let count = to_i64(count.max(1))?;
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO naming_series (prefix, current) VALUES ($1, $2)
             ON CONFLICT (prefix) DO UPDATE SET current = naming_series.current + $2
             RETURNING current",
        )
        .bind(prefix)
        .bind(count)
        .fetch_one(&self.pool)
        .await?;
        u64::try_from(last - count + 1)
            .map_err(|_| StoreError::Other(format!("series {prefix:?} is at {last}")))
    }

    async fn insert_documents(
        &self,
        doctype: &DocType,
        docs: &[NewDocument<'_>],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for d in docs {
            insert_one(&mut tx, doctype, &d.doc, &d.children).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_documents(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        query: &ListQuery<'_>,
    ) -> StoreResult<Vec<BTreeMap<String, SqlValue>>> {
        let (sql, binds) = list_sql(doctype, children, query, DIALECT);
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds, &[])
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| selected_values(r, doctype, query.fields))
            .collect()
    }

    async fn update_document(
        &self,
        doctype: &DocType,
        name: &str,
        values: &BTreeMap<String, SqlValue>,
        children: &[ChildRows<'_>],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let (cols, mut vals) = update_columns(doctype, values, DIALECT);
        if cols.is_empty() {
            return Err(StoreError::Other("nothing to update".into()));
        }
        vals.push(SqlValue::Text(name.to_owned()));
        let done = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(update_sql(doctype, &cols, DIALECT))),
            &vals,
            &cols,
        )
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "{} {name} not found",
                doctype.name
            )));
        }
        for child in children {
            let sql = format!(
                "DELETE FROM {} WHERE parent = $1 AND parenttype = $2 AND parentfield = $3",
                child.doctype.table_name()
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(name)
                .bind(&doctype.name)
                .bind(child.fieldname)
                .execute(&mut *tx)
                .await?;
        }
        let doc = Document {
            name: name.to_owned(),
            values: values.clone(),
            ..Default::default()
        };
        insert_children(&mut tx, doctype, &doc, children).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_document(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        name: &str,
    ) -> StoreResult<Option<Document>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE name = $1",
            select_columns(doctype),
            doctype.table_name()
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let mut doc = Document {
            name: name.to_owned(),
            values: document_values(&row, doctype)?,
            ..Default::default()
        };
        for (fieldname, child) in children {
            let sql = format!(
                "SELECT {} FROM {} WHERE parent = $1 AND parenttype = $2 AND parentfield = $3 ORDER BY idx",
                select_columns(child),
                child.table_name()
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(name)
                .bind(&doctype.name)
                .bind(*fieldname)
                .fetch_all(&self.pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut values = document_values(r, child)?;
                values.insert("name".to_owned(), SqlValue::Text(r.try_get("name")?));
                out.push(values);
            }
            doc.children.insert((*fieldname).to_owned(), out);
        }
        Ok(Some(doc))
    }
    async fn add_file(&self, f: &FileRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO files (name, file_name, is_private, attached_to_doctype, attached_to_name,
                                file_size, content_sha256, owner, creation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&f.name)
        .bind(&f.file_name)
        .bind(f.is_private)
        .bind(&f.attached_to_doctype)
        .bind(&f.attached_to_name)
        .bind(to_i64(f.file_size)?)
        .bind(&f.content_sha256)
        .bind(&f.owner)
        .bind(f.creation.as_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn file_by_url(
        &self,
        is_private: bool,
        file_name: &str,
    ) -> StoreResult<Option<FileRecord>> {
        let row = sqlx::query(const_file_select!(
            "WHERE is_private = $1 AND file_name = $2"
        ))
        .bind(is_private)
        .bind(file_name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    async fn file_by_id(&self, name: &str) -> StoreResult<Option<FileRecord>> {
        let row = sqlx::query(const_file_select!("WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    async fn list_files(&self, limit: u32, offset: u64) -> StoreResult<Vec<FileRecord>> {
        let rows = sqlx::query(const_file_select!(
            "ORDER BY creation DESC, name LIMIT $1 OFFSET $2"
        ))
        .bind(i64::from(limit))
        .bind(to_i64(offset)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(file_from_row).collect()
    }

    async fn files_of(&self, doctype: &str, name: &str) -> StoreResult<Vec<FileRecord>> {
        let rows = sqlx::query(const_file_select!(
            "WHERE attached_to_doctype = $1 AND attached_to_name = $2 ORDER BY creation, name"
        ))
        .bind(doctype)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(file_from_row).collect()
    }
}

fn checkpoint_from_row(row: &SqliteRow) -> StoreResult<StoredCheckpoint> {
    let size: i64 = row.try_get("size")?;
    Ok(StoredCheckpoint {
        size: u64::try_from(size)
            .map_err(|_| StoreError::Other(format!("checkpoint size {size} is negative")))?,
        root: hash_from_bytes(&row.try_get::<Vec<u8>, _>("root")?)?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        note: row.try_get("note")?,
    })
}

const DIALECT: Dialect = Dialect::Sqlite;
const EXISTING_COLUMNS: &str = "SELECT name FROM pragma_table_info($1)";

/// Binds document values in order. A NULL is bound with its column's type (from `columns`,
/// when known): a statement prepared with one parameter type must not later receive
/// another, which PostgreSQL would misread.
fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    values: &'q [SqlValue],
    columns: &[(&str, &str)],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    for (i, v) in values.iter().enumerate() {
        q = match v {
            SqlValue::Null => match columns.get(i).map(|(_, ty)| *ty) {
                Some("BIGINT" | "INTEGER") => q.bind(None::<i64>),
                Some("DOUBLE PRECISION" | "REAL") => q.bind(None::<f64>),
                _ => q.bind(None::<String>),
            },
            SqlValue::Int(i) => q.bind(*i),
            SqlValue::Float(f) => q.bind(*f),
            SqlValue::Text(t) => q.bind(t.as_str()),
        };
    }
    q
}

macro_rules! const_file_select {
    ($rest:literal) => {
        concat!(
            "SELECT name, file_name, is_private, attached_to_doctype, attached_to_name, file_size, \
             content_sha256, owner, creation FROM files ",
            $rest
        )
    };
}
use const_file_select;

fn file_from_row(row: &SqliteRow) -> StoreResult<FileRecord> {
    let size: i64 = row.try_get("file_size")?;
    Ok(FileRecord {
        name: row.try_get("name")?,
        file_name: row.try_get("file_name")?,
        is_private: row.try_get("is_private")?,
        attached_to_doctype: row.try_get("attached_to_doctype")?,
        attached_to_name: row.try_get("attached_to_name")?,
        file_size: u64::try_from(size)
            .map_err(|_| StoreError::Other(format!("file size {size} is negative")))?,
        content_sha256: row.try_get("content_sha256")?,
        owner: row.try_get("owner")?,
        creation: Timestamp::from_micros(row.try_get("creation")?),
    })
}

/// One document and its child rows, inside the caller's transaction.
async fn insert_one(
    conn: &mut sqlx::SqliteConnection,
    doctype: &DocType,
    doc: &Document,
    children: &[ChildRows<'_>],
) -> StoreResult<()> {
    let std_value = |k: &str| doc.values.get(k).cloned().unwrap_or(SqlValue::Null);
    let standard = vec![
        ("name", SqlValue::Text(doc.name.clone())),
        ("owner", std_value("owner")),
        ("creation", std_value("creation")),
        ("modified", std_value("modified")),
        ("modified_by", std_value("modified_by")),
    ];
    let (cols, vals) = row_columns(doctype, standard, &doc.values, DIALECT);
    bind_all(
        sqlx::query(sqlx::AssertSqlSafe(insert_sql(
            &doctype.table_name(),
            &cols,
            DIALECT,
        ))),
        &vals,
        &cols,
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("{} {} already exists", doctype.name, doc.name))
        }
        other => other,
    })?;
    insert_children(conn, doctype, doc, children).await?;
    Ok(())
}

/// The child rows of a document, inside the caller's transaction.
async fn insert_children(
    conn: &mut sqlx::SqliteConnection,
    doctype: &DocType,
    doc: &Document,
    children: &[ChildRows<'_>],
) -> StoreResult<()> {
    let std_value = |k: &str| doc.values.get(k).cloned().unwrap_or(SqlValue::Null);
    for child in children {
        for (i, row) in child.rows.iter().enumerate() {
            let standard = vec![
                (
                    "name",
                    SqlValue::Text(format!(
                        "{}-{}",
                        doc.name,
                        accesslog_core::secrets::random_hex(5)
                    )),
                ),
                ("owner", std_value("owner")),
                ("creation", std_value("creation")),
                ("modified", std_value("modified")),
                ("modified_by", std_value("modified_by")),
                ("parent", SqlValue::Text(doc.name.clone())),
                ("parenttype", SqlValue::Text(doctype.name.clone())),
                ("parentfield", SqlValue::Text(child.fieldname.to_owned())),
                (
                    "idx",
                    SqlValue::Int(i64::try_from(i + 1).unwrap_or(i64::MAX)),
                ),
            ];
            let (cols, vals) = row_columns(child.doctype, standard, row, DIALECT);
            bind_all(
                sqlx::query(sqlx::AssertSqlSafe(insert_sql(
                    &child.doctype.table_name(),
                    &cols,
                    DIALECT,
                ))),
                &vals,
                &cols,
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}
