//! The PostgreSQL backend: one database shared by many stateless app servers.
//!
//! Every connection runs with `synchronous_commit=on`, so a commit has reached the
//! server's disk before the call returns; the Access Log depends on that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::str::FromStr;
use std::time::Duration;

use accesslog_core::Timestamp;
use accesslog_core::doctype::DocType;
use accesslog_core::entry::{Entry, Event};
use accesslog_core::merkle::{Hash, NodeId};
use accesslog_store::log::{
    ENTRY_COLUMNS, Extension, entry_from_row, extend, frontier_from_stored, hash_from_bytes,
    seq_bound, split_node_ids, to_i64,
};
use accesslog_store::records::{
    add_columns_sql, create_table_sql, document_values, index_sql, insert_sql, list_sql,
    row_columns, select_columns, selected_values, update_columns, update_sql,
};
use accesslog_store::{
    ApiKey, Appended, FileRecord, LeafRow, LogHead, LoginFailureCounts, NewApiKey, NewSession,
    NewUser, Session, Store, StoreError, StoreResult, StoredCheckpoint, User,
};
use accesslog_store::{
    ChildRows, Dialect, Document, DocumentStore, ListQuery, LogStore, NewDocument, SqlValue,
};
use async_trait::async_trait;
use sqlx::Row;
use std::collections::BTreeMap;

const INSERT_ENTRIES: &str = "INSERT INTO access_log (seq, timestamp, \"user\", activity, method, \
    export_from, reference_document, report_name, print_format, file_type, filters, columns, \
    page, row_count, byte_count, content_sha256, outcome, reason, ip, user_agent, request_id, \
    roles, auth, source, leaf_hash) \
    SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], \
    $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], \
    $13::TEXT[], $14::BIGINT[], $15::BIGINT[], $16::TEXT[], $17::TEXT[], $18::TEXT[], \
    $19::TEXT[], $20::TEXT[], $21::TEXT[], $22::TEXT[], $23::TEXT[], $24::TEXT[], $25::BYTEA[])";

/// A batch of entries as one array per column, for `INSERT_ENTRIES`.
#[derive(Default)]
struct Columns {
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
    fn with_capacity(_n: usize) -> Self {
        Self::default()
    }

    fn push(&mut self, entry: &Entry, leaf: &Hash) -> StoreResult<()> {
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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// One long-lived connection for Access Log appends: warm, and never pinged.
    writer: PgPool,
}

impl PgStore {
    /// Connects to a `postgres://…` URL and runs the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(Self::options(url)?).await
    }

    /// Connects with every table in `schema` (created if missing): how tests get a fresh,
    /// private database in a shared server.
    pub async fn connect_in_schema(url: &str, schema: &str) -> StoreResult<Self> {
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::Other(format!("bad schema name {schema:?}")));
        }
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
        self.pool.close().await;
    }

    /// Drops a schema made by [`PgStore::connect_in_schema`], with everything in it, and
    /// closes this store. For test harnesses; never called by the server.
    pub async fn drop_schema(self, schema: &str) -> StoreResult<()> {
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::Other(format!("bad schema name {schema:?}")));
        }
        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&self.pool)
            .await?;
        self.pool.close().await;
        self.writer.close().await;
        Ok(())
    }

    fn options(url: &str) -> StoreResult<PgConnectOptions> {
        PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))
    }

    async fn connect_with(options: PgConnectOptions) -> StoreResult<Self> {
        let options = options.options([("synchronous_commit", "on")]);
        let options_for_writer = options.clone();
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
        Ok(Self { pool, writer })
    }

    /// The pool, for code in this workspace that needs SQL beyond the trait (tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
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

    async fn with_roles(&self, row: Option<PgRow>) -> StoreResult<Option<User>> {
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

fn user_from_row(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        full_name: row.try_get("full_name")?,
        enabled: row.try_get("enabled")?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        roles: Vec::new(),
    })
}

