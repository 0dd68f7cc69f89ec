//! Queries written by a site (query reports): named parameters turned into positional
//! ones, and the checks that keep such a query to reading the site's documents.
//!
//! A report's SQL names its parameters `:from_date` (or ERPNext's `%(from_date)s`); each
//! becomes `$N` (which both SQLite and PostgreSQL take), bound to the filter's value, so a
//! value is never part of the SQL text.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use crate::SqlValue;

/// What receives each row of a query as it is read; `Break` stops reading.
pub type RowSink<'a> = dyn FnMut(&[SqlValue]) -> ControlFlow<()> + Send + 'a;

/// Tables of the system itself, which a report may not read (the Access Log is for System
/// Managers through its own pages; accounts and secrets are for nobody).
///
/// This list only gives a friendly error early (when a site's reports are loaded). The
/// barrier is in each backend: on PostgreSQL the report role, which may read document
/// tables only; on SQLite an authorizer that allows reading `tab_…` tables and a list of
/// functions, nothing else.
const SYSTEM_TABLES: &str = "access_log access_log_review merkle_nodes log_state checkpoints users \
    user_roles sessions api_keys login_failures naming_series files _sqlx_migrations";

/// The error for a report query that its backend refused to run because it reached for
/// something other than the site's documents; `message` says what it tried.
pub fn refused(message: &str) -> crate::StoreError {
    crate::StoreError::Refused(message.to_owned())
}

/// The pieces of a query: text outside quotes and comments (where parameters and table
/// names count), and everything else kept as it is.
enum Piece<'a> {
    Code(&'a str),
    Other(&'a str),
}

fn pieces(sql: &str) -> Result<Vec<Piece<'_>>, String> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let end = match (bytes[i], bytes.get(i + 1)) {
            (b'\'', _) | (b'"', _) => {
                let quote = bytes[i];
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => return Err("a quoted string or name is not closed".to_owned()),
                        Some(&c) if c == quote && bytes.get(j + 1) == Some(&quote) => j += 2,
                        Some(&c) if c == quote => break j + 1,
                        Some(_) => j += 1,
                    }
                }
            }
            (b'-', Some(b'-')) => sql[i..].find('\n').map_or(bytes.len(), |n| i + n),
            (b'/', Some(b'*')) => match sql[i + 2..].find("*/") {
                Some(n) => i + 2 + n + 2,
                None => return Err("a /* comment is not closed".to_owned()),
            },
            _ => {
                i += 1;
                continue;
            }
        };
        if start < i {
            out.push(Piece::Code(&sql[start..i]));
        }
        out.push(Piece::Other(&sql[i..end]));
        start = end;
        i = end;
    }
    if start < bytes.len() {
        out.push(Piece::Code(&sql[start..]));
    }
    Ok(out)
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Checks that `sql` is one query that only reads: it starts with `SELECT` or `WITH`, has
/// no second statement, and names none of the system's own tables.
pub fn check_read_only(sql: &str) -> Result<(), String> {
    let code: String = pieces(sql)?
        .into_iter()
        .map(|p| match p {
            Piece::Code(c) => c.to_ascii_lowercase(),
            // A quoted name is still a name: `"access_log"` is the same table.
            Piece::Other(q) if q.starts_with('"') => {
                format!(" {} ", q.trim_matches('"').to_ascii_lowercase())
            }
            Piece::Other(_) => " ".to_owned(),
        })
        .collect();
    let trimmed = code.trim().trim_end_matches(';').trim_end();
    let first: String = trimmed
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    if first != "select" && first != "with" {
        return Err("a report's query must be one SELECT (or WITH … SELECT)".to_owned());
    }
    if trimmed.contains(';') {
        return Err("a report's query must be a single statement (it has a ';' inside)".to_owned());
    }
    let words: Vec<&str> = trimmed
        .split(|c: char| !is_word(c as u8) || !c.is_ascii())
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(table) = SYSTEM_TABLES.split_whitespace().find(|t| words.contains(t)) {
        return Err(format!(
            "a report may read the site's documents (tab_… tables) only, not the system's table {table}"
        ));
    }
    Ok(())
}

