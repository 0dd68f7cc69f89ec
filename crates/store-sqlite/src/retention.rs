//! Pruning and restoring on SQLite (issue 19).
//!
//! A prune batch is two transactions, one per file:
//! 1. on a connection to the log file alone, `BEGIN IMMEDIATE`: the entries' leaves move to
//!    `access_log_pruned` and their rows are deleted. This is all the prune does while it
//!    holds the log's write lock, which every append waits for;
//! 2. on the review indexer's connection, their rows in the review copy are deleted: nine
//!    indexes' worth of work, which holds up the copying of new entries but no append.
//!
//! Should the process or the machine stop between the two, the review copy keeps rows of
//! entries just pruned (the review file also commits without fsync, so a power loss can
//! undo its deletes). Verification passes over such rows, and every prune starts by
//! removing them ([`tidy_review`]).
//!
//! Free pages go back to the disk in steps of their own ([`vacuum_step`]), each a short
//! write transaction on the log, so that the batches' lock stays short.

use std::path::Path;

use accesslog_core::entry::Entry;
use accesslog_core::merkle::leaf_hash;
use accesslog_store::log::{hash_from_bytes, to_i64};
use accesslog_store::log_search::INDEX_FOR_REVIEW_SQL;
use accesslog_store::retention::{BatchPruned, PruneBatch, Restored};
use accesslog_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::writer::{INSERT_ENTRY, insert_entry, map_err};

fn open(main: &Path) -> StoreResult<Connection> {
    let conn = crate::log_file::open_alone(main)?;
    let review = crate::review::review_path(main);
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {}", crate::review::SCHEMA),
        params![crate::log_file::utf8(&review)?],
    )
    .map_err(map_err)?;
    Ok(conn)
}

/// `seqs` as a JSON array, for `json_each`.
fn json_list(seqs: &[u64]) -> String {
    let items: Vec<String> = seqs.iter().map(u64::to_string).collect();
    format!("[{}]", items.join(","))
}

