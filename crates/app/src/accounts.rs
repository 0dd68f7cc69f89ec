//! Account operations shared by the CLI and the server: creating users, setting passwords,
//! granting roles, issuing and revoking API keys. Input is checked here, once.

use accesslog_core::accounts::normalize_email;
use accesslog_core::secrets::{hash_password, random_hex, token_digest};
use accesslog_core::{Clock, Role};
use accesslog_site::Settings;
use accesslog_store::{ApiKey, NewApiKey, NewUser, Store, StoreError, User};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    InvalidEmail(#[from] accesslog_core::accounts::InvalidEmail),
    #[error(
        "unknown role {role:?}; this site's roles are: {known}. Add new roles to `roles` in site.toml"
    )]
    UnknownRole { role: String, known: String },
    #[error(
        "unknown API key scope {0:?}; the only scope is \"auditor\" (reads the Access Log and its proofs)"
    )]
    UnknownScope(String),
    #[error("the full name is empty")]
    EmptyName,
    #[error(transparent)]
    Secret(#[from] accesslog_core::secrets::SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A freshly issued API key. The secret is shown once and never stored.
#[derive(Debug)]
pub struct IssuedApiKey {
    pub api_key: String,
    pub api_secret: String,
}

fn check_role(settings: &Settings, role: &str) -> Result<Role, AccountError> {
    let known = || {
        settings
            .roles
            .iter()
            .map(Role::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match Role::new(role) {
        Ok(r) if settings.knows_role(r.as_str()) => Ok(r),
        _ => Err(AccountError::UnknownRole {
            role: role.to_owned(),
            known: known(),
        }),
    }
}

/// Creates an enabled user with the given roles. `password: None` makes a user who can
/// only use API keys.
pub async fn add_user(
    store: &dyn Store,
    clock: &dyn Clock,
    settings: &Settings,
    email: &str,
    full_name: &str,
    password: Option<&str>,
    roles: &[String],
) -> Result<User, AccountError> {
    let email = normalize_email(email)?;
    let full_name = full_name.trim();
    if full_name.is_empty() {
        return Err(AccountError::EmptyName);
    }
    let roles = roles
        .iter()
        .map(|r| check_role(settings, r))
        .collect::<Result<Vec<_>, _>>()?;
    let password_hash = password.map(hash_password).transpose()?;
    let new = NewUser {
        email: email.clone(),
        full_name: full_name.to_owned(),
        enabled: true,
        password_hash,
    };
    store.create_user(&new, clock.now()).await?;
    for role in &roles {
        store.add_role(&email, role.as_str()).await?;
    }
    Ok(store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {email:?} vanished after creation")))?)
}

pub async fn set_password(
    store: &dyn Store,
    email: &str,
    password: &str,
) -> Result<(), AccountError> {
    let email = normalize_email(email)?;
    let hash = hash_password(password)?;
    store.set_password_hash(&email, &hash).await?;
    Ok(())
}

pub async fn add_role(
    store: &dyn Store,
    settings: &Settings,
    email: &str,
    role: &str,
) -> Result<(), AccountError> {
    let email = normalize_email(email)?;
    let role = check_role(settings, role)?;
    store.add_role(&email, role.as_str()).await?;
    Ok(())
}

pub async fn set_enabled(
    store: &dyn Store,
    email: &str,
    enabled: bool,
) -> Result<(), AccountError> {
    let email = normalize_email(email)?;
    store.set_user_enabled(&email, enabled).await?;
    Ok(())
}

/// The scopes an API key may carry. `auditor`: read the Access Log and its proofs.
pub const API_KEY_SCOPES: [&str; 1] = [AUDITOR_SCOPE];
pub const AUDITOR_SCOPE: &str = "auditor";

/// Issues a new API key for a user: a 15-character key id (as long as ERPNext's) and a
/// 32-character secret, of which only the SHA-256 is stored.
pub async fn create_api_key(
    store: &dyn Store,
    clock: &dyn Clock,
    email: &str,
    label: &str,
    scopes: &[String],
) -> Result<IssuedApiKey, AccountError> {
    for scope in scopes {
        if !API_KEY_SCOPES.contains(&scope.as_str()) {
            return Err(AccountError::UnknownScope(scope.clone()));
        }
    }
    let email = normalize_email(email)?;
    let user = store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no user with email {email:?}")))?;
    let api_key = random_hex(8)[..15].to_owned();
    let api_secret = random_hex(16);
    store
        .create_api_key(&NewApiKey {
            api_key: api_key.clone(),
            user_id: user.id,
            secret_digest: token_digest(&api_secret),
            label: label.trim().to_owned(),
            scopes: scopes.to_vec(),
            created_at: clock.now(),
        })
        .await?;
    Ok(IssuedApiKey {
        api_key,
        api_secret,
    })
}

pub async fn revoke_api_key(
    store: &dyn Store,
    clock: &dyn Clock,
    api_key: &str,
) -> Result<(), AccountError> {
    store.revoke_api_key(api_key.trim(), clock.now()).await?;
    Ok(())
}

pub async fn list_api_keys(
    store: &dyn Store,
    email: Option<&str>,
) -> Result<Vec<ApiKey>, AccountError> {
    let user_id = match email {
        Some(e) => {
            let e = normalize_email(e)?;
            let user = store
                .user_by_email(&e)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("no user with email {e:?}")))?;
            Some(user.id)
        }
        None => None,
    };
    Ok(store.list_api_keys(user_id).await?)
}
