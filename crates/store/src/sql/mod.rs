//! The SQL both backends speak, written once, as plain generic code over sqlx's
//! [`sqlx::Database`].
//!
//! Accounts, documents and the reads of the Access Log are the same statements on SQLite
//! and PostgreSQL (placeholders `$1…`, `ON CONFLICT`, `RETURNING`). A backend holds a
//! [`SqlStore`] (its pool and its [`Dialect`]) and implements [`SqlBacked`]; the
//! `AccountStore`, `DocumentStore` and `LogReads` (the log's reads) implementations here
//! then apply to it. What really differs stays in the backend's crate: appending to the
//! log, the verification walk, reports, backups.
//!
//! sqlx's generic API needs a long list of bounds (every value type must encode and
//! decode, a connection must be an executor) that Rust does not carry from a trait to its
//! users. They are written once, on the blanket implementations of [`Backend`] and
//! [`SqlRow`]; the shared code names only `DB: Backend` and binds values as [`Param`]s.

mod accounts;
mod alerts;
mod documents;
mod log;
mod retention;
mod witnesses;

use std::borrow::Cow;

use async_trait::async_trait;
use sqlx::database::HasStatementCache;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use crate::{Dialect, SqlValue, StoreError, StoreResult};

/// A backend's pool and dialect: what the shared SQL runs on.
#[derive(Debug)]
pub struct SqlStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    dialect: Dialect,
}

impl<DB: sqlx::Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            dialect: self.dialect,
        }
    }
}

impl<DB: Backend> SqlStore<DB> {
    pub fn new(pool: sqlx::Pool<DB>, dialect: Dialect) -> Self {
        Self { pool, dialect }
    }

    pub fn pool(&self) -> &sqlx::Pool<DB> {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A connection from the pool, for statements that need no transaction.
    async fn conn(&self) -> StoreResult<sqlx::pool::PoolConnection<DB>> {
        Ok(self.pool.acquire().await?)
    }

    async fn begin(&self) -> StoreResult<sqlx::Transaction<'static, DB>> {
        Ok(self.pool.begin().await?)
    }

    async fn execute(&self, stmt: Stmt<'_>) -> StoreResult<()> {
        DB::execute(&mut *self.conn().await?, stmt).await
    }

    async fn fetch_all(&self, stmt: Stmt<'_>) -> StoreResult<Vec<DB::Row>> {
        DB::fetch_all(&mut *self.conn().await?, stmt).await
    }

    async fn fetch_optional(&self, stmt: Stmt<'_>) -> StoreResult<Option<DB::Row>> {
        DB::fetch_optional(&mut *self.conn().await?, stmt).await
    }

    async fn fetch_one(&self, stmt: Stmt<'_>) -> StoreResult<DB::Row> {
        DB::fetch_optional(&mut *self.conn().await?, stmt)
            .await?
            .ok_or_else(|| StoreError::NotFound("the statement returned no row".into()))
    }
}

/// A backend's store type, whose accounts, documents and log reads are the shared SQL over
/// its [`SqlStore`].
pub trait SqlBacked: Send + Sync + std::fmt::Debug + 'static {
    type Db: Backend;
    fn sql(&self) -> &SqlStore<Self::Db>;
}

/// An id or count read back, which is never negative in a table this crate writes.
fn to_u64(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Other(format!("a negative {what}: {v}")))
}

/// One statement and its parameters, bound in order.
pub struct Stmt<'a> {
    sql: Cow<'static, str>,
    params: Vec<Param<'a>>,
    persistent: bool,
}

impl<'a> Stmt<'a> {
    pub fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
            persistent: true,
        }
    }

    pub fn bind(mut self, value: impl Into<Param<'a>>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Binds document values in order. A NULL is bound with its column's type (from
    /// `columns`, when known): a statement prepared with one parameter type must not later
    /// receive another, which PostgreSQL would misread.
    pub fn bind_values(mut self, values: &'a [SqlValue], columns: &[(&str, &str)]) -> Self {
        for (i, v) in values.iter().enumerate() {
            self.params.push(match v {
                SqlValue::Null => match columns.get(i).map(|(_, ty)| *ty) {
                    Some("BIGINT" | "INTEGER") => Param::Int(None),
                    Some("DOUBLE PRECISION" | "REAL") => Param::Float(None),
                    _ => Param::Text(None),
                },
                SqlValue::Int(i) => Param::Int(Some(*i)),
                SqlValue::Float(f) => Param::Float(Some(*f)),
                SqlValue::Text(t) => Param::Text(Some(t)),
            });
        }
        self
    }

    /// Planned for its values each time rather than kept prepared: PostgreSQL would soon
    /// plan a kept statement once for any values, which is wrong for searches whose best
    /// plan depends on them.
    pub fn not_kept(mut self) -> Self {
        self.persistent = false;
        self
    }
}

/// A value bound to a statement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Param<'a> {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<&'a str>),
    Bool(bool),
    Bytes(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(Some(v))
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Param::Text(v.as_deref())
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Bytes(v)
    }
}

