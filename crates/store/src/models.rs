//! The rows the store hands out and takes in.

use accesslog_core::Timestamp;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    /// Sorted by name.
    pub roles: Vec<String>,
}

impl User {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub full_name: String,
    pub enabled: bool,
    /// `None`: the user cannot log in with a password (API keys only).
    pub password_hash: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewSession {
    pub id_digest: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub ip: String,
    pub user_agent: String,
    /// Opened by a script (no browser markers at login): writes need no CSRF token.
    pub script: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id_digest: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub ip: String,
    pub user_agent: String,
    pub script: bool,
}

#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub api_key: String,
    pub user_id: i64,
    pub secret_digest: String,
    pub label: String,
    /// e.g. `["auditor"]`.
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub api_key: String,
    pub user_id: i64,
    pub user_email: String,
    #[serde(skip)]
    pub secret_digest: String,
    pub label: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// Unsettled and failed login attempts in a window, counted three ways.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginFailureCounts {
    /// For this account from this address.
    pub pair: u64,
    /// For this account from anywhere.
    pub account: u64,
    /// From this address, for any account.
    pub ip: u64,
}

/// How a login attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The password was right: the attempt and its pair's earlier failures are forgotten.
    Succeeded,
    /// The password was never checked (the server was busy): only the attempt is forgotten.
    Withdrawn,
    /// The password was checked and was wrong (or the account is unknown).
    Failed,
    /// Refused before the password was looked at: a throttle was reached.
    Throttled,
}

/// Failed or throttled logins of one account from one address, for System Managers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginAttempts {
    pub account: String,
    pub ip: String,
    pub failed: u64,
    pub throttled: u64,
    pub last: crate::Timestamp,
}

/// A file attached to a document (ERPNext's `File`). The bytes are stored apart, named by
/// their SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    /// The file's id.
    pub name: String,
    /// Unique among private (or among public) files; the last segment of its URL.
    pub file_name: String,
    pub is_private: bool,
    pub attached_to_doctype: Option<String>,
    pub attached_to_name: Option<String>,
    pub file_size: u64,
    pub content_sha256: String,
    pub owner: String,
    pub creation: Timestamp,
}

impl FileRecord {
    /// `/private/files/<file_name>` or `/files/<file_name>`, as ERPNext writes it.
    pub fn file_url(&self) -> String {
        if self.is_private {
            format!("/private/files/{}", self.file_name)
        } else {
            format!("/files/{}", self.file_name)
        }
    }
}
