//! The Access Log on SQLite lives in a database file of its own beside the site's
//! (`<database>-log`), attached to every connection as `log`: the entries, the tree's
//! nodes, its state and the signed checkpoints. Records, accounts and files stay in the
//! site's file.
//!
//! Why a file of its own: SQLite keeps each connection's page cache per database file and
//! drops it whenever another connection has committed to that file. With the log in the
//! site's file, every recorded read (and reads are recorded) emptied the page cache of
//! every connection serving reads, so the next read of a record went back to the disk
//! (BENCHMARKS.md, "Reads recorded"). In a file of its own, log commits leave the record
//! pages cached. The writer, the review indexer and `verify`'s reader open this file alone.
//!
//! Its tables keep their names, so SQL that does not name a schema finds them. A database
//! whose log tables are still in the site's file (one from before this layout, or a backup,
//! which is a single file holding both) has them moved here when it is opened
//! ([`adopt`]). Every connection writes to it with `synchronous = FULL`, as to the site's
//! file: a commit has reached the disk before the call returns.
//!
//! Migrations run before the move, so a fresh database gets the log's tables from
//! migration 0002 in the site's file and has them moved at once. A later migration that
//! changes a log table must name its schema for statements that default to `main`
//! (`CREATE INDEX log.…`, `CREATE TRIGGER log.…`); a fresh log file gets its tables from
//! migration 0002 ([`tables_sql`]), so such a change must also apply to it there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use accesslog_store::log::ENTRY_COLUMNS;
use accesslog_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::writer::map_err;

/// The schema name the log file is attached under.
pub const SCHEMA: &str = "log";

/// The log's tables, in the order they are copied.
const TABLES: [&str; 5] = [
    "access_log",
    "merkle_nodes",
    "log_state",
    "checkpoints",
    "access_log_pruned",
];

/// The log file beside the database at `main`.
pub fn log_path(main: &Path) -> PathBuf {
    let mut name = main.as_os_str().to_owned();
    name.push("-log");
    PathBuf::from(name)
}

/// What every connection runs on the log file (`schema` where it is attached): write-ahead
/// logging and a full fsync at each commit, as on the site's file.
pub(crate) fn pragmas(schema: &str) -> String {
    format!("PRAGMA {schema}.journal_mode = WAL; PRAGMA {schema}.synchronous = FULL;")
}

/// What the first connection runs on a log file that is still empty (`page_count` 0),
/// before [`pragmas`]: incremental vacuum, which takes only while the file is empty (and
/// switching to WAL writes its first page). Only then: setting it asks for the file's write
/// lock, so on every connection it would wait behind each append and prune batch, and
/// fail a new connection once a lock is held for the busy timeout.
pub(crate) fn pragmas_when_new(schema: &str) -> String {
    format!("PRAGMA {schema}.auto_vacuum = INCREMENTAL;")
}

/// The query that tells whether the log file (`schema`) is new: `0` pages.
pub(crate) fn page_count(schema: &str) -> String {
    format!("PRAGMA {schema}.page_count")
}

/// Runs [`pragmas_when_new`] (if the file is new) and [`pragmas`] on `conn`.
fn set_pragmas(conn: &Connection, schema: &str) -> StoreResult<()> {
    let pages: i64 = conn
        .query_row(&page_count(schema), [], |r| r.get(0))
        .map_err(map_err)?;
    if pages == 0 {
        conn.execute_batch(&pragmas_when_new(schema))
            .map_err(map_err)?;
    }
    conn.execute_batch(&pragmas(schema)).map_err(map_err)
}

/// The migrations that made the log's tables (in the site's file, before this layout):
/// 0002 the entries, tree and checkpoints, 0014 what pruning leaves of an entry.
const MIGRATIONS: [&str; 2] = [
    include_str!("../migrations/0002_access_log.sql"),
    include_str!("../migrations/0014_access_log_pruned.sql"),
];

