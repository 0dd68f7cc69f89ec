//! Account identifiers: users log in with an email address, kept in one normal form.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid email address {0:?}: expected something like name@example.com")]
pub struct InvalidEmail(pub String);

/// Trims and lower-cases an email address and checks its shape (one `@`, something on
/// both sides, no spaces, at most 254 characters). Deliverability is not our business.
pub fn normalize_email(raw: &str) -> Result<String, InvalidEmail> {
    let email = raw.trim().to_lowercase();
    let shape_ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && domain != "."
        }
        None => false,
    };
    let chars_ok = !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if shape_ok && chars_ok && email.len() <= 254 {
        Ok(email)
    } else {
        Err(InvalidEmail(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            normalize_email("  Admin@Example.COM "),
            Ok("admin@example.com".to_owned())
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "admin",
            "@example.com",
            "admin@",
            "a@b@c",
            "a b@example.com",
            "a@.",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
