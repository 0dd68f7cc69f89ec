//! A fresh database per test, on either backend: SQLite in a temporary folder, always;
//! PostgreSQL in a new schema of the database named by `ACCESSLOG_TEST_POSTGRES_URL`, when
//! that is set (otherwise the case is skipped, see [`skip`]). Test code only.

pub mod proc_cpu;

use std::path::PathBuf;
use std::sync::Arc;

use accesslog_store::Store;
use accesslog_store_postgres::PgStore;
use accesslog_store_sqlite::SqliteStore;

pub const POSTGRES_URL_VAR: &str = "ACCESSLOG_TEST_POSTGRES_URL";

/// A test cannot run because `what` is missing (`how`: how to get it). Under CI (`CI` set,
/// as `.ci/run` does) that fails the test, naming both: CI runs every test or fails. Anywhere
/// else the caller skips, and the first skip for each `what` in this test binary says so on
/// the terminal (written past the harness's capture, so it shows among passing tests).
pub fn skip(what: &str, how: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing, and CI must run every test: {how}");
    }
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said.iter().any(|w| w == what) {
        said.push(what.to_owned());
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: skipping the tests in this binary that need {what} ({how})"
        );
    }
}

/// What [`skip`] says for PostgreSQL.
pub fn skip_postgres() {
    skip(
        &format!("PostgreSQL ({POSTGRES_URL_VAR})"),
        &format!("set {POSTGRES_URL_VAR} to a database URL, as .ci/run does"),
    );
}

