//! Searching the Access Log for review: the standard filters, newest first, a page at a
//! time by keyset (never `OFFSET`, never `COUNT(*)` over the table), and grouped counts
//! over a bounded sample. The SQL is the same on both backends; each filter is served by
//! an index that ends in `(timestamp, seq)` (migration 0006).

use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, Outcome};

use crate::SqlValue;
use crate::log::ENTRY_COLUMNS;

/// What to look for. Every field is optional; all given ones must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryQuery {
    pub user: Option<String>,
    pub activity: Option<Activity>,
    /// The document type.
    pub export_from: Option<String>,
    pub report_name: Option<String>,
    pub file_type: Option<String>,
    pub outcome: Option<Outcome>,
    pub reference_document: Option<String>,
    /// From this instant (inclusive).
    pub from: Option<Timestamp>,
    /// Up to this instant (exclusive).
    pub to: Option<Timestamp>,
    /// Text that the reference document or the report name contains (any case).
    pub text: Option<String>,
}

/// Where a page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryPage {
    /// Newest first, starting after the entry at (timestamp, seq) when given.
    Newest { before: Option<(Timestamp, u64)> },
    /// Oldest first, entries with `seq > after_seq` (for following the log).
    After { after_seq: u64 },
}

/// Which column to count by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    User,
    Activity,
}

impl GroupBy {
    fn column(self) -> &'static str {
        match self {
            GroupBy::User => "\"user\"",
            GroupBy::Activity => "activity",
        }
    }
}

fn escape_like(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `WHERE …` (or nothing) and its values, numbered from `$1`.
pub fn where_clause(q: &EntryQuery) -> (String, Vec<SqlValue>) {
    let mut parts: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut eq = |column: &str, value: Option<String>| {
        if let Some(v) = value {
            values.push(SqlValue::Text(v));
            parts.push(format!("{column} = ${}", values.len()));
        }
    };
    eq("\"user\"", q.user.clone());
    eq("activity", q.activity.map(|a| a.as_str().to_owned()));
    eq("export_from", q.export_from.clone());
    eq("report_name", q.report_name.clone());
    eq("file_type", q.file_type.clone());
    eq("outcome", q.outcome.map(|o| o.as_str().to_owned()));
    eq("reference_document", q.reference_document.clone());
    if let Some(from) = q.from {
        values.push(SqlValue::Int(from.as_micros()));
        parts.push(format!("timestamp >= ${}", values.len()));
    }
    if let Some(to) = q.to {
        values.push(SqlValue::Int(to.as_micros()));
        parts.push(format!("timestamp < ${}", values.len()));
    }
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        values.push(SqlValue::Text(escape_like(text)));
        let n = values.len();
        parts.push(format!(
            "(LOWER(reference_document) LIKE ${n} ESCAPE '\\' OR LOWER(report_name) LIKE ${n} ESCAPE '\\')"
        ));
    }
    if parts.is_empty() {
        (String::new(), values)
    } else {
        (format!(" WHERE {}", parts.join(" AND ")), values)
    }
}

/// The SQL for one page of entries.
pub fn search_sql(q: &EntryQuery, page: EntryPage, limit: u32) -> (String, Vec<SqlValue>) {
    let (mut where_, mut values) = where_clause(q);
    let and = |cond: String, where_: &mut String| {
        if where_.is_empty() {
            where_.push_str(" WHERE ");
        } else {
            where_.push_str(" AND ");
        }
        where_.push_str(&cond);
    };
    let order = match page {
        EntryPage::Newest { before } => {
            if let Some((ts, seq)) = before {
                values.push(SqlValue::Int(ts.as_micros()));
                values.push(SqlValue::Int(i64::try_from(seq).unwrap_or(i64::MAX)));
                let (a, b) = (values.len() - 1, values.len());
                and(
                    format!("(timestamp < ${a} OR (timestamp = ${a} AND seq < ${b}))"),
                    &mut where_,
                );
            }
            "timestamp DESC, seq DESC"
        }
        EntryPage::After { after_seq } => {
            values.push(SqlValue::Int(i64::try_from(after_seq).unwrap_or(i64::MAX)));
            and(format!("seq > ${}", values.len()), &mut where_);
            "seq ASC"
        }
    };
    (
        format!("SELECT {ENTRY_COLUMNS} FROM access_log{where_} ORDER BY {order} LIMIT {limit}"),
        values,
    )
}

