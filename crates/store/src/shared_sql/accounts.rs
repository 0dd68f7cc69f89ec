//! `impl_account_store!`: users, roles, sessions, API keys and throttling, the same SQL on
//! both backends.

/// Implements `AccountStore` (users, roles, sessions, API keys, login throttling) for a
/// backend's store type, whose rows are `$row`.
#[macro_export]
macro_rules! impl_account_store {
    ($store:ident, $row:ty) => {
        mod account_store {
            #[allow(unused_imports)]
            use super::*;

            use accesslog_core::Timestamp;
            use async_trait::async_trait;
            use sqlx::Row;
            use $crate::{
                AccountStore, ApiKey, LoginAttempts, LoginFailureCounts, LoginOutcome, NewApiKey, NewSession, NewUser, Session,
                StoreError, StoreResult, User,
            };

            impl super::$store {
                async fn user_roles(&self, user_id: i64) -> StoreResult<Vec<String>> {
                    let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
                        .bind(user_id)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter()
                        .map(|r| r.try_get("role").map_err(StoreError::from))
                        .collect()
                }

                async fn with_roles(&self, row: Option<$row>) -> StoreResult<Option<User>> {
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

            fn user_from_row(row: &$row) -> StoreResult<User> {
                Ok(User {
                    id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    full_name: row.try_get("full_name")?,
                    enabled: row.try_get("enabled")?,
                    created_at: Timestamp::from_micros(row.try_get("created_at")?),
                    roles: Vec::new(),
                })
            }

            fn session_from_row(row: &$row) -> StoreResult<Session> {
                Ok(Session {
                    id_digest: row.try_get("id_digest")?,
                    user_id: row.try_get("user_id")?,
                    csrf_token: row.try_get("csrf_token")?,
                    created_at: Timestamp::from_micros(row.try_get("created_at")?),
                    last_seen_at: Timestamp::from_micros(row.try_get("last_seen_at")?),
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    script: row.try_get("script")?,
                })
            }

            fn api_key_from_row(row: &$row) -> StoreResult<ApiKey> {
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
            impl AccountStore for super::$store {
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
                        "INSERT INTO sessions (id_digest, user_id, csrf_token, created_at, last_seen_at, ip, user_agent, script)
                         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
                    )
                    .bind(&s.id_digest)
                    .bind(s.user_id)
                    .bind(&s.csrf_token)
                    .bind(s.created_at.as_micros())
                    .bind(&s.ip)
                    .bind(&s.user_agent)
                    .bind(s.script)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn session(&self, id_digest: &str) -> StoreResult<Option<Session>> {
                    let row = sqlx::query(
                        "SELECT id_digest, user_id, csrf_token, created_at, last_seen_at, ip, user_agent, script
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
                         WHERE CAST($1 AS BIGINT) IS NULL OR k.user_id = $1
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

                async fn begin_login_attempt(
                    &self,
                    account: &str,
                    ip: &str,
                    at: Timestamp,
                    since: Timestamp,
                ) -> StoreResult<(i64, LoginFailureCounts)> {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO login_failures (account, ip, at, outcome) \
                         VALUES ($1, $2, $3, 'pending') RETURNING id",
                    )
                    .bind(account)
                    .bind(ip)
                    .bind(at.as_micros())
                    .fetch_one(&self.pool)
                    .await?;
                    let counts = self.count_login_attempts(account, ip, since).await?;
                    Ok((id, counts))
                }

                async fn count_login_attempts(
                    &self,
                    account: &str,
                    ip: &str,
                    since: Timestamp,
                ) -> StoreResult<LoginFailureCounts> {
                    let row = sqlx::query(
                        "SELECT
                           (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND ip = $2 AND at >= $3) AS by_pair,
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
                        pair: count("by_pair")?,
                        account: count("by_account")?,
                        ip: count("by_ip")?,
                    })
                }

                async fn settle_login_attempt(
                    &self,
                    id: i64,
                    outcome: LoginOutcome,
                ) -> StoreResult<()> {
                    let sql = match outcome {
                        LoginOutcome::Failed => {
                            "UPDATE login_failures SET outcome = 'failed' WHERE id = $1"
                        }
                        LoginOutcome::Throttled => {
                            "UPDATE login_failures SET outcome = 'throttled' WHERE id = $1"
                        }
                        LoginOutcome::Withdrawn => "DELETE FROM login_failures WHERE id = $1",
                        LoginOutcome::Succeeded => {
                            "DELETE FROM login_failures WHERE id = $1 OR (account, ip) IN \
                             (SELECT account, ip FROM login_failures WHERE id = $1)"
                        }
                    };
                    sqlx::query(sql).bind(id).execute(&self.pool).await?;
                    Ok(())
                }

                async fn login_attempts_since(
                    &self,
                    since: Timestamp,
                    limit: u32,
                ) -> StoreResult<Vec<LoginAttempts>> {
                    let rows = sqlx::query(
                        "SELECT account, ip,
                                SUM(CASE WHEN outcome = 'throttled' THEN 0 ELSE 1 END) AS failed,
                                SUM(CASE WHEN outcome = 'throttled' THEN 1 ELSE 0 END) AS throttled,
                                MAX(at) AS last
                         FROM login_failures WHERE at >= $1 AND outcome <> 'pending'
                         GROUP BY account, ip ORDER BY MAX(at) DESC, account, ip LIMIT $2",
                    )
                    .bind(since.as_micros())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let n = |col: &str| -> StoreResult<u64> {
                                Ok(u64::try_from(r.try_get::<i64, _>(col)?).unwrap_or(0))
                            };
                            Ok(LoginAttempts {
                                account: r.try_get("account")?,
                                ip: r.try_get("ip")?,
                                failed: n("failed")?,
                                throttled: n("throttled")?,
                                last: Timestamp::from_micros(r.try_get("last")?),
                            })
                        })
                        .collect()
                }

                async fn forget_login_attempts(&self, older_than: Timestamp) -> StoreResult<()> {
                    sqlx::query("DELETE FROM login_failures WHERE at < $1")
                        .bind(older_than.as_micros())
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }
            }
        }
    };
}
