//! Keeping the server's change feed small: rows older than a retention period are deleted, and
//! the highest pruned transaction id is recorded (server-side `SyncState`, key `pruned_xid`). A
//! cache whose cursor could still need a pruned row is told to rebuild (`sync init`) instead of
//! silently missing changes.

use chrono::Duration;
use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, PgDb, Tx};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};

/// What a prune did.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub deleted: u64,
    pub pruned_xid: Option<String>,
}

/// Deletes change rows older than `keep` (one transaction, audited). Needs `settings.write`.
pub async fn prune(server: &PgDb, op: &Operator, keep: Duration) -> Result<PruneReport> {
    op.require(perm::SETTINGS_WRITE)?;
    if keep < Duration::hours(1) {
        return Err(Error::invalid(
            "older-than",
            "keep at least one hour of changes (caches that were offline longer must rebuild)",
        ));
    }
    let before = now() - keep;
    #[derive(Deserialize)]
    struct Pruned {
        n: i64,
        x: Option<String>,
    }
    let mut tx = server.begin().await?;
    // The feed is no operator's to delete from: ncy_sync_prune() (migration 0024) deletes and
    // records the mark for every role, checked, in this transaction.
    let row: Pruned = tx
        .query_one_as(
            r#"SELECT "n", "x" FROM ncy_sync_prune($1)"#,
            &params![before],
        )
        .await?;
    let (deleted, x) = (row.n as u64, row.x);
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "SYNC_PRUNE",
            table: "SyncChange",
            target_id: None,
            old: None,
            new: Some(serde_json::json!({ "deleted": deleted, "before": before, "pruned_xid": x })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(PruneReport {
        deleted,
        pruned_xid: x,
    })
}

/// Fails when the server pruned a change that a cache with cursor `snapshot` may not have read:
/// a pruned transaction that was not yet committed in that snapshot (at or above its xmax, or
/// among its in-progress ids). Conservative: only the highest pruned id is kept. Returns the
/// transaction's own snapshot: the cursor the pull leaves.
pub(crate) async fn check_cursor(stx: &mut Tx, snapshot: &str) -> Result<String> {
    // One round trip: the transaction's own snapshot (the new cursor) and the check.
    #[derive(serde::Deserialize)]
    struct Checked {
        w: String,
        pruned: bool,
    }
    let row: Checked = stx
        .query_one_as(
            &format!(
                r#"SELECT pg_current_snapshot()::text AS w, EXISTS (
                     SELECT 1 FROM "SyncState" s WHERE s."key" = 'pruned_xid'
                     AND (s."value"::xid8 >= pg_snapshot_xmax('{snapshot}'::pg_snapshot)
                          OR EXISTS (SELECT 1 FROM pg_snapshot_xip('{snapshot}'::pg_snapshot) x
                                     WHERE x <= s."value"::xid8))) AS pruned"#
            ),
            &[],
        )
        .await?;
    if row.pruned {
        return Err(Error::conflict(
            "cache",
            "the server pruned changes this cache has not seen yet (it was offline longer than the server keeps changes); rebuild it with `ncy-admin sync init --org …` (push first if `sync status` shows pending edits)",
        ));
    }
    Ok(row.w)
}