/// Counts by `by` among the newest `sample` matching entries, largest first, at most
/// `top` groups.
pub fn count_sql(q: &EntryQuery, by: GroupBy, sample: u32, top: u32) -> (String, Vec<SqlValue>) {
    let (where_, values) = where_clause(q);
    let column = by.column();
    (
        format!(
            "SELECT {column} AS grp, COUNT(*) AS n FROM (SELECT {column} FROM access_log{where_} \
             ORDER BY timestamp DESC, seq DESC LIMIT {sample}) AS recent \
             GROUP BY {column} ORDER BY n DESC, grp LIMIT {top}"
        ),
        values,
    )
}

/// The dashboard's figures since an instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivitySummary {
    /// (day number since the Unix epoch, activity, outcome, entries)
    pub daily: Vec<(i64, String, String, u64)>,
    /// (user, exports, bytes exported), by bytes.
    pub top_users: Vec<(String, u64, u64)>,
    /// (report or document type, exports, bytes exported), by bytes.
    pub top_sources: Vec<(String, u64, u64)>,
}

const DAY_MICROS: i64 = 86_400_000_000;

/// Entries per day, activity and outcome since `$1`.
pub fn daily_sql() -> String {
    format!(
        "SELECT timestamp / {DAY_MICROS} AS day, activity AS grp, outcome AS outcome, COUNT(*) AS n \
         FROM access_log WHERE timestamp >= $1 GROUP BY timestamp / {DAY_MICROS}, activity, outcome"
    )
}

/// Granted exports since `$1` by `group` (a column expression), largest volume first.
pub fn top_exports_sql(group: &str) -> String {
    format!(
        "SELECT {group} AS grp, COUNT(*) AS n, CAST(COALESCE(SUM(byte_count), 0) AS BIGINT) AS bytes \
         FROM access_log WHERE timestamp >= $1 AND activity = 'export' AND outcome = 'granted' \
         GROUP BY {group} ORDER BY bytes DESC, n DESC LIMIT 10"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_bound_conditions() {
        let q = EntryQuery {
            user: Some("a@x".into()),
            activity: Some(Activity::Export),
            from: Some(Timestamp::from_micros(10)),
            text: Some("50%_Off".into()),
            ..Default::default()
        };
        let (sql, values) = search_sql(
            &q,
            EntryPage::Newest {
                before: Some((Timestamp::from_micros(99), 7)),
            },
            50,
        );
        assert!(sql.ends_with(
            "FROM access_log WHERE \"user\" = $1 AND activity = $2 AND timestamp >= $3 AND (LOWER(reference_document) LIKE $4 ESCAPE '\\' OR LOWER(report_name) LIKE $4 ESCAPE '\\') AND (timestamp < $5 OR (timestamp = $5 AND seq < $6)) ORDER BY timestamp DESC, seq DESC LIMIT 50"
        ), "{sql}");
        assert_eq!(values[3], SqlValue::Text("%50\\%\\_off%".into()));
        assert_eq!(values.len(), 6);

        let (sql, values) = search_sql(
            &EntryQuery::default(),
            EntryPage::After { after_seq: 3 },
            10,
        );
        assert!(
            sql.ends_with("FROM access_log WHERE seq > $1 ORDER BY seq ASC LIMIT 10"),
            "{sql}"
        );
        assert_eq!(values, [SqlValue::Int(3)]);

        let (sql, _) = count_sql(&EntryQuery::default(), GroupBy::User, 1000, 10);
        assert!(sql.contains("FROM (SELECT \"user\" FROM access_log ORDER BY timestamp DESC, seq DESC LIMIT 1000) AS recent"), "{sql}");
    }
}
