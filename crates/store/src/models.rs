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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginFailureCounts {
    pub account: u64,
    pub ip: u64,
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