/// Step 1 of a batch: the entries leave the log, their leaves kept. One transaction on the
/// log file alone.
pub(crate) fn prune_log(main: &Path, batch: &PruneBatch) -> StoreResult<BatchPruned> {
    let mut conn = crate::log_file::open_alone(main)?;
    if batch.redacted {
        // A redaction overwrites the deleted rows' bytes rather than leaving them in free
        // pages until reuse.
        conn.execute_batch("PRAGMA secure_delete = ON;")
            .map_err(map_err)?;
    }
    let list = json_list(&batch.seqs);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    // The lock is held from here: the wait for it is the writers' time, not the prune's.
    let locked_at = std::time::Instant::now();
    let pruned = tx
        .execute(
            "INSERT INTO access_log_pruned (seq, timestamp, \"user\", activity, leaf_hash, bundle, redacted) \
             SELECT seq, CASE WHEN ?2 THEN timestamp END, CASE WHEN ?2 THEN \"user\" END, \
             CASE WHEN ?2 THEN activity END, leaf_hash, ?3, ?4 FROM access_log \
             WHERE seq IN (SELECT value FROM json_each(?1))",
            params![list, batch.keep_fields, batch.bundle, i64::from(batch.redacted)],
        )
        .map_err(map_err)?;
    tx.execute(
        "DELETE FROM access_log WHERE seq IN (SELECT value FROM json_each(?1))",
        params![list],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(BatchPruned {
        pruned: u64::try_from(pruned).unwrap_or(0),
        held: locked_at.elapsed(),
    })
}

/// Step 2 of a batch, on the review indexer's connection (the log file as `main`, the
/// review file attached): the pruned entries' rows leave the review copy.
pub(crate) fn forget_in_review(
    conn: &Connection,
    seqs: &[u64],
    redacted: bool,
) -> StoreResult<u64> {
    let schema = crate::review::SCHEMA;
    if redacted {
        conn.execute_batch(&format!("PRAGMA {schema}.secure_delete = ON;"))
            .map_err(map_err)?;
    }
    let deleted = conn.execute(
        &format!(
            "DELETE FROM {schema}.access_log_review WHERE seq IN (SELECT value FROM json_each(?1))"
        ),
        params![json_list(seqs)],
    );
    if redacted {
        conn.execute_batch(&format!("PRAGMA {schema}.secure_delete = OFF;"))
            .map_err(map_err)?;
    }
    Ok(u64::try_from(deleted.map_err(map_err)?).unwrap_or(0))
}

/// Removes the review copy's rows of entries that were pruned: those a prune stopped
/// between its two steps left behind. On the review indexer's connection; the log's lock
/// is not taken. Only pruned entries from the copy's oldest row up are looked at: the
/// copy holds no row below it, and after a prune most pruned entries are.
pub(crate) fn tidy_review(conn: &Connection) -> StoreResult<u64> {
    let schema = crate::review::SCHEMA;
    let deleted = conn
        .execute(
            &format!(
                "DELETE FROM {schema}.access_log_review WHERE seq IN \
                 (SELECT seq FROM main.access_log_pruned \
                  WHERE seq >= (SELECT COALESCE(MIN(seq), 0) FROM {schema}.access_log_review))"
            ),
            [],
        )
        .map_err(map_err)?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}

/// Hands up to `pages` free pages of the log file back to the disk (where the file was made
/// with `auto_vacuum = INCREMENTAL`; an older one keeps them for new entries). One write
/// transaction on the log; says how many pages are still free.
pub(crate) fn vacuum_step(main: &Path, pages: u32) -> StoreResult<u64> {
    let conn = crate::log_file::open_alone(main)?;
    // Stepped to completion: each step of the pragma frees one page (execute_batch and
    // query_row step it once).
    let mut vacuum = conn
        .prepare(&format!("PRAGMA incremental_vacuum({pages})"))
        .map_err(map_err)?;
    let mut steps = vacuum.query([]).map_err(map_err)?;
    while steps.next().map_err(map_err)?.is_some() {}
    drop(steps);
    drop(vacuum);
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .map_err(map_err)?;
    Ok(u64::try_from(free).unwrap_or(0))
}

pub(crate) fn restore(main: &Path, entries: &[Entry]) -> StoreResult<Restored> {
    let mut conn = open(main)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let watermark: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM review.access_log_review",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    let mut done = Restored::default();
    {
        let mut kept = tx
            .prepare_cached("SELECT leaf_hash, redacted FROM access_log_pruned WHERE seq = ?1")
            .map_err(map_err)?;
        let mut insert = tx.prepare_cached(INSERT_ENTRY).map_err(map_err)?;
        let mut forget = tx
            .prepare_cached("DELETE FROM access_log_pruned WHERE seq = ?1")
            .map_err(map_err)?;
        // The review copy holds every entry up to its highest seq: a restored entry below
        // that is copied here, one above it is left to the indexer.
        let copy_sql = INDEX_FOR_REVIEW_SQL
            .replace("INSERT INTO access_log_review", "INSERT INTO review.access_log_review")
            .replace(
                "WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM access_log_review) ORDER BY seq LIMIT $1",
                "WHERE seq = ?1",
            );
        if !copy_sql.contains("WHERE seq = ?1") {
            return Err(StoreError::Other(
                "the review copy's statement changed; restore needs its own".into(),
            ));
        }
        let mut copy = tx.prepare_cached(&copy_sql).map_err(map_err)?;
        for entry in entries {
            let seq = to_i64(entry.seq)?;
            let Some((leaf, redacted)) = kept
                .query_row(params![seq], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
                })
                .optional()
                .map_err(map_err)?
            else {
                done.not_pruned += 1;
                continue;
            };
            if redacted != 0 {
                done.redacted += 1;
                continue;
            }
            let computed = leaf_hash(&entry.canonical_bytes());
            if hash_from_bytes(&leaf)? != computed {
                return Err(StoreError::Conflict(format!(
                    "entry {seq} does not hash to the leaf kept for it; nothing was restored"
                )));
            }
            insert_entry(&mut insert, entry, &computed)?;
            forget.execute(params![seq]).map_err(map_err)?;
            if seq < watermark {
                copy.execute(params![seq]).map_err(map_err)?;
            }
            done.restored += 1;
        }
    }
    tx.commit().map_err(map_err)?;
    Ok(done)
}