/// `sql` without its final top-level `ORDER BY`, for the queries that wrap a report to
/// count and sum it: an order costs a sort (or an index walk) and changes no total. `None`
/// when there is none to drop, or when dropping it would change the rows (a `LIMIT`,
/// `OFFSET` or `FETCH` after it) or the parameters (a `$N` in it).
pub fn without_final_order_by(sql: &str) -> Option<&str> {
    let mut depth = 0usize;
    let mut order_at = None;
    let mut after_order_by_ok = true;
    let mut offset = 0;
    for piece in pieces(sql).ok()? {
        let code = match piece {
            Piece::Code(code) => code,
            Piece::Other(other) => {
                offset += other.len();
                continue;
            }
        };
        let bytes = code.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'(' {
                depth += 1;
            } else if c == b')' {
                depth = depth.saturating_sub(1);
            } else if c == b'$' && order_at.is_some() {
                after_order_by_ok = false;
            } else if is_word(c) && (i == 0 || !is_word(bytes[i - 1])) {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !is_word(*b))
                    .map_or(bytes.len(), |n| i + n);
                let word = code[i..end].to_ascii_lowercase();
                if depth == 0 {
                    match word.as_str() {
                        "order" => {
                            let rest = code[end..].trim_start();
                            let by = rest.get(..2).is_some_and(|w| w.eq_ignore_ascii_case("by"))
                                && !rest.as_bytes().get(2).copied().is_some_and(is_word);
                            if by {
                                order_at = Some(offset + i);
                                after_order_by_ok = true;
                            }
                        }
                        "limit" | "offset" | "fetch" if order_at.is_some() => {
                            after_order_by_ok = false;
                        }
                        _ => {}
                    }
                }
                i = end;
                continue;
            }
            i += 1;
        }
        offset += code.len();
    }
    let at = order_at.filter(|_| after_order_by_ok)?;
    Some(sql[..at].trim_end())
}

