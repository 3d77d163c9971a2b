//! Push: outbox entries in batches, one PostgreSQL transaction per batch.
//!
//! 1. `SyncMutation` rows for the whole batch come first (`INSERT … ON CONFLICT DO NOTHING
//!    RETURNING`): an entry whose row was already there was committed by an earlier attempt
//!    (the client died before it recorded the outcome), so nothing is applied again and the
//!    stored outcome is replayed.
//! 2. The batch's tasks are locked in id order with one statement, and each entry, oldest
//!    first, merges 3-way per field against the task as the entries before it left it: server
//!    == base → apply mine; server == mine → nothing to do; otherwise a conflict (base, mine,
//!    theirs) that is not applied. A task deleted on the server is a conflict on every field.
//! 3. The clean fields are planned by the core as the online operator (`tasks::plan_update`:
//!    permission, validation; assignees checked in one query); a refusal is that entry's
//!    rejection. The planned rows are written set-wise (`task_batch::write_many`) and audited
//!    with one multi-row INSERT, each AuditLog row carrying `_sync` (mutation id, original local
//!    time, who edited offline) from the start.
//! 4. Outcomes are stored in `SyncMutation`, the rows re-read through the slice, and the
//!    transaction commits; then the cache marks the entries, stores their conflicts and the
//!    rows, in one cache transaction.
//!
//! A batch the server refuses as a whole (a constraint or policy, a deadlock) is retried
//! smaller; a batch of one runs its write inside a savepoint, so a server refusal becomes that
//! entry's rejection and never blocks the entries behind it. The batch size adapts: it starts
//! small, doubles while batches commit quickly and halves when one is slow or refused.

mod batch;
mod local;
mod merge;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ncy_core::auth::{perm, Operator};
use ncy_core::db::{Db, PgDb};
use ncy_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::outbox::{self, Entry};
use crate::Ctl;

pub use batch::apply_one;
pub use merge::{merge, FieldConflict, Outcome};

use batch::{apply_batch, BatchError};
use local::record_local;

/// First batch size of a push (it grows while batches are fast).
pub const FIRST_BATCH: usize = 64;
/// Largest batch size.
pub const MAX_BATCH: usize = 2000;
/// A batch that commits faster than this lets the next one double.
const FAST: Duration = Duration::from_millis(250);
/// A batch slower than this (lock waits, a busy server) halves the next one.
const SLOW: Duration = Duration::from_secs(1);

/// What a push did.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PushReport {
    pub pushed: u64,
    pub applied: u64,
    pub noop: u64,
    pub conflicts: u64,
    pub rejected: u64,
    /// Mutations the server already had (a retry after a crash): not applied again.
    pub replayed: u64,
    /// Entries the server can never apply, parked with their reason (see `sync outbox`).
    pub parked: u64,
}
/// The Task columns the server has now: an edit queued under an older schema that touches a
/// column no longer there is parked, never applied to another column.
async fn server_task_columns(server: &Db) -> Result<HashSet<String>> {
    #[derive(Deserialize)]
    struct Column {
        c: String,
    }
    let rows = server
        .query(
            r#"SELECT column_name::text AS c FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'Task'"#,
            &[],
        )
        .await?;
    rows.iter().map(|r| Ok(r.decode::<Column>()?.c)).collect()
}

/// Parks the entries whose fields the server no longer has; returns the others.
async fn check_schema(
    server: &Db,
    cache: &Cache,
    entries: Vec<Entry>,
    rep: &mut PushReport,
) -> Result<Vec<Entry>> {
    let cols = server_task_columns(server).await?;
    let mut keep = Vec::with_capacity(entries.len());
    for e in entries {
        let gone: Vec<&str> = e
            .new
            .keys()
            .map(String::as_str)
            .filter(|f| !cols.contains(*f))
            .collect();
        if gone.is_empty() || cols.is_empty() {
            keep.push(e);
            continue;
        }
        let reason = format!(
            "the server's Task table no longer has {}: this edit was queued under an older \
             schema and is not applied to any other column; discard it or redo it on the new fields",
            gone.join(", ")
        );
        crate::queue::park_seq(cache, e.seq, &reason).await?;
        rep.parked += 1;
    }
    Ok(keep)
}

/// Pushes every pending outbox entry, oldest first, in adaptive batches as the online operator.
/// Cancelling keeps every committed batch and leaves the rest pending. An entry the server
/// refuses on its own (after the batch was split down to it) is parked with the reason and the
/// push goes on; when the server cannot be reached, every waiting entry counts a failed try.
pub async fn push(server: &PgDb, cache: &Cache, op: &Operator, ctl: Ctl<'_>) -> Result<PushReport> {
    op.require(perm::SYNC_RUN)?;
    let mut rep = PushReport::default();
    let entries = outbox::pending(cache).await?;
    if entries.is_empty() {
        return Ok(rep);
    }
    let entries = match check_schema(server, cache, entries, &mut rep).await {
        Ok(e) => e,
        Err(e) => return Err(failed(cache, e).await),
    };
    let total = entries.len() as u64;
    let slice = cache.slice().await?;
    let fixed = ctl.batch;
    let mut size = fixed.unwrap_or(FIRST_BATCH).clamp(1, MAX_BATCH);
    let mut after_failure = false;
    let mut i = 0;
    while i < entries.len() {
        ctl.check_cancel()?;
        let part = &entries[i..(i + size).min(entries.len())];
        let t = Instant::now();
        match apply_batch(server, op, Some(&slice), part, part.len() == 1, ctl).await {
            Ok(a) => {
                record_local(cache, part, &a, ctl).await?;
                for o in &a.outcomes {
                    rep.pushed += 1;
                    if o.replayed {
                        rep.replayed += 1;
                    }
                    match o.status.as_str() {
                        "applied" => rep.applied += 1,
                        "conflict" => rep.conflicts += 1,
                        "rejected" => rep.rejected += 1,
                        _ => rep.noop += 1,
                    }
                }
                i += part.len();
                ctl.report("push", i as u64, total);
                let took = t.elapsed();
                size = match fixed {
                    Some(f) if !after_failure => f.clamp(1, MAX_BATCH),
                    Some(_) => size,
                    None if took > SLOW => (size / 2).max(1),
                    None if took < FAST && !after_failure => (size * 2).min(MAX_BATCH),
                    None => size,
                };
                after_failure = false;
            }
            Err(BatchError::Split(err)) if part.len() > 1 => {
                tracing::debug!(error = %err, size = part.len(), "push batch refused; retrying smaller");
                size = (part.len() / 2).max(1);
                after_failure = true;
            }
            Err(BatchError::Split(err)) => {
                // This entry alone is refused by the server: park it, go on with the rest.
                let reason = format!("the server refused this edit: {err}");
                crate::queue::park_seq(cache, part[0].seq, &reason).await?;
                rep.parked += 1;
                i += 1;
                ctl.report("push", i as u64, total);
                after_failure = true;
            }
            Err(BatchError::Fatal(err)) => return Err(failed(cache, err).await),
        }
    }
    Ok(rep)
}

/// Records a failed try on the waiting entries (not for a cancel or a crash point), then
/// returns the error.
async fn failed(cache: &Cache, err: Error) -> Error {
    if matches!(
        err,
        Error::ServerUnreachable { .. } | Error::DatabaseAuth { .. } | Error::ReadOnly(_)
    ) {
        if let Err(e) = crate::queue::record_failure(cache, &err).await {
            tracing::warn!(error = %e, "could not record the failed push in the outbox");
        }
    }
    err
}