/// Declares each case once and runs it on SQLite and on PostgreSQL, as `mod sqlite` and
/// `mod postgres` (or the two names after `mods:`). A case is an `async fn` in the invoking
/// module; `run` is what runs it: an `async fn(Backend, &str, case)` that sets up what the
/// case is given (a [`TestDb`] with [`with_db`], a server, …), calls it and cleans up, and
/// skips when the backend is missing ([`skip`]). Attributes before a case's name (such as
/// `#[ignore = "…"]`) go on both tests. Tests run on a two-thread runtime, or on one
/// thread with `current_thread` after `run` (for cases that test yielding).
///
/// For example, `on_both_backends!(run: accesslog_testkit::with_db; a_case, another);`
/// makes `sqlite::a_case`, `postgres::a_case` and the same for `another`.
#[macro_export]
macro_rules! on_both_backends {
    (run: $run:path; $($cases:tt)*) => {
        $crate::on_both_backends!(@emit (flavor = "multi_thread", worker_threads = 2)
            sqlite, postgres; $run; $($cases)*);
    };
    (run: $run:path, current_thread; $($cases:tt)*) => {
        $crate::on_both_backends!(@emit (flavor = "current_thread")
            sqlite, postgres; $run; $($cases)*);
    };
    (mods: $sqlite:ident, $postgres:ident; run: $run:path; $($cases:tt)*) => {
        $crate::on_both_backends!(@emit (flavor = "multi_thread", worker_threads = 2)
            $sqlite, $postgres; $run; $($cases)*);
    };
    (@emit $flavor:tt $sqlite:ident, $postgres:ident; $run:path;
     $($(#[$attr:meta])* $case:ident),* $(,)?) => {
        mod $sqlite {
            $(
                #[::tokio::test $flavor]
                $(#[$attr])*
                async fn $case() {
                    $run($crate::Backend::Sqlite, stringify!($case), super::$case).await;
                }
            )*
        }
        mod $postgres {
            $(
                #[::tokio::test $flavor]
                $(#[$attr])*
                async fn $case() {
                    $run($crate::Backend::Postgres, stringify!($case), super::$case).await;
                }
            )*
        }
    };
}

/// Runs `case` on a fresh database of `backend` (skipping when PostgreSQL is missing,
/// see [`skip`]), then drops the database: the runner for [`on_both_backends!`] of cases
/// that take a `&TestDb`.
pub async fn with_db(backend: Backend, case_name: &str, case: impl AsyncFn(&TestDb)) {
    let Some(db) = TestDb::open(backend, case_name).await else {
        return;
    };
    case(&db).await;
    db.drop().await;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A write lock held by [`TestDb::hold_write_lock`]; [`WriteLock::release`] ends it.
pub enum WriteLock {
    Sqlite(Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>),
    Postgres(Option<sqlx::Transaction<'static, sqlx::Postgres>>),
}

impl WriteLock {
    pub async fn release(mut self) {
        match &mut self {
            WriteLock::Sqlite(conn) => {
                if let Some(mut c) = conn.take() {
                    sqlx::query("ROLLBACK")
                        .execute(&mut *c)
                        .await
                        .expect("ROLLBACK");
                }
            }
            WriteLock::Postgres(tx) => {
                if let Some(t) = tx.take() {
                    t.rollback().await.expect("ROLLBACK");
                }
            }
        }
    }
}

enum Handle {
    Sqlite(SqliteStore),
    Postgres(PgStore, String),
}

pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub backend: Backend,
    /// A URL another process can open to reach the same database.
    pub url: String,
    /// A temporary folder that lives as long as this database (the SQLite file is in it).
    pub dir: tempfile::TempDir,
    handle: Handle,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path: PathBuf = dir.path().join("test.db");
        let store = SqliteStore::open(&path).await.expect("open SQLite");
        TestDb {
            store: Arc::new(store.clone()),
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            dir,
            handle: Handle::Sqlite(store),
        }
    }

    /// `None` when the PostgreSQL URL is not set ([`skip`]: a failure under CI).
    pub async fn postgres(_case: &str) -> Option<Self> {
        let Ok(base) = std::env::var(POSTGRES_URL_VAR) else {
            skip_postgres();
            return None;
        };
        let schema = format!("t_{}", accesslog_core::secrets::random_hex(8));
        let store = PgStore::connect_in_schema(&base, &schema)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is set but unusable: {e}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        Some(TestDb {
            store: Arc::new(store.clone()),
            backend: Backend::Postgres,
            url,
            dir: tempfile::tempdir().expect("temporary folder"),
            handle: Handle::Postgres(store, schema),
        })
    }

    pub async fn open(backend: Backend, case: &str) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres(case).await,
        }
    }

    /// Runs SQL directly, behind the application's back (for tamper tests).
    pub async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.handle {
            Handle::Sqlite(s) => {
                sqlx::query(sql)
                    .execute(s.pool())
                    .await
                    .expect("SQL on SQLite");
            }
            Handle::Postgres(s, _) => {
                sqlx::query(sql)
                    .execute(s.pool())
                    .await
                    .expect("SQL on PostgreSQL");
            }
        }
    }

    /// The first column of each row `sql` returns, as text (cast it in the SQL).
    pub async fn query_text(&self, sql: &str) -> Vec<String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.handle {
            Handle::Sqlite(s) => sqlx::query_scalar(sql)
                .fetch_all(s.pool())
                .await
                .expect("SQL on SQLite"),
            Handle::Postgres(s, _) => sqlx::query_scalar(sql)
                .fetch_all(s.pool())
                .await
                .expect("SQL on PostgreSQL"),
        }
    }

    /// Holds a write lock on `table` from a connection of its own until released:
    /// whatever writes to it (on SQLite, to any table of the database file that holds
    /// it: name the log's tables with the log's schema) waits meanwhile. For tests that
    /// show what must not wait on it, or that need work held at a known point.
    pub async fn hold_write_lock(&self, table: &str) -> WriteLock {
        match &self.handle {
            Handle::Sqlite(s) => {
                // A write statement that changes no row still takes the file's write
                // lock, and fires no trigger (the log's tables refuse deletes).
                let mut conn = s.pool().acquire().await.expect("a SQLite connection");
                sqlx::query("BEGIN")
                    .execute(&mut *conn)
                    .await
                    .expect("BEGIN");
                let sql = sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE 0"));
                sqlx::query(sql).execute(&mut *conn).await.expect("a write");
                WriteLock::Sqlite(Some(conn))
            }
            Handle::Postgres(s, _) => {
                // Writers wait; readers do not (as on SQLite with its write-ahead log).
                let mut tx = s.pool().begin().await.expect("a PostgreSQL transaction");
                let sql = sqlx::AssertSqlSafe(format!("LOCK TABLE {table} IN EXCLUSIVE MODE"));
                sqlx::query(sql)
                    .execute(&mut *tx)
                    .await
                    .expect("LOCK TABLE");
                WriteLock::Postgres(Some(tx))
            }
        }
    }

    /// Closes the store's connections: from now on, every call fails as if the database
    /// were unreachable.
    pub async fn close(&self) {
        match &self.handle {
            Handle::Sqlite(s) => s.close().await,
            Handle::Postgres(s, _) => s.close().await,
        }
    }

    /// Drops the PostgreSQL schema (SQLite's folder goes with `dir`).
    pub async fn drop(self) {
        if let Handle::Postgres(store, schema) = self.handle {
            drop(store);
            let base = std::env::var(POSTGRES_URL_VAR).unwrap_or_default();
            let cleanup = PgStore::connect_in_schema(&base, &schema).await;
            if let Ok(admin) = cleanup {
                let _ = admin.drop_schema(&schema).await;
            }
        }
    }
}
