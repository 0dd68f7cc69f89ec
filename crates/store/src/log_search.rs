//! Searching the Access Log for review: the standard filters, newest first, a page at a
//! time by keyset (never `OFFSET`, never `COUNT(*)` over the table), and grouped counts
//! over a bounded sample. The SQL is the same on both backends.
//!
//! The review reads `access_log_review`, where each filter is served by an index that
//! ends in `(timestamp, seq)`. On SQLite that is a copy of the filtered columns, in a file
//! of its own, filled in large batches after commit ([`INDEX_FOR_REVIEW_SQL`], run by the
//! recorder; `accesslog-store-sqlite`'s `review.rs`), so no durable append writes those
//! indexes; on PostgreSQL it is a view of `access_log` and its indexes (migration 0007).
//!
//! The review table holds every entry up to its largest `seq`, the *watermark*
//! ([`WATERMARK_SQL`]); a search reads the indexed part with `seq <= watermark` and the
//! newer entries, the tail, from `access_log` by `seq`, and merges the two. Each entry is
//! in exactly one part, whatever the indexer does meanwhile, because the review table
//! only ever grows by whole `seq` prefixes. (On PostgreSQL the tail is always empty.)

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
    /// "Who saw this document": entries whose reference document it is, and list reads
    /// that recorded it among the names they returned. (The second part is not served by
    /// an index: it reads the reads' recorded filters.)
    pub seen_document: Option<String>,
    /// From this instant (inclusive).
    pub from: Option<Timestamp>,
    /// Up to this instant (exclusive).
    pub to: Option<Timestamp>,
    /// Text that the reference document or the report name contains (any case).
    pub text: Option<String>,
    /// Who reported the entry: `local`, `gate:<host>`, `frappe:<host>`; or, ending in
    /// `:`, every source of that kind (`gate:`, `frappe:`).
    pub source: Option<String>,
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

/// A `LIKE` pattern for a read's recorded filters whose `names` list holds `name` (the
/// canonical JSON writes `"names":[…]` with each name as a JSON string).
fn names_pattern(name: &str) -> String {
    let quoted = serde_json::Value::String(name.to_owned()).to_string();
    let mut out = String::from("%\"names\":[%");
    for c in quoted.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// How many of the oldest entries not yet in `access_log_review` to copy there ($1), in
/// `seq` order, so the table keeps holding a whole prefix of the log. Harmless to run
/// twice at once (another process's indexer): a row already there is left alone.
pub const INDEX_FOR_REVIEW_SQL: &str = "INSERT INTO access_log_review (seq, timestamp, \"user\", \
    activity, export_from, reference_document, report_name, file_type, outcome, byte_count, \
    source) \
    SELECT seq, timestamp, \"user\", activity, export_from, reference_document, report_name, \
    file_type, outcome, byte_count, source FROM access_log \
    WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM access_log_review) ORDER BY seq LIMIT $1 \
    ON CONFLICT (seq) DO NOTHING";

/// The watermark: every entry with `seq` up to it is in `access_log_review`, none above.
pub const WATERMARK_SQL: &str = "SELECT COALESCE(MAX(seq), 0) AS w FROM access_log_review";

/// Where a part of a search reads from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// `access_log_review`, through its indexes.
    Indexed,
    /// `access_log` above the watermark, by `seq`. Its time conditions are written
    /// `+timestamp`, which no index serves, so neither backend is tempted to walk
    /// `access_log`'s time index over a whole date range instead of the short tail.
    Tail,
}

impl Part {
    fn time(self) -> &'static str {
        match self {
            Part::Indexed => "timestamp",
            Part::Tail => "+timestamp",
        }
    }
}