/// The log's tables in `schema`, with the empty tree's state: the migrations themselves,
/// each table created only if missing and named in `schema`, so the two can never differ.
pub(crate) fn tables_sql(schema: &str) -> String {
    let sql = MIGRATIONS
        .concat()
        .replace(
            "CREATE TABLE ",
            &format!("CREATE TABLE IF NOT EXISTS {schema}."),
        )
        .replace(
            "INSERT INTO log_state",
            &format!("INSERT OR IGNORE INTO {schema}.log_state"),
        );
    debug_assert_eq!(sql.matches("IF NOT EXISTS").count(), TABLES.len());
    sql
}

/// The log file's indexes, made if missing (on a log with many pruned entries, the first
/// open after an upgrade builds them once). The review lists archived entries by who and
/// when, newest first; the user index also serves a redaction's search. Not a migration:
/// the migrations run on the site's file, and these tables live in the log's.
fn indexes_sql(schema: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {schema}.access_log_pruned_by_user \
             ON access_log_pruned (\"user\", seq); \
         CREATE INDEX IF NOT EXISTS {schema}.access_log_pruned_by_time \
             ON access_log_pruned (timestamp, seq);"
    )
}

/// The columns of `table`, for copies that must not depend on column order.
fn columns(table: &str) -> String {
    match table {
        "access_log" => format!("{ENTRY_COLUMNS}, leaf_hash"),
        "merkle_nodes" => "id, hash".into(),
        "log_state" => "id, size, frontier".into(),
        "access_log_pruned" => {
            "seq, timestamp, \"user\", activity, leaf_hash, bundle, redacted".into()
        }
        _ => "size, root, created_at, note".into(),
    }
}

