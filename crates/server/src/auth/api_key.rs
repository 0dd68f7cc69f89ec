//! API keys, read the two ways ERPNext accepts them: `Authorization: token KEY:SECRET`
//! and HTTP Basic with KEY as the user name and SECRET as the password.

use base64::Engine;

/// The key id and secret from an `Authorization` header value; `None` when the header is
/// not an API-key header at all, `Some(Err)` when it is one but malformed.
pub fn parse_authorization(value: &str) -> Option<Result<(String, String), &'static str>> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let pair = if scheme.eq_ignore_ascii_case("token") {
        rest.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim());
        match decoded.ok().and_then(|b| String::from_utf8(b).ok()) {
            Some(s) => s,
            None => {
                return Some(Err(
                    "the Basic credentials are not valid base64 of KEY:SECRET",
                ));
            }
        }
    } else {
        return None;
    };
    match pair.split_once(':') {
        Some((k, s)) if !k.is_empty() && !s.is_empty() => Some(Ok((k.to_owned(), s.to_owned()))),
        _ => Some(Err("expected KEY:SECRET")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_basic_forms_are_read() {
        assert_eq!(
            parse_authorization("token abc:def"),
            Some(Ok(("abc".into(), "def".into())))
        );
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("abc:def")
        );
        assert_eq!(
            parse_authorization(&basic),
            Some(Ok(("abc".into(), "def".into())))
        );
    }

    #[test]
    fn other_schemes_are_not_api_keys() {
        assert_eq!(parse_authorization("Bearer xyz"), None);
        assert_eq!(parse_authorization("garbage"), None);
    }

    #[test]
    fn malformed_keys_are_errors() {
        assert!(matches!(parse_authorization("token abc"), Some(Err(_))));
        assert!(matches!(parse_authorization("token :def"), Some(Err(_))));
        assert!(matches!(parse_authorization("Basic !!!"), Some(Err(_))));
    }
}