/// A query's conditions for `part`, with their values numbered from `$1`. The same query
/// gives the same values for either part, so both parts of one statement share them.
fn conditions(q: &EntryQuery, part: Part) -> (Vec<String>, Vec<SqlValue>) {
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
    match q.source.as_deref() {
        // A kind of source: its prefix (no index; the time index finds the newest first).
        Some(kind) if kind.ends_with(':') => {
            values.push(SqlValue::Text(kind.to_owned()));
            parts.push(format!(
                "SUBSTR(source, 1, {}) = ${}",
                kind.chars().count(),
                values.len()
            ));
        }
        other => eq("source", other.map(str::to_owned)),
    }
    if let Some(doc) = &q.seen_document {
        values.push(SqlValue::Text(doc.clone()));
        let a = values.len();
        values.push(SqlValue::Text(names_pattern(doc)));
        let b = values.len();
        values.push(SqlValue::Text(
            serde_json::Value::String(doc.clone()).to_string(),
        ));
        let c = values.len();
        // LIKE finds the name after `"names":[` (ignoring case on SQLite); `replace`, which
        // never ignores case, checks that it is there exactly. Reads of the Access Log
        // record entry numbers as names and searches in their filters, so they are left out.
        parts.push(format!(
            "(reference_document = ${a} OR seq IN (SELECT seq FROM access_log \
             WHERE activity = 'read' AND reference_document IS NULL \
             AND export_from <> 'Access Log' AND filters LIKE ${b} ESCAPE '\\' \
             AND LENGTH(REPLACE(filters, ${c}, '')) < LENGTH(filters)))"
        ));
    }
    let time = part.time();
    if let Some(from) = q.from {
        values.push(SqlValue::Int(from.as_micros()));
        parts.push(format!("{time} >= ${}", values.len()));
    }
    if let Some(to) = q.to {
        values.push(SqlValue::Int(to.as_micros()));
        parts.push(format!("{time} < ${}", values.len()));
    }
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        values.push(SqlValue::Text(escape_like(text)));
        let n = values.len();
        parts.push(format!(
            "(LOWER(reference_document) LIKE ${n} ESCAPE '\\' OR LOWER(report_name) LIKE ${n} ESCAPE '\\')"
        ));
    }
    (parts, values)
}

/// `WHERE …` (or nothing) from `conditions`.
fn where_(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}