/// `sql` with each `:name` / `%(name)s` replaced by `$N`, and the values in `$N` order.
/// A parameter that is not in `params` is an error naming it.
pub fn positional(
    sql: &str,
    params: &BTreeMap<String, SqlValue>,
) -> Result<(String, Vec<SqlValue>), String> {
    let mut out = String::with_capacity(sql.len());
    let mut order: Vec<&str> = Vec::new();
    let mut number = |name: &str| -> Result<usize, String> {
        if !params.contains_key(name) {
            return Err(format!(
                "the query uses the parameter {name:?}, which is not one of the report's filters"
            ));
        }
        Ok(match order.iter().position(|n| *n == name) {
            Some(i) => i + 1,
            None => {
                order.push(
                    params
                        .get_key_value(name)
                        .map(|(k, _)| k.as_str())
                        .unwrap_or(""),
                );
                order.len()
            }
        })
    };
    for piece in pieces(sql)? {
        let code = match piece {
            Piece::Other(text) => {
                out.push_str(text);
                continue;
            }
            Piece::Code(code) => code,
        };
        let b = code.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let named_colon = b[i] == b':'
                && b.get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                && (i == 0 || b[i - 1] != b':');
            if named_colon {
                let end = (i + 1..b.len())
                    .find(|&j| !is_word(b[j]))
                    .unwrap_or(b.len());
                out.push_str(&format!("${}", number(&code[i + 1..end])?));
                i = end;
                continue;
            }
            if code[i..].starts_with("%(")
                && let Some(close) = code[i..].find(")s")
            {
                let name = &code[i + 2..i + close];
                if !name.is_empty() && name.bytes().all(is_word) {
                    out.push_str(&format!("${}", number(name)?));
                    i += close + 2;
                    continue;
                }
            }
            let ch = code[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    let values = order
        .iter()
        .map(|n| params.get(*n).cloned().unwrap_or(SqlValue::Null))
        .collect();
    Ok((out, values))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_final_order_by_is_dropped_only_when_that_changes_no_row() {
        let drop = |sql| super::without_final_order_by(sql);
        assert_eq!(
            drop("SELECT a FROM t WHERE b = $1 ORDER BY a, name\n"),
            Some("SELECT a FROM t WHERE b = $1")
        );
        assert_eq!(
            drop("select a from t order  BY a desc;"),
            Some("select a from t")
        );
        // Nothing to drop.
        assert_eq!(drop("SELECT a FROM t"), None);
        // Inside parentheses, quotes and comments, ORDER BY is not the query's.
        assert_eq!(
            drop("SELECT a, ROW_NUMBER() OVER (ORDER BY a) FROM (SELECT a FROM t ORDER BY a) s"),
            None
        );
        assert_eq!(
            drop("SELECT 'x ORDER BY a' AS o FROM t -- ORDER BY a"),
            None
        );
        assert_eq!(
            drop("SELECT a AS \"order by\" FROM t /* ORDER BY a */"),
            None
        );
        assert_eq!(
            drop("SELECT a FROM (SELECT a FROM t ORDER BY a) s ORDER BY a"),
            Some("SELECT a FROM (SELECT a FROM t ORDER BY a) s")
        );
        // A column called `order_by` or `border` is not the clause.
        assert_eq!(drop("SELECT order_by FROM t"), None);
        assert_eq!(drop("SELECT border by_x FROM t"), None);
        // The rows would change: kept.
        assert_eq!(drop("SELECT a FROM t ORDER BY a LIMIT 10"), None);
        assert_eq!(drop("SELECT a FROM t ORDER BY a OFFSET 5"), None);
        assert_eq!(
            drop("SELECT a FROM t ORDER BY a FETCH FIRST 3 ROWS ONLY"),
            None
        );
        // The parameters would change: kept.
        assert_eq!(drop("SELECT a FROM t ORDER BY a = $1"), None);
        // Of a compound, the final ORDER BY orders the whole; totals do not need it.
        assert_eq!(
            drop("SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY 1"),
            Some("SELECT a FROM t UNION ALL SELECT a FROM u")
        );
        // An unclosed quote: left alone (the query itself will fail with its error).
        assert_eq!(drop("SELECT 'a FROM t ORDER BY a"), None);
    }

    use super::*;

    fn params() -> BTreeMap<String, SqlValue> {
        BTreeMap::from([
            ("from_date".to_owned(), SqlValue::Text("2026-01-01".into())),
            ("party".to_owned(), SqlValue::Null),
        ])
    }

    #[test]
    fn named_parameters_become_positional_once_each() {
        let (sql, values) = positional(
            "SELECT a::text, ':not' FROM t -- :nor\nWHERE d >= :from_date AND (:party IS NULL OR party = %(party)s) AND e >= :from_date",
            &params(),
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT a::text, ':not' FROM t -- :nor\nWHERE d >= $1 AND ($2 IS NULL OR party = $2) AND e >= $1"
        );
        assert_eq!(
            values,
            [SqlValue::Text("2026-01-01".into()), SqlValue::Null]
        );
    }

    #[test]
    fn unknown_parameters_are_named() {
        let err = positional("SELECT 1 WHERE x = :account", &params()).unwrap_err();
        assert!(err.contains("\"account\""), "{err}");
        assert!(positional("SELECT 'unclosed", &params()).is_err());
    }

    #[test]
    fn only_single_reads_of_documents_pass() {
        assert!(check_read_only("  -- GL\nSELECT * FROM tab_gl_entry;").is_ok());
        assert!(check_read_only("WITH x AS (SELECT 1) SELECT * FROM x").is_ok());
        assert!(check_read_only("SELECT 'DELETE; FROM users' AS s").is_ok());
        for (sql, says) in [
            ("DELETE FROM tab_gl_entry", "one SELECT"),
            ("SELECT 1; DROP TABLE tab_gl_entry", "single statement"),
            ("SELECT * FROM access_log", "access_log"),
            ("SELECT * FROM \"ACCESS_LOG\"", "access_log"),
            ("select email from Users", "users"),
            ("SELECT * FROM tab_x JOIN api_keys ON 1=1", "api_keys"),
        ] {
            let err = check_read_only(sql).unwrap_err();
            assert!(err.contains(says), "{sql}: {err}");
        }
    }
}
