//! Percent-encoding of what the server writes into URLs, and decoding of what it reads from
//! them: one place, on the `percent-encoding` crate (the one `url` and `reqwest` use).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

/// Everything but RFC 3986's unreserved characters: for a path segment or a query value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, keeping `/`: for a whole path carried in a query value (`/login?next=…`).
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// `s` as a path segment or query value.
pub(crate) fn percent(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// `s`, a path, as a query value that keeps its slashes readable.
pub(crate) fn percent_path(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}

/// `path`, with `pairs` as its query string when there are any.
pub(crate) fn with_query<K: Serialize, V: Serialize>(
    path: &str,
    pairs: impl IntoIterator<Item = (K, V)>,
) -> String {
    let qs = serde_urlencoded::to_string(pairs.into_iter().collect::<Vec<_>>()).unwrap_or_default();
    if qs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{qs}")
    }
}

/// `%41` → `A` (and `+` → space in a form or query value); the bytes as they are, so that
/// invalid UTF-8 can be reported rather than guessed. A `%` not followed by two hex digits
/// stays as it is.
pub(crate) fn percent_decode(raw: &str, plus_is_space: bool) -> Vec<u8> {
    if plus_is_space && raw.contains('+') {
        percent_encoding::percent_decode_str(&raw.replace('+', " ")).collect()
    } else {
        percent_encoding::percent_decode_str(raw).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_keep_only_unreserved_characters() {
        assert_eq!(
            percent("Sales Invoice/1?a=b&c"),
            "Sales%20Invoice%2F1%3Fa%3Db%26c"
        );
        assert_eq!(percent("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent("é"), "%C3%A9");
    }

    #[test]
    fn paths_keep_their_slashes() {
        assert_eq!(percent_path("/app/a b?c=d&e"), "/app/a%20b%3Fc%3Dd%26e");
    }

    #[test]
    fn decoding_is_bytewise_and_plus_only_in_forms() {
        assert_eq!(percent_decode("a%20b+c", false), b"a b+c");
        assert_eq!(percent_decode("a%20b+c%2B", true), b"a b c+");
        assert_eq!(percent_decode("%zz%4", false), b"%zz%4");
        assert_eq!(percent_decode("%FF", false), [0xFF]);
        assert_eq!(percent_decode(&percent("x/y z"), false), b"x/y z");
    }
}
