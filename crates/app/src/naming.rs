//! Naming new documents by their type's rule: a series (`SINV-.#####` → `SINV-00001`), a
//! field's value, a name the creator gives, or a random one.

use std::collections::BTreeMap;

use accesslog_core::doctype::{DocType, Naming};
use accesslog_store::{SqlValue, Store};

use crate::{AppError, AppResult};

/// Splits `SINV-.#####` into the prefix `SINV-` and the width 5.
pub fn parse_series(series: &str) -> Option<(&str, usize)> {
    let (prefix, hashes) = series.rsplit_once('.')?;
    let ok = !prefix.is_empty()
        && !prefix.contains('.')
        && !hashes.is_empty()
        && hashes.bytes().all(|b| b == b'#');
    ok.then_some((prefix, hashes.len()))
}

/// A document name must be printable, without `/` (it is a URL segment), at most 140
/// characters (ERPNext's limit).
pub fn check_name(name: &str) -> AppResult<()> {
    let ok = !name.trim().is_empty()
        && name.chars().count() <= 140
        && !name.chars().any(|c| c.is_control() || c == '/')
        && name.trim() == name;
    if ok {
        Ok(())
    } else {
        Err(AppError::Invalid(format!(
            "{name:?} cannot be a document name: use 1 to 140 printable characters, no '/', no surrounding spaces"
        )))
    }
}

/// The name for a new document of `doctype`.
pub async fn new_name(
    store: &dyn Store,
    doctype: &DocType,
    values: &BTreeMap<String, SqlValue>,
    given: Option<&str>,
) -> AppResult<String> {
    let name = match &doctype.naming {
        Naming::Series(series) => {
            let (prefix, width) = parse_series(series).ok_or_else(|| {
                AppError::Internal(format!("{}: bad naming series {series:?}", doctype.name))
            })?;
            let n = store.next_in_series(prefix).await?;
            format!("{prefix}{n:0width$}")
        }
        Naming::Field(field) => match values.get(field) {
            Some(SqlValue::Text(t)) => t.clone(),
            Some(SqlValue::Int(i)) => i.to_string(),
            _ => {
                return Err(AppError::Invalid(format!(
                    "{} is named by its {field}, which is missing",
                    doctype.name
                )));
            }
        },
        Naming::Prompt => given.map(str::to_owned).ok_or_else(|| {
            AppError::Invalid(format!("give the new {}'s name in \"name\"", doctype.name))
        })?,
        Naming::Hash => accesslog_core::secrets::random_hex(5),
    };
    check_name(&name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_split_into_prefix_and_width() {
        assert_eq!(parse_series("SINV-.#####"), Some(("SINV-", 5)));
        assert_eq!(parse_series("EMP-.####"), Some(("EMP-", 4)));
        assert_eq!(
            parse_series("ACC-SINV-.YYYY.-.###"),
            None,
            "only plain series for now"
        );
        assert_eq!(parse_series("SINV-"), None);
        assert_eq!(parse_series(".###"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("SINV-00001").is_ok());
        assert!(check_name("Ünïcode GmbH & Co.").is_ok());
        for bad in ["", " x", "a/b", "a\nb", &"x".repeat(141)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