fn to_param(n: u64) -> SqlValue {
    SqlValue::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// One statement's two parts, `(indexed, tail)`: the query's and the page's conditions
/// for each, the watermark's split, and the values they share. `keyset` adds the page's
/// own conditions given the time expression and the values so far.
fn split_at_watermark(
    q: &EntryQuery,
    watermark: u64,
    keyset: impl Fn(&str, &mut Vec<SqlValue>) -> Option<String>,
) -> (String, String, Vec<SqlValue>) {
    let (mut indexed, mut values) = conditions(q, Part::Indexed);
    let (mut tail, _) = conditions(q, Part::Tail);
    let mut tail_values = values.clone();
    if let Some(c) = keyset(Part::Indexed.time(), &mut values) {
        indexed.push(c);
    }
    if let Some(c) = keyset(Part::Tail.time(), &mut tail_values) {
        tail.push(c);
    }
    values.push(to_param(watermark));
    let w = values.len();
    indexed.push(format!("seq <= ${w}"));
    tail.push(format!("seq > ${w}"));
    (where_(&indexed), where_(&tail), values)
}

/// The SQL for one page of entries, given the current watermark.
pub fn search_sql(
    q: &EntryQuery,
    page: EntryPage,
    limit: u32,
    watermark: u64,
) -> (String, Vec<SqlValue>) {
    let (indexed, tail, values) = split_at_watermark(q, watermark, |time, values| match page {
        EntryPage::Newest { before: None } => None,
        EntryPage::Newest {
            before: Some((ts, seq)),
        } => {
            values.push(SqlValue::Int(ts.as_micros()));
            values.push(to_param(seq));
            let (a, b) = (values.len() - 1, values.len());
            Some(format!("({time} < ${a} OR ({time} = ${a} AND seq < ${b}))"))
        }
        EntryPage::After { after_seq } => {
            values.push(to_param(after_seq));
            Some(format!("seq > ${}", values.len()))
        }
    });
    let (indexed_order, tail_order, order) = match page {
        EntryPage::Newest { .. } => (
            "timestamp DESC, seq DESC",
            "+timestamp DESC, seq DESC",
            "hit_ts DESC, hit_seq DESC",
        ),
        EntryPage::After { .. } => ("seq ASC", "seq ASC", "hit_seq ASC"),
    };
    // The page's seqs from each part, then the entries by primary key; CROSS JOIN keeps
    // SQLite from driving the join from access_log.
    (
        format!(
            "SELECT {ENTRY_COLUMNS} FROM (\
             SELECT seq AS hit_seq, timestamp AS hit_ts FROM (SELECT seq, timestamp FROM access_log_review{indexed} \
             ORDER BY {indexed_order} LIMIT {limit}) AS indexed \
             UNION ALL \
             SELECT seq, timestamp FROM (SELECT seq, timestamp FROM access_log{tail} \
             ORDER BY {tail_order} LIMIT {limit}) AS tail\
             ) AS hit CROSS JOIN access_log WHERE access_log.seq = hit.hit_seq \
             ORDER BY {order} LIMIT {limit}"
        ),
        values,
    )
}

/// Counts by `by` among the newest `sample` matching entries, largest first, at most
/// `top` groups, given the current watermark.
pub fn count_sql(
    q: &EntryQuery,
    by: GroupBy,
    sample: u32,
    top: u32,
    watermark: u64,
) -> (String, Vec<SqlValue>) {
    let (indexed, tail, values) = split_at_watermark(q, watermark, |_, _| None);
    let column = by.column();
    (
        format!(
            "SELECT grp, COUNT(*) AS n FROM (\
             SELECT grp FROM (\
             SELECT grp, hit_ts, hit_seq FROM (SELECT {column} AS grp, timestamp AS hit_ts, seq AS hit_seq \
             FROM access_log_review{indexed} ORDER BY timestamp DESC, seq DESC LIMIT {sample}) AS indexed \
             UNION ALL \
             SELECT grp, hit_ts, hit_seq FROM (SELECT {column} AS grp, timestamp AS hit_ts, seq AS hit_seq \
             FROM access_log{tail} ORDER BY +timestamp DESC, seq DESC LIMIT {sample}) AS tail\
             ) AS hit ORDER BY hit_ts DESC, hit_seq DESC LIMIT {sample}\
             ) AS recent GROUP BY grp ORDER BY n DESC, grp LIMIT {top}"
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

/// The entries since `$1`, as the columns `columns` of the review table up to the
/// watermark `$2` and of the log above it (the tail), with `condition` on both.
fn since(columns: &str, condition: &str) -> String {
    format!(
        "SELECT {columns} FROM access_log_review WHERE timestamp >= $1{condition} AND seq <= $2 \
         UNION ALL \
         SELECT {columns} FROM access_log WHERE +timestamp >= $1{condition} AND seq > $2"
    )
}

/// Entries per day, activity and outcome since `$1`, given the watermark `$2`.
pub fn daily_sql() -> String {
    format!(
        "SELECT timestamp / {DAY_MICROS} AS day, activity AS grp, outcome AS outcome, COUNT(*) AS n \
         FROM ({}) AS e GROUP BY timestamp / {DAY_MICROS}, activity, outcome",
        since("timestamp, activity, outcome", "")
    )
}

/// Granted exports since `$1` by `group` (a column expression), largest volume first,
/// given the watermark `$2`.
pub fn top_exports_sql(group: &str) -> String {
    format!(
        "SELECT {group} AS grp, COUNT(*) AS n, CAST(COALESCE(SUM(byte_count), 0) AS BIGINT) AS bytes \
         FROM ({}) AS e GROUP BY {group} ORDER BY bytes DESC, n DESC LIMIT 10",
        since(
            "\"user\", report_name, export_from, byte_count",
            " AND activity = 'export' AND outcome = 'granted'"
        )
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
            1000,
        );
        let filters = "\"user\" = $1 AND activity = $2 AND timestamp >= $3 AND (LOWER(reference_document) LIKE $4 ESCAPE '\\' OR LOWER(report_name) LIKE $4 ESCAPE '\\')";
        assert!(sql.contains(&format!(
            "FROM access_log_review WHERE {filters} AND (timestamp < $5 OR (timestamp = $5 AND seq < $6)) AND seq <= $7 ORDER BY timestamp DESC, seq DESC LIMIT 50) AS indexed"
        )), "{sql}");
        // The tail: the same values, time conditions no index serves, above the watermark.
        assert!(sql.contains(&format!(
            "FROM access_log WHERE {} AND (+timestamp < $5 OR (+timestamp = $5 AND seq < $6)) AND seq > $7 ORDER BY +timestamp DESC, seq DESC LIMIT 50) AS tail",
            filters.replace("timestamp", "+timestamp")
        )), "{sql}");
        assert!(
            sql.ends_with("ORDER BY hit_ts DESC, hit_seq DESC LIMIT 50"),
            "{sql}"
        );
        assert_eq!(values[3], SqlValue::Text("%50\\%\\_off%".into()));
        assert_eq!(values[6], SqlValue::Int(1000));
        assert_eq!(values.len(), 7);

        let (sql, values) = search_sql(
            &EntryQuery::default(),
            EntryPage::After { after_seq: 3 },
            10,
            0,
        );
        assert!(
            sql.contains("FROM access_log_review WHERE seq > $1 AND seq <= $2 ORDER BY seq ASC LIMIT 10) AS indexed"),
            "{sql}"
        );
        assert!(
            sql.contains(
                "FROM access_log WHERE seq > $1 AND seq > $2 ORDER BY seq ASC LIMIT 10) AS tail"
            ),
            "{sql}"
        );
        assert_eq!(values, [SqlValue::Int(3), SqlValue::Int(0)]);

        let (sql, values) = count_sql(&EntryQuery::default(), GroupBy::User, 1000, 10, 5);
        assert!(sql.contains("FROM access_log_review WHERE seq <= $1 ORDER BY timestamp DESC, seq DESC LIMIT 1000) AS indexed"), "{sql}");
        assert!(sql.contains("FROM access_log WHERE seq > $1 ORDER BY +timestamp DESC, seq DESC LIMIT 1000) AS tail"), "{sql}");
        assert_eq!(values, [SqlValue::Int(5)]);
    }
}
