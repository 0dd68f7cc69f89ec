//! Who a request is, asked of the upstream itself and never read from cookies the client
//! could forge (`user_id`, `full_name` and `system_user` are ignored): the `sid` cookie
//! (or parameter) and the `Authorization` header are put to
//! `GET /api/method/frappe.auth.get_logged_user`, and the user's roles are read with the
//! gate's own API key. Both answers are cached for `credential_cache_seconds`; a logout
//! drops the credential's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::classify::Params;
use crate::upstream::Upstream;

/// The most credentials (and users) kept in a cache; past it, expired ones are dropped,
/// and if none has expired the whole cache is.
const MAX_CACHED: usize = 100_000;

/// Who acted, as the upstream says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Who {
    pub user: String,
    /// Sorted.
    pub roles: Vec<String>,
    /// `session`, `api_key:<key>`, `oauth`; `None` for Guest.
    pub auth: Option<String>,
}

impl Who {
    pub fn guest() -> Self {
        Who {
            user: "Guest".to_owned(),
            roles: vec!["Guest".to_owned()],
            auth: None,
        }
    }
}

/// What a request presents: its session id and its `Authorization` header, as Frappe
/// reads them (a `sid` of `Guest` is none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credential {
    sid: Option<String>,
    authorization: Option<HeaderValue>,
}

impl Credential {
    pub fn of(headers: &HeaderMap, params: &Params) -> Self {
        let sid = cookie(headers, "sid")
            .or_else(|| params.get("sid").map(str::to_owned))
            .filter(|s| !s.is_empty() && s != "Guest");
        Credential {
            sid,
            authorization: headers.get(header::AUTHORIZATION).cloned(),
        }
    }

    pub fn is_none(&self) -> bool {
        self.sid.is_none() && self.authorization.is_none()
    }

    /// The cache key: the credential, on the site `host` names (a session of one site of
    /// a multi-site bench is nobody on another).
    fn key(&self, host: Option<&HeaderValue>) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(host.map(HeaderValue::as_bytes).unwrap_or_default());
        h.update([0]);
        h.update(self.sid.as_deref().unwrap_or_default());
        h.update([0]);
        h.update(
            self.authorization
                .as_ref()
                .map(HeaderValue::as_bytes)
                .unwrap_or_default(),
        );
        h.finalize().into()
    }

    /// How the user authenticated, for the entry (the key's id, never its secret).
    fn auth(&self) -> Option<String> {
        if self.sid.is_some() {
            return Some("session".to_owned());
        }
        let value = self.authorization.as_ref()?.to_str().ok()?;
        let (scheme, rest) = value.split_once(' ')?;
        match scheme.to_ascii_lowercase().as_str() {
            "token" => rest
                .split_once(':')
                .map(|(key, _)| format!("api_key:{key}")),
            "basic" => base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|pair| {
                    pair.split_once(':')
                        .map(|(key, _)| format!("api_key:{key}"))
                }),
            "bearer" => Some("oauth".to_owned()),
            _ => None,
        }
    }
}

/// The first cookie called `name`, URL-decoded as Frappe writes cookies.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(v.trim_matches('"'))
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// Why the user behind a credential could not be told.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IdentityError(pub String);

struct Cache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<Vec<u8>, (V, Instant)>>,
}

impl<V: Clone> Cache<V> {
    fn new(ttl: Duration) -> Self {
        Cache {
            ttl,
            entries: Mutex::default(),
        }
    }

    fn get(&self, key: &[u8]) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v.clone())
    }

    fn put(&self, key: Vec<u8>, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED {
            let now = Instant::now();
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= MAX_CACHED {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now() + self.ttl));
    }

    fn remove(&self, key: &[u8]) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }
}

/// Users by credential and roles by user, asked of the upstream and cached.
pub struct Identities {
    /// `token key:secret`, to read roles; `None`: entries carry no roles.
    api_authorization: Option<HeaderValue>,
    users: Cache<Option<String>>,
    roles: Cache<Vec<String>>,
}

impl Identities {
    pub fn new(ttl: Duration, api_key: Option<(&str, &str)>) -> Self {
        Identities {
            api_authorization: api_key
                .and_then(|(k, s)| HeaderValue::from_str(&format!("token {k}:{s}")).ok()),
            users: Cache::new(ttl),
            roles: Cache::new(ttl),
        }
    }