/// A column of a row, by name or by position.
#[derive(Clone, Copy, Debug)]
pub enum Col<'a> {
    Name(&'a str),
    At(usize),
}

impl<'a> From<&'a str> for Col<'a> {
    fn from(name: &'a str) -> Self {
        Col::Name(name)
    }
}

impl From<usize> for Col<'_> {
    fn from(i: usize) -> Self {
        Col::At(i)
    }
}

/// Reading a row of either backend. [`SqlRow::get`] reads any [`FromSql`] type.
pub trait SqlRow: Send + Sync {
    fn int(&self, col: Col<'_>) -> StoreResult<Option<i64>>;
    fn float(&self, col: Col<'_>) -> StoreResult<Option<f64>>;
    fn text(&self, col: Col<'_>) -> StoreResult<Option<String>>;
    fn bool(&self, col: Col<'_>) -> StoreResult<Option<bool>>;
    fn bytes(&self, col: Col<'_>) -> StoreResult<Option<Vec<u8>>>;

    fn get<'c, T: FromSql>(&self, col: impl Into<Col<'c>>) -> StoreResult<T>
    where
        Self: Sized,
    {
        T::from_row(self, col.into())
    }
}

/// A type a column can be read as; a NULL read as anything but an `Option` is an error
/// naming the column.
pub trait FromSql: Sized {
    fn from_row(row: &impl SqlRow, col: Col<'_>) -> StoreResult<Self>;
}

fn not_null<T>(v: Option<T>, col: Col<'_>) -> StoreResult<T> {
    v.ok_or_else(|| match col {
        Col::Name(name) => StoreError::Other(format!("column {name} is NULL")),
        Col::At(i) => StoreError::Other(format!("column {i} is NULL")),
    })
}

impl FromSql for Option<i64> {
    fn from_row(row: &impl SqlRow, col: Col<'_>) -> StoreResult<Self> {
        row.int(col)
    }
}

impl FromSql for i64 {
    fn from_row(row: &impl SqlRow, col: Col<'_>) -> StoreResult<Self> {
        not_null(row.int(col)?, col)
    }
}

impl FromSql for Option<f64> {
    fn from_row(row: &impl SqlRow, col: Col<'_>) -> StoreResult<Self> {
        row.float(col)
    }
}

impl FromSql for Option<String> {
    fn from_row(row: &impl SqlRow, col: Col<'_>) -> StoreResult<Self> {
        row.text(col)
    }
}

impl FromSql for String {
    fn from_row(row: &impl SqlRow, col: Col<'_>) -> StoreResult<Self> {
        not_null(row.text(col)?, col)
    }
}

impl FromSql for bool {
    fn from_row(row: &impl SqlRow, col: Col<'_>) -> StoreResult<Self> {
        not_null(row.bool(col)?, col)
    }
}

impl FromSql for Option<Vec<u8>> {
    fn from_row(row: &impl SqlRow, col: Col<'_>) -> StoreResult<Self> {
        row.bytes(col)
    }
}

impl FromSql for Vec<u8> {
    fn from_row(row: &impl SqlRow, col: Col<'_>) -> StoreResult<Self> {
        not_null(row.bytes(col)?, col)
    }
}

impl<R> SqlRow for R
where
    R: sqlx::Row,
    for<'n> &'n str: ColumnIndex<R>,
    usize: ColumnIndex<R>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<f64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<bool>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<Vec<u8>>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, col: Col<'_>) -> StoreResult<Option<i64>> {
        decoded(self, col)
    }
    fn float(&self, col: Col<'_>) -> StoreResult<Option<f64>> {
        decoded(self, col)
    }
    fn text(&self, col: Col<'_>) -> StoreResult<Option<String>> {
        decoded(self, col)
    }
    fn bool(&self, col: Col<'_>) -> StoreResult<Option<bool>> {
        decoded(self, col)
    }
    fn bytes(&self, col: Col<'_>) -> StoreResult<Option<Vec<u8>>> {
        decoded(self, col)
    }
}

fn decoded<'r, R, T>(row: &'r R, col: Col<'_>) -> StoreResult<T>
where
    R: sqlx::Row,
    for<'n> &'n str: ColumnIndex<R>,
    usize: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(match col {
        Col::Name(name) => row.try_get(name)?,
        Col::At(i) => row.try_get(i)?,
    })
}

/// The bounds under which sqlx can run the shared SQL on a database, written once.
#[async_trait]
pub trait Backend: sqlx::Database<Row: SqlRow> {
    /// Runs a statement for its effect. (How many rows it touched, where that matters,
    /// the statement says with `RETURNING`: sqlx has no backend-neutral count.)
    async fn execute(conn: &mut Self::Connection, stmt: Stmt<'_>) -> StoreResult<()>;
    async fn fetch_all(conn: &mut Self::Connection, stmt: Stmt<'_>) -> StoreResult<Vec<Self::Row>>;
    async fn fetch_optional(
        conn: &mut Self::Connection,
        stmt: Stmt<'_>,
    ) -> StoreResult<Option<Self::Row>>;
}

#[async_trait]
impl<DB> Backend for DB
where
    DB: sqlx::Database<Row: SqlRow> + HasStatementCache,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<f64>: Encode<'e, DB> + Type<DB>,
    for<'v> Option<&'v str>: Encode<'v, DB> + Type<DB>,
    for<'e> bool: Encode<'e, DB> + Type<DB>,
    for<'v> &'v [u8]: Encode<'v, DB> + Type<DB>,
{
    async fn execute(conn: &mut DB::Connection, stmt: Stmt<'_>) -> StoreResult<()> {
        bound::<DB>(stmt).execute(conn).await?;
        Ok(())
    }

    async fn fetch_all(conn: &mut DB::Connection, stmt: Stmt<'_>) -> StoreResult<Vec<DB::Row>> {
        Ok(bound::<DB>(stmt).fetch_all(conn).await?)
    }

    async fn fetch_optional(
        conn: &mut DB::Connection,
        stmt: Stmt<'_>,
    ) -> StoreResult<Option<DB::Row>> {
        Ok(bound::<DB>(stmt).fetch_optional(conn).await?)
    }
}

/// The sqlx query for a statement, its parameters bound.
fn bound<'a, DB>(stmt: Stmt<'_>) -> sqlx::query::Query<'a, DB, DB::Arguments>
where
    DB: sqlx::Database + HasStatementCache,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<f64>: Encode<'e, DB> + Type<DB>,
    for<'v> Option<&'v str>: Encode<'v, DB> + Type<DB>,
    for<'e> bool: Encode<'e, DB> + Type<DB>,
    for<'v> &'v [u8]: Encode<'v, DB> + Type<DB>,
{
    let mut q = sqlx::query::<DB>(sqlx::AssertSqlSafe(stmt.sql)).persistent(stmt.persistent);
    for p in stmt.params {
        q = match p {
            Param::Int(v) => q.bind(v),
            Param::Float(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
            Param::Bool(v) => q.bind(v),
            Param::Bytes(v) => q.bind(v),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_bound_with_their_columns_type() {
        let values = [
            SqlValue::Null,
            SqlValue::Null,
            SqlValue::Null,
            SqlValue::Null,
            SqlValue::Int(7),
            SqlValue::Text("x".into()),
        ];
        let columns = [
            ("a", "BIGINT"),
            ("b", "REAL"),
            ("c", "TEXT"),
            ("d", "INTEGER"),
        ];
        let stmt = Stmt::new("SELECT 1").bind_values(&values, &columns);
        assert_eq!(
            stmt.params,
            [
                Param::Int(None),
                Param::Float(None),
                Param::Text(None),
                Param::Int(None),
                Param::Int(Some(7)),
                Param::Text(Some("x")),
            ]
        );
    }

    #[test]
    fn statements_are_kept_prepared_unless_told() {
        assert!(Stmt::new("SELECT 1").persistent);
        assert!(!Stmt::new("SELECT 1").not_kept().persistent);
    }

    #[test]
    fn a_null_read_as_a_value_names_its_column() {
        let e = not_null::<i64>(None, Col::Name("file_size")).unwrap_err();
        assert!(e.to_string().contains("file_size"), "{e}");
        let e = not_null::<i64>(None, Col::At(2)).unwrap_err();
        assert!(e.to_string().contains("column 2"), "{e}");
    }
}
