//! Roles: the built-in `System Manager`, plus whatever a site declares in `site.toml`.

use std::fmt;

/// The one built-in role. Only System Managers review the Access Log.
pub const SYSTEM_MANAGER: &str = "System Manager";

/// A role name: non-empty, at most 140 characters (ERPNext's limit for names), printable.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Role(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid role name {0:?}: a role name is 1 to 140 printable characters")]
pub struct InvalidRole(pub String);

impl Role {
    pub fn new(name: &str) -> Result<Self, InvalidRole> {
        let trimmed = name.trim();
        let ok = !trimmed.is_empty()
            && trimmed.chars().count() <= 140
            && !trimmed.chars().any(char::is_control);
        if ok {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(InvalidRole(name.to_owned()))
        }
    }

    pub fn system_manager() -> Self {
        Self(SYSTEM_MANAGER.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_system_manager(&self) -> bool {
        self.0 == SYSTEM_MANAGER
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_trimmed_and_checked() {
        assert_eq!(
            Role::new("  Sales User ").map(|r| r.0),
            Ok("Sales User".to_owned())
        );
        assert!(Role::new("").is_err());
        assert!(Role::new("bad\nrole").is_err());
        assert!(Role::new(&"x".repeat(141)).is_err());
        assert!(Role::new(SYSTEM_MANAGER).is_ok_and(|r| r.is_system_manager()));
    }
}