    /// Who `credential` is on `upstream` (whose site is chosen by `host`).
    pub async fn who(
        &self,
        upstream: &Upstream,
        credential: &Credential,
        host: Option<&HeaderValue>,
    ) -> Result<Who, IdentityError> {
        if credential.is_none() {
            return Ok(Who::guest());
        }
        let key = credential.key(host);
        let user = match self.users.get(&key) {
            Some(user) => user,
            None => {
                let user = self.ask_user(upstream, credential, host).await?;
                self.users.put(key.to_vec(), user.clone());
                user
            }
        };
        let Some(user) = user else {
            return Ok(Who::guest());
        };
        let roles = self.roles_of(upstream, &user, host).await?;
        Ok(Who {
            user,
            roles,
            auth: credential.auth(),
        })
    }

    /// Forgets what a credential was on `host`'s site (on logout).
    pub fn forget(&self, credential: &Credential, host: Option<&HeaderValue>) {
        self.users.remove(&credential.key(host));
    }

    async fn ask_user(
        &self,
        upstream: &Upstream,
        credential: &Credential,
        host: Option<&HeaderValue>,
    ) -> Result<Option<String>, IdentityError> {
        let mut headers = HeaderMap::new();
        if let Some(sid) = &credential.sid {
            let encoded: String =
                percent_encoding::utf8_percent_encode(sid, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            if let Ok(v) = HeaderValue::from_str(&format!("sid={encoded}")) {
                headers.insert(header::COOKIE, v);
            }
        }
        if let Some(a) = &credential.authorization {
            headers.insert(header::AUTHORIZATION, a.clone());
        }
        let (status, body) = upstream
            .get_json("/api/method/frappe.auth.get_logged_user", headers, host)
            .await
            .map_err(IdentityError)?;
        match status {
            StatusCode::OK => match body.get("message").and_then(Value::as_str) {
                Some("Guest") | None => Ok(None),
                Some(user) => Ok(Some(user.to_owned())),
            },
            // Not a valid session or key: the request is Guest's.
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST => Ok(None),
            other => Err(IdentityError(format!(
                "the upstream answered {other} when asked who the user is (frappe.auth.get_logged_user)"
            ))),
        }
    }

    async fn roles_of(
        &self,
        upstream: &Upstream,
        user: &str,
        host: Option<&HeaderValue>,
    ) -> Result<Vec<String>, IdentityError> {
        let Some(authorization) = &self.api_authorization else {
            return Ok(Vec::new());
        };
        let key = [
            host.map(HeaderValue::as_bytes).unwrap_or_default(),
            b"\0",
            user.as_bytes(),
        ]
        .concat();
        if let Some(roles) = self.roles.get(&key) {
            return Ok(roles);
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, authorization.clone());
        let path = format!(
            "/api/resource/User/{}",
            percent_encoding::utf8_percent_encode(user, percent_encoding::NON_ALPHANUMERIC)
        );
        let (status, body) = upstream
            .get_json(&path, headers, host)
            .await
            .map_err(IdentityError)?;
        if status != StatusCode::OK {
            return Err(IdentityError(format!(
                "the upstream answered {status} when the gate read the roles of {user} with its API key ([gate] api_key must belong to a System Manager on the upstream)"
            )));
        }
        let mut roles: Vec<String> = body["data"]["roles"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r.get("role").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        roles.sort();
        roles.dedup();
        self.roles.put(key, roles.clone());
        Ok(roles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_as_frappe_reads_them() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("user_id=admin%40example.com; sid=abc123; full_name=X"),
        );
        let c = Credential::of(&h, &Params::default());
        assert_eq!(c.sid.as_deref(), Some("abc123"));
        assert_eq!(c.auth().as_deref(), Some("session"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("sid=Guest; user_id=admin"),
        );
        assert!(Credential::of(&h, &Params::default()).is_none());
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("token k1:s1"),
        );
        assert_eq!(
            Credential::of(&h, &Params::default()).auth().as_deref(),
            Some("api_key:k1")
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic azI6czI="),
        );
        assert_eq!(
            Credential::of(&h, &Params::default()).auth().as_deref(),
            Some("api_key:k2")
        );
        assert_eq!(
            Credential::of(&HeaderMap::new(), &Params::from_query("sid=zz"))
                .sid
                .as_deref(),
            Some("zz")
        );
    }
}