/// Opens the log file alone (as `main`), for the connections that touch nothing else.
pub(crate) fn open_alone(main: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(log_path(main)).map_err(map_err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(map_err)?;
    set_pragmas(&conn, "main")?;
    Ok(conn)
}

/// `path` as SQLite takes a file name: UTF-8, or an error naming it.
pub(crate) fn utf8(path: &Path) -> StoreResult<&str> {
    path.to_str()
        .ok_or_else(|| StoreError::Other(format!("{} is not a UTF-8 path", path.display())))
}

/// Makes the log file beside the (migrated) database at `main` hold the log: creates its
/// tables if missing, and moves the log's tables out of the site's file if they are there.
///
/// The move is one transaction over both files. Should the machine stop during its commit,
/// one file may have committed and not the other (SQLite's write-ahead log is atomic per
/// file); the next open finds the same log in both and finishes by dropping the site's
/// copy. A log in the site's file beside a *different* non-empty log file (a backup
/// restored over the database while the old log file stayed) is refused, naming both.
pub(crate) fn adopt(main: &Path) -> StoreResult<()> {
    let mut conn = Connection::open(main).map_err(map_err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(map_err)?;
    let log = log_path(main);
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {SCHEMA}"),
        params![utf8(&log)?],
    )
    .map_err(map_err)?;
    // A new log file gives pruned pages back to the disk (`PRAGMA incremental_vacuum`,
    // after each prune batch; `pragmas_when_new` sets it); the setting takes only while
    // the file is empty, so an older log file keeps its space for new entries until
    // `VACUUM`.
    set_pragmas(&conn, SCHEMA)?;
    conn.execute_batch(&tables_sql(SCHEMA)).map_err(map_err)?;
    conn.execute_batch(&indexes_sql(SCHEMA)).map_err(map_err)?;
    let names = TABLES.map(|t| format!("'{t}'")).join(", ");
    let in_main: i64 = conn
        .query_row(
            &format!(
                "SELECT COUNT(*) FROM main.sqlite_schema WHERE type = 'table' AND name IN ({names})"
            ),
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    if in_main == 0 {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    // Whatever of the four is missing from the site's file is made there empty, so a
    // partial set (a hand-made file) moves like a whole one.
    tx.execute_batch(&tables_sql("main")).map_err(map_err)?;
    let state = |schema: &str| -> StoreResult<(i64, Vec<u8>, i64)> {
        tx.query_row(
            &format!(
                "SELECT s.size, s.frontier, (SELECT COUNT(*) FROM {schema}.checkpoints) \
                 FROM {schema}.log_state AS s WHERE s.id = 1"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(map_err)
        .map(|s| s.unwrap_or((0, Vec::new(), 0)))
    };
    let (here, there) = (state("main")?, state(SCHEMA)?);
    let entries_there: i64 = tx
        .query_row(
            &format!("SELECT COUNT(*) FROM {SCHEMA}.access_log"),
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    let entries_here: i64 = tx
        .query_row("SELECT COUNT(*) FROM main.access_log", [], |r| r.get(0))
        .map_err(map_err)?;
    let empty = |(size, _, checkpoints): &(i64, Vec<u8>, i64), entries: i64| {
        *size == 0 && *checkpoints == 0 && entries == 0
    };
    let moved = !empty(&here, entries_here);
    if !moved {
        // Nothing to move: a fresh database's empty tables (from migration 0002), or a
        // site's file made again beside the log it had.
    } else if empty(&there, entries_there) {
        tracing::info!(
            entries = here.0,
            file = %log.display(),
            "moving the Access Log into a file of its own (once; a large log takes a while)"
        );
        for table in TABLES {
            let cols = columns(table);
            tx.execute_batch(&format!(
                "DELETE FROM {SCHEMA}.{table}; \
                 INSERT INTO {SCHEMA}.{table} ({cols}) SELECT {cols} FROM main.{table};"
            ))
            .map_err(map_err)?;
        }
    } else if (here.0, &here.1) != (there.0, &there.1) {
        return Err(StoreError::Other(format!(
            "{} holds an Access Log of {} entries, and the log file beside it, {}, holds \
             another of {} entries (was a backup restored over the database?). Open the \
             backup at a path of its own, or move one of the two aside",
            main.display(),
            here.0,
            log.display(),
            there.0
        )));
    }
    for table in TABLES {
        tx.execute(&format!("DROP TABLE main.{table}"), [])
            .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)?;
    if moved {
        tracing::info!(
            entries = here.0,
            file = %log.display(),
            "moved the Access Log into a file of its own"
        );
    }
    Ok(())
}

/// Writes into the single file at `target` (already holding a copy of the site's file) the
/// log's tables from the snapshot at `snapshot`: a backup is one file holding everything,
/// as it always was, and opening it as a database moves the log out again ([`adopt`]).
pub(crate) fn merge_into_backup(target: &Path, snapshot: &Path) -> StoreResult<()> {
    let mut conn = Connection::open(target).map_err(map_err)?;
    conn.execute("ATTACH DATABASE ?1 AS snapshot", params![utf8(snapshot)?])
        .map_err(map_err)?;
    let tx = conn.transaction().map_err(map_err)?;
    tx.execute_batch(&tables_sql("main")).map_err(map_err)?;
    for table in TABLES {
        let cols = columns(table);
        tx.execute_batch(&format!(
            "DELETE FROM main.{table}; \
             INSERT INTO main.{table} ({cols}) SELECT {cols} FROM snapshot.{table};"
        ))
        .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)?;
    conn.execute("DETACH DATABASE snapshot", [])
        .map_err(map_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::{Connection, TransactionBehavior};
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;

    /// While another connection holds the log file's write lock (an append, a prune batch),
    /// a new connection still opens at once, through the pool's attach and alone; and the
    /// log file made by the store gives freed pages back (incremental vacuum), which is
    /// set only while it is new.
    #[tokio::test]
    async fn a_new_connection_opens_while_the_log_is_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.db");
        let store = crate::SqliteStore::open(&path).await.unwrap();
        let mut holder = Connection::open(super::log_path(&path)).unwrap();
        let auto_vacuum: i64 = holder
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
            .unwrap();
        assert_eq!(auto_vacuum, 2, "INCREMENTAL");
        let held = holder
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();

        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .busy_timeout(Duration::from_millis(100))
            .connect()
            .await
            .unwrap();
        crate::Sidecars::beside(&path)
            .unwrap()
            .attach(&mut conn)
            .await
            .expect("attached while the log is written");
        let alone = super::open_alone(&path).expect("opened while the log is written");
        drop(alone);
        held.rollback().unwrap();
        store.close().await;
    }
}
