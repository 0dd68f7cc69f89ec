//! Pruning and restoring on SQLite (issue 19), on a connection of their own to the log
//! file with the review file attached: each batch is one `BEGIN IMMEDIATE` transaction,
//! short enough that appends waiting for the log's write lock barely notice it.
//!
//! The log file and the review file each commit atomically, but not together (SQLite's
//! write-ahead log is atomic per file). Should the machine stop between the two, the
//! review copy may keep rows of entries just pruned; verification passes over them, and
//! the next prune of the same range removes them.

use std::path::Path;

use accesslog_core::entry::Entry;
use accesslog_core::merkle::leaf_hash;
use accesslog_store::log::{hash_from_bytes, to_i64};
use accesslog_store::log_search::INDEX_FOR_REVIEW_SQL;
use accesslog_store::retention::{PruneBatch, Restored};
use accesslog_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::writer::{INSERT_ENTRY, insert_entry, map_err};

/// Pages handed back to the disk after each batch, at most: enough to keep up with what
/// a batch frees, few enough to keep the lock short.
const VACUUM_PAGES: u32 = 2000;

fn open(main: &Path) -> StoreResult<Connection> {
    let conn = crate::log_file::open_alone(main)?;
    let review = crate::review::review_path(main);
    let review = review
        .to_str()
        .ok_or_else(|| StoreError::Other(format!("{} is not a UTF-8 path", review.display())))?;
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {}", crate::review::SCHEMA),
        params![review],
    )
    .map_err(map_err)?;
    Ok(conn)
}

/// `seqs` as a JSON array, for `json_each`.
fn json_list(seqs: &[u64]) -> String {
    let items: Vec<String> = seqs.iter().map(u64::to_string).collect();
    format!("[{}]", items.join(","))
}

pub(crate) fn prune(main: &Path, batch: &PruneBatch) -> StoreResult<u64> {
    let mut conn = open(main)?;
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
    // Also the copies left by a prune that stopped between the two files' commits.
    tx.execute(
        "DELETE FROM review.access_log_review WHERE seq IN (SELECT value FROM json_each(?1))",
        params![list],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    // Free pages go back to the disk where the file allows it (a log file made with
    // auto_vacuum = INCREMENTAL; an older one keeps them for new entries).
    // Stepped to completion: each step of the pragma frees one page (execute_batch and
    // query_row step it once).
    let mut vacuum = conn
        .prepare(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
        .map_err(map_err)?;
    let mut steps = vacuum.query([]).map_err(map_err)?;
    while steps.next().map_err(map_err)?.is_some() {}
    Ok(u64::try_from(pruned).unwrap_or(0))
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
