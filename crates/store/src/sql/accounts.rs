//! Users, roles, sessions, API keys and login throttling: the same SQL on both backends.

use accesslog_core::Timestamp;
use async_trait::async_trait;

use super::{Backend, SqlBacked, SqlRow, SqlStore, Stmt};
use crate::{
    AccountStore, ApiKey, LoginAttempts, LoginFailureCounts, LoginOutcome, NewApiKey, NewSession,
    NewUser, Session, StoreError, StoreResult, User,
};

const USER_BY_EMAIL: &str =
    "SELECT id, email, full_name, enabled, created_at FROM users WHERE email = $1";
const USER_BY_ID: &str =
    "SELECT id, email, full_name, enabled, created_at FROM users WHERE id = $1";
const DELETE_SESSIONS_OF: &str =
    "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = $1)";

impl<DB: Backend> SqlStore<DB> {
    async fn user_roles(&self, user_id: i64) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch_all(
                Stmt::new("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
                    .bind(user_id),
            )
            .await?;
        rows.iter().map(|r| r.get("role")).collect()
    }

    async fn with_roles(&self, row: Option<DB::Row>) -> StoreResult<Option<User>> {
        let Some(row) = row else { return Ok(None) };
        let mut user = user_from_row(&row)?;
        user.roles = self.user_roles(user.id).await?;
        Ok(Some(user))
    }

    async fn user_id(&self, email: &str) -> StoreResult<i64> {
        self.fetch_optional(Stmt::new("SELECT id FROM users WHERE email = $1").bind(email))
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user with email {email:?}")))?
            .get("id")
    }