fn session_from_row(row: &PgRow) -> StoreResult<Session> {
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

fn api_key_from_row(row: &PgRow) -> StoreResult<ApiKey> {
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
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn backup_to(&self, _path: &std::path::Path) -> StoreResult<()> {
        Err(StoreError::Other(
            "a PostgreSQL site is backed up with PostgreSQL's own tools: pg_dump --format=custom DBNAME > FILE".to_owned(),
        ))
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
             WHERE $1::BIGINT IS NULL OR k.user_id = $1
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
impl LogStore for PgStore {
    async fn append_entries(&self, events: &[Event], at: Timestamp) -> StoreResult<Appended> {
        // The row lock on the tree state serialises appenders across every server sharing
        // this database, so two can never both read the same size.
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query("SELECT size, frontier FROM log_state WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
        let frontier = frontier_from_stored(
            row.try_get("size")?,
            &row.try_get::<Vec<u8>, _>("frontier")?,
        )?;
        let Extension {
            entries,
            leaf_hashes,
            nodes,
            frontier,
        } = extend(frontier, events, at)?;

        // One statement whose text never changes, whatever the batch size: the columns go
        // as arrays and UNNEST turns them back into rows.
        let mut c = Columns::with_capacity(entries.len());
        for (entry, leaf) in entries.iter().zip(&leaf_hashes) {
            c.push(entry, leaf)?;
        }
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
            .execute(&mut *tx)
            .await?;
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
        sqlx::query("UPDATE log_state SET size = $1, frontier = $2 WHERE id = 1")
            .bind(to_i64(frontier.size())?)
            .bind(frontier.to_bytes())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Appended {
            entries,
            leaf_hashes,
            size: frontier.size(),
            root: frontier.root(),
        })
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
        let sql = format!(
            "SELECT {ENTRY_COLUMNS}, leaf_hash FROM access_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seq_bound(after_seq)?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let leaf = row
                    .try_get::<Option<Vec<u8>>, _>("leaf_hash")
                    .ok()
                    .flatten()
                    .and_then(|b| hash_from_bytes(&b).ok());
                Ok(LeafRow {
                    seq: row.try_get("seq")?,
                    entry: entry_from_row(row).map_err(|e| e.to_string()),
                    leaf,
                })
            })
            .collect()
    }

    async fn merkle_nodes(&self, ids: &[NodeId]) -> StoreResult<Vec<(NodeId, Hash)>> {
        let (leaf_seqs, inner) = split_node_ids(ids);
        let mut found = Vec::with_capacity(ids.len());
        let rows = sqlx::query("SELECT seq, leaf_hash FROM access_log WHERE seq = ANY($1)")
            .bind(&leaf_seqs)
            .fetch_all(&self.pool)
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
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let key: i64 = row.try_get("id")?;
            if let Some(id) = by_key.get(&key) {
                found.push((*id, hash_from_bytes(&row.try_get::<Vec<u8>, _>("hash")?)?));
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
impl DocumentStore for PgStore {
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

fn checkpoint_from_row(row: &PgRow) -> StoreResult<StoredCheckpoint> {
    let size: i64 = row.try_get("size")?;
    Ok(StoredCheckpoint {
        size: u64::try_from(size)
            .map_err(|_| StoreError::Other(format!("checkpoint size {size} is negative")))?,
        root: hash_from_bytes(&row.try_get::<Vec<u8>, _>("root")?)?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        note: row.try_get("note")?,
    })
}

const DIALECT: Dialect = Dialect::Postgres;
const EXISTING_COLUMNS: &str = "SELECT column_name::TEXT FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1";

/// Binds document values in order. A NULL is bound with its column's type (from `columns`,
/// when known): a statement prepared with one parameter type must not later receive
/// another, which PostgreSQL would misread.
fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    values: &'q [SqlValue],
    columns: &[(&str, &str)],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
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

fn file_from_row(row: &PgRow) -> StoreResult<FileRecord> {
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
    conn: &mut sqlx::PgConnection,
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
    conn: &mut sqlx::PgConnection,
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