    /// Sets a user's column by email and signs them out everywhere, in one transaction.
    async fn update_user_and_sign_out(
        &self,
        update: Stmt<'_>,
        email: &str,
        sign_out: bool,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let updated = DB::fetch_optional(&mut *tx, update).await?;
        if updated.is_none() {
            return Err(StoreError::NotFound(format!(
                "no user with email {email:?}"
            )));
        }
        if sign_out {
            DB::execute(&mut *tx, Stmt::new(DELETE_SESSIONS_OF).bind(email)).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn user_from_row(row: &impl SqlRow) -> StoreResult<User> {
    Ok(User {
        id: row.get("id")?,
        email: row.get("email")?,
        full_name: row.get("full_name")?,
        enabled: row.get("enabled")?,
        created_at: Timestamp::from_micros(row.get("created_at")?),
        roles: Vec::new(),
    })
}

fn session_from_row(row: &impl SqlRow) -> StoreResult<Session> {
    Ok(Session {
        id_digest: row.get("id_digest")?,
        user_id: row.get("user_id")?,
        csrf_token: row.get("csrf_token")?,
        created_at: Timestamp::from_micros(row.get("created_at")?),
        last_seen_at: Timestamp::from_micros(row.get("last_seen_at")?),
        ip: row.get("ip")?,
        user_agent: row.get("user_agent")?,
        script: row.get("script")?,
    })
}

fn api_key_from_row(row: &impl SqlRow) -> StoreResult<ApiKey> {
    let micros = |col: &str| -> StoreResult<Option<Timestamp>> {
        Ok(row.get::<Option<i64>>(col)?.map(Timestamp::from_micros))
    };
    Ok(ApiKey {
        api_key: row.get("api_key")?,
        user_id: row.get("user_id")?,
        user_email: row.get("email")?,
        secret_digest: row.get("secret_digest")?,
        label: row.get("label")?,
        scopes: row
            .get::<String>("scopes")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        created_at: Timestamp::from_micros(row.get("created_at")?),
        revoked_at: micros("revoked_at")?,
        last_used_at: micros("last_used_at")?,
    })
}

/// A count read back (never negative; a negative reads as 0).
fn count(row: &impl SqlRow, col: &str) -> StoreResult<u64> {
    Ok(u64::try_from(row.get::<i64>(col)?).unwrap_or(0))
}

#[async_trait]
impl<T: SqlBacked> AccountStore for T {
    async fn create_user(&self, user: &NewUser, now: Timestamp) -> StoreResult<User> {
        let row = self
            .sql()
            .fetch_one(
                Stmt::new(
                    "INSERT INTO users (email, full_name, enabled, password_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&user.email)
                .bind(&user.full_name)
                .bind(user.enabled)
                .bind(&user.password_hash)
                .bind(now.as_micros()),
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => StoreError::Conflict(format!(
                    "a user with email {:?} already exists",
                    user.email
                )),
                other => other,
            })?;
        Ok(User {
            id: row.get("id")?,
            email: user.email.clone(),
            full_name: user.full_name.clone(),
            enabled: user.enabled,
            created_at: now,
            roles: Vec::new(),
        })
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let sql = self.sql();
        let row = sql
            .fetch_optional(Stmt::new(USER_BY_EMAIL).bind(email))
            .await?;
        sql.with_roles(row).await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let sql = self.sql();
        let row = sql.fetch_optional(Stmt::new(USER_BY_ID).bind(id)).await?;
        sql.with_roles(row).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = self
            .sql()
            .fetch_all(Stmt::new(
                "SELECT u.id, u.email, u.full_name, u.enabled, u.created_at, r.role
                 FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
                 ORDER BY u.email, r.role",
            ))
            .await?;
        let mut users: Vec<User> = Vec::new();
        for row in &rows {
            let id: i64 = row.get("id")?;
            if users.last().is_none_or(|u| u.id != id) {
                users.push(user_from_row(row)?);
            }
            if let (Some(user), Some(role)) = (users.last_mut(), row.get("role")?) {
                user.roles.push(role);
            }
        }
        Ok(users)
    }

    async fn set_user_enabled(&self, email: &str, enabled: bool) -> StoreResult<()> {
        let update = Stmt::new("UPDATE users SET enabled = $1 WHERE email = $2 RETURNING id")
            .bind(enabled)
            .bind(email);
        self.sql()
            .update_user_and_sign_out(update, email, !enabled)
            .await
    }

    async fn set_password_hash(&self, email: &str, hash: &str) -> StoreResult<()> {
        let update = Stmt::new("UPDATE users SET password_hash = $1 WHERE email = $2 RETURNING id")
            .bind(hash)
            .bind(email);
        self.sql()
            .update_user_and_sign_out(update, email, true)
            .await
    }

    async fn password_hash(&self, user_id: i64) -> StoreResult<Option<String>> {
        let row = self
            .sql()
            .fetch_optional(
                Stmt::new("SELECT password_hash FROM users WHERE id = $1").bind(user_id),
            )
            .await?;
        Ok(match row {
            Some(row) => row.get("password_hash")?,
            None => None,
        })
    }

    async fn add_role(&self, email: &str, role: &str) -> StoreResult<()> {
        let sql = self.sql();
        let user_id = sql.user_id(email).await?;
        sql.execute(
            Stmt::new(
                "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(role),
        )
        .await
    }

    async fn remove_role(&self, email: &str, role: &str) -> StoreResult<()> {
        let sql = self.sql();
        let user_id = sql.user_id(email).await?;
        sql.execute(
            Stmt::new("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
                .bind(user_id)
                .bind(role),
        )
        .await
    }

    async fn create_session(&self, s: &NewSession) -> StoreResult<()> {
        self.sql()
            .execute(
                Stmt::new(
                    "INSERT INTO sessions (id_digest, user_id, csrf_token, created_at, last_seen_at, ip, user_agent, script)
                     VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
                )
                .bind(&s.id_digest)
                .bind(s.user_id)
                .bind(&s.csrf_token)
                .bind(s.created_at.as_micros())
                .bind(&s.ip)
                .bind(&s.user_agent)
                .bind(s.script),
            )
            .await
    }

    async fn session(&self, id_digest: &str) -> StoreResult<Option<Session>> {
        let row = self
            .sql()
            .fetch_optional(
                Stmt::new(
                    "SELECT id_digest, user_id, csrf_token, created_at, last_seen_at, ip, user_agent, script
                     FROM sessions WHERE id_digest = $1",
                )
                .bind(id_digest),
            )
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_session(&self, id_digest: &str, at: Timestamp) -> StoreResult<()> {
        self.sql()
            .execute(
                Stmt::new(
                    "UPDATE sessions SET last_seen_at = $1 WHERE id_digest = $2 AND last_seen_at < $1",
                )
                .bind(at.as_micros())
                .bind(id_digest),
            )
            .await
    }

    async fn delete_session(&self, id_digest: &str) -> StoreResult<()> {
        self.sql()
            .execute(Stmt::new("DELETE FROM sessions WHERE id_digest = $1").bind(id_digest))
            .await
    }

    async fn purge_sessions(
        &self,
        idle_before: Timestamp,
        created_before: Timestamp,
    ) -> StoreResult<u64> {
        let purged = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2 RETURNING user_id",
                )
                .bind(idle_before.as_micros())
                .bind(created_before.as_micros()),
            )
            .await?;
        Ok(purged.len() as u64)
    }

    async fn create_api_key(&self, k: &NewApiKey) -> StoreResult<()> {
        let sql = self.sql();
        let exists = sql
            .fetch_optional(Stmt::new("SELECT id FROM users WHERE id = $1").bind(k.user_id))
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "no user with id {}",
                k.user_id
            )));
        }
        let scopes = k.scopes.join(" ");
        sql.execute(
            Stmt::new(
                "INSERT INTO api_keys (api_key, user_id, secret_digest, label, created_at, scopes)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&k.api_key)
            .bind(k.user_id)
            .bind(&k.secret_digest)
            .bind(&k.label)
            .bind(k.created_at.as_micros())
            .bind(scopes.as_str()),
        )
        .await
    }

    async fn api_key(&self, api_key: &str) -> StoreResult<Option<ApiKey>> {
        let row = self
            .sql()
            .fetch_optional(
                Stmt::new(
                    "SELECT k.*, u.email FROM api_keys k JOIN users u ON u.id = k.user_id
                     WHERE k.api_key = $1",
                )
                .bind(api_key),
            )
            .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn list_api_keys(&self, user_id: Option<i64>) -> StoreResult<Vec<ApiKey>> {
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT k.*, u.email FROM api_keys k JOIN users u ON u.id = k.user_id
                     WHERE CAST($1 AS BIGINT) IS NULL OR k.user_id = $1
                     ORDER BY k.created_at DESC, k.api_key",
                )
                .bind(user_id),
            )
            .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(&self, api_key: &str, at: Timestamp) -> StoreResult<()> {
        let revoked = self
            .sql()
            .fetch_optional(
                Stmt::new(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE api_key = $2 \
                     RETURNING api_key",
                )
                .bind(at.as_micros())
                .bind(api_key),
            )
            .await?;
        match revoked {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!("no API key {api_key:?}"))),
        }
    }

    async fn touch_api_key(&self, api_key: &str, at: Timestamp) -> StoreResult<()> {
        self.sql()
            .execute(
                Stmt::new("UPDATE api_keys SET last_used_at = $1 WHERE api_key = $2")
                    .bind(at.as_micros())
                    .bind(api_key),
            )
            .await
    }

    async fn begin_login_attempt(
        &self,
        account: &str,
        ip: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> StoreResult<(i64, LoginFailureCounts)> {
        let id: i64 = self
            .sql()
            .fetch_one(
                Stmt::new(
                    "INSERT INTO login_failures (account, ip, at, outcome) \
                     VALUES ($1, $2, $3, 'pending') RETURNING id",
                )
                .bind(account)
                .bind(ip)
                .bind(at.as_micros()),
            )
            .await?
            .get("id")?;
        let counts = self.count_login_attempts(account, ip, since).await?;
        Ok((id, counts))
    }

    async fn count_login_attempts(
        &self,
        account: &str,
        ip: &str,
        since: Timestamp,
    ) -> StoreResult<LoginFailureCounts> {
        let row = self
            .sql()
            .fetch_one(
                Stmt::new(
                    "SELECT
                       (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND ip = $2 AND at >= $3) AS by_pair,
                       (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND at >= $3) AS by_account,
                       (SELECT COUNT(*) FROM login_failures WHERE ip = $2 AND at >= $3) AS by_ip",
                )
                .bind(account)
                .bind(ip)
                .bind(since.as_micros()),
            )
            .await?;
        Ok(LoginFailureCounts {
            pair: count(&row, "by_pair")?,
            account: count(&row, "by_account")?,
            ip: count(&row, "by_ip")?,
        })
    }

    async fn settle_login_attempt(&self, id: i64, outcome: LoginOutcome) -> StoreResult<()> {
        let sql = match outcome {
            LoginOutcome::Failed => "UPDATE login_failures SET outcome = 'failed' WHERE id = $1",
            LoginOutcome::Throttled => {
                "UPDATE login_failures SET outcome = 'throttled' WHERE id = $1"
            }
            LoginOutcome::Withdrawn => "DELETE FROM login_failures WHERE id = $1",
            LoginOutcome::Succeeded => {
                "DELETE FROM login_failures WHERE id = $1 OR (account, ip) IN \
                 (SELECT account, ip FROM login_failures WHERE id = $1)"
            }
        };
        self.sql().execute(Stmt::new(sql).bind(id)).await
    }

    async fn login_attempts_since(
        &self,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<LoginAttempts>> {
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT account, ip,
                            SUM(CASE WHEN outcome = 'throttled' THEN 0 ELSE 1 END) AS failed,
                            SUM(CASE WHEN outcome = 'throttled' THEN 1 ELSE 0 END) AS throttled,
                            MAX(at) AS last
                     FROM login_failures WHERE at >= $1 AND outcome <> 'pending'
                     GROUP BY account, ip ORDER BY MAX(at) DESC, account, ip LIMIT $2",
                )
                .bind(since.as_micros())
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LoginAttempts {
                    account: r.get("account")?,
                    ip: r.get("ip")?,
                    failed: count(r, "failed")?,
                    throttled: count(r, "throttled")?,
                    last: Timestamp::from_micros(r.get("last")?),
                })
            })
            .collect()
    }

    async fn forget_login_attempts(&self, older_than: Timestamp) -> StoreResult<()> {
        self.sql()
            .execute(
                Stmt::new("DELETE FROM login_failures WHERE at < $1").bind(older_than.as_micros()),
            )
            .await
    }
}
