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

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ncy_core::admin::task_batch;
use ncy_core::admin::tasks::{self, Task};
use ncy_core::audit;
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{format_ts, now, Db, PgDb, Tx};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as J};
use uuid::Uuid;

use crate::cache::{set_state, Cache};
use crate::copy::TextRow;
use crate::outbox::{self, patch_from, task_json, Entry};
use crate::tables;
use crate::Ctl;

/// First batch size of a push (it grows while batches are fast).
pub const FIRST_BATCH: usize = 64;
/// Largest batch size.
pub const MAX_BATCH: usize = 2000;
/// A batch that commits faster than this lets the next one double.
const FAST: Duration = Duration::from_millis(250);
/// A batch slower than this (lock waits, a busy server) halves the next one.
const SLOW: Duration = Duration::from_secs(1);

/// One field that could not be merged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldConflict {
    pub field: String,
    pub base: J,
    pub mine: J,
    pub theirs: J,
}

/// The outcome of one mutation, as stored server-side in `SyncMutation.result`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub status: String,
    pub applied: Map<String, J>,
    pub conflicts: Vec<FieldConflict>,
    pub reason: Option<String>,
    /// True when the server had already recorded this mutation (a retry).
    #[serde(default)]
    pub replayed: bool,
}

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

/// The 3-way merge of one entry against the server's task (None: deleted on the server).
pub fn merge(e: &Entry, server: Option<&Task>) -> (Map<String, J>, Vec<FieldConflict>) {
    let mut apply = Map::new();
    let mut conflicts = Vec::new();
    let theirs = server.filter(|t| t.deleted_at.is_none()).map(task_json);
    for (f, mine) in &e.new {
        let base = e.base.get(f).cloned().unwrap_or(J::Null);
        match &theirs {
            None => conflicts.push(FieldConflict {
                field: f.clone(),
                base,
                mine: mine.clone(),
                theirs: J::Null,
            }),
            Some(s) => {
                let sv = s.get(f).cloned().unwrap_or(J::Null);
                if sv == base {
                    apply.insert(f.clone(), mine.clone());
                } else if &sv != mine {
                    conflicts.push(FieldConflict {
                        field: f.clone(),
                        base,
                        mine: mine.clone(),
                        theirs: sv,
                    });
                }
            }
        }
    }
    (apply, conflicts)
}

/// Why a batch did not commit: `Split` when the server refused the batch as a whole (a smaller
/// one may pass), `Fatal` when no retry now can help (connection lost, cancelled, a crash point).
enum BatchError {
    Split(Error),
    Fatal(Error),
}

impl From<Error> for BatchError {
    fn from(e: Error) -> Self {
        match e {
            Error::ServerUnreachable { .. }
            | Error::DatabaseAuth { .. }
            | Error::ReadOnly(_)
            | Error::Unauthenticated(_)
            | Error::Cancelled => BatchError::Fatal(e),
            other => BatchError::Split(other),
        }
    }
}

fn fatal(e: Error) -> BatchError {
    BatchError::Fatal(e)
}

/// An application refusal: the entry is rejected, the push goes on.
fn refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::Forbidden { .. }
            | Error::Invalid { .. }
            | Error::NotFound { .. }
            | Error::Conflict { .. }
    )
}

/// Turns the fields an entry would have applied into conflicts of a rejected outcome.
fn reject(o: &mut Outcome, e: &Entry, theirs: Option<&Task>, why: &Error) {
    let theirs = theirs.map(task_json).unwrap_or_default();
    for (f, mine) in std::mem::take(&mut o.applied) {
        o.conflicts.push(FieldConflict {
            base: e.base.get(&f).cloned().unwrap_or(J::Null),
            theirs: theirs.get(&f).cloned().unwrap_or(J::Null),
            field: f,
            mine,
        });
    }
    o.status = "rejected".into();
    o.reason = Some(format!("the server refused the change: {why}"));
}

fn settle(o: &mut Outcome) {
    if o.status != "rejected" {
        o.status = if !o.conflicts.is_empty() {
            "conflict"
        } else if !o.applied.is_empty() {
            "applied"
        } else {
            "noop"
        }
        .into();
    }
}

/// The assignee an entry sets, if any.
fn assignee_of(e: &Entry) -> Option<Uuid> {
    e.new
        .get("assignee_id")
        .and_then(J::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// Plans one entry against the current task: the outcome, and the new task when it changes.
fn plan_entry(
    op: &Operator,
    e: &Entry,
    cur: Option<&Task>,
    live: &HashSet<Uuid>,
) -> (Outcome, Option<Task>) {
    let mut o = Outcome {
        status: "noop".into(),
        ..Default::default()
    };
    if e.table != "Task" {
        o.status = "rejected".into();
        o.reason = Some(format!("mutations of {} are not supported", e.table));
        return (o, None);
    }
    let (apply, conflicts) = merge(e, cur);
    o.conflicts = conflicts;
    if cur.map(|t| t.deleted_at.is_some()).unwrap_or(true) {
        o.reason = Some("the task was deleted on the server while you edited it offline".into());
    } else if !o.conflicts.is_empty() {
        o.reason = Some("the server changed these fields since your copy".into());
    }
    let mut new = None;
    if let (false, Some(cur)) = (apply.is_empty(), cur) {
        let planned = patch_from(&apply)
            .and_then(|p| tasks::plan_update(op, cur, &p))
            .and_then(|n| match n {
                Some(n) if n.assignee_id != cur.assignee_id => match n.assignee_id {
                    Some(a) if !live.contains(&a) => Err(Error::invalid(
                        "assignee",
                        format!("user {a} does not exist or is deleted"),
                    )),
                    _ => Ok(Some(n)),
                },
                other => Ok(other),
            });
        o.applied = apply;
        match planned {
            Ok(n) => new = n,
            Err(err) => reject(&mut o, e, Some(cur), &err),
        }
    }
    settle(&mut o);
    (o, new)
}

/// The AuditLog entry of one applied entry, marked with its mutation.
fn audit_entry<'a>(e: &Entry, old: &Task, new: &Task) -> audit::Entry<'a> {
    let (a, mut b) = tasks::audit_values(old, new);
    if let Some(m) = b.as_object_mut() {
        m.insert(
            "_sync".into(),
            json!({
                "mutation_id": e.mutation_id,
                "local_time": format_ts(&e.local_time),
                "edited_by": e.operator_email,
                "edited_by_id": e.operator_id,
            }),
        );
    }
    audit::Entry {
        action: "TASK_UPDATE",
        table: "Task",
        target_id: Some(e.row_id),
        old: Some(a),
        new: Some(b),
    }
}

/// What one committed batch returns: the outcomes (entry order) and the tasks re-read through
/// the slice (absent: deleted or moved out of it).
struct Applied {
    outcomes: Vec<Outcome>,
    rows: Vec<TextRow>,
}

/// Inserts the batch's SyncMutation rows; returns the ids that were new.
async fn claim(tx: &mut Tx, op: &Operator, entries: &[Entry]) -> Result<HashSet<Uuid>> {
    let data: Vec<J> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.mutation_id,
                "table_name": e.table,
                "row_id": e.row_id,
                "operator_id": op.user_id,
                "local_time": format_ts(&e.local_time),
            })
        })
        .collect();
    tx.query(
        r#"INSERT INTO "SyncMutation" ("id", "table_name", "row_id", "status", "operator_id", "local_time")
           SELECT v."id", v."table_name", v."row_id", 'noop', v."operator_id", v."local_time"
             FROM jsonb_to_recordset($1::jsonb) AS v("id" uuid, "table_name" text, "row_id" uuid, "operator_id" uuid, "local_time" timestamp(3))
           ON CONFLICT ("id") DO NOTHING RETURNING "id""#,
        &params![J::Array(data)],
    )
    .await?
    .iter()
    .map(|r| r.uuid("id"))
    .collect()
}

/// The stored outcomes of mutations an earlier attempt committed.
async fn replays(tx: &mut Tx, ids: Vec<String>) -> Result<HashMap<Uuid, Outcome>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = tx
        .query(
            r#"SELECT "id", "result" FROM "SyncMutation" WHERE "id" = ANY($1::uuid[])"#,
            &params![ids],
        )
        .await?;
    for r in rows {
        let id = r.uuid("id")?;
        let mut o: Outcome = serde_json::from_value(r.opt_json("result")?.unwrap_or(J::Null))
            .map_err(|err| {
                Error::db(format!(
                    "stored outcome of mutation {id} is unreadable: {err}"
                ))
            })?;
        o.replayed = true;
        out.insert(id, o);
    }
    Ok(out)
}

/// Applies one batch in one server transaction. `guarded` (a batch of one) wraps the write in
/// a savepoint so that a server refusal becomes the entry's rejection.
async fn apply_batch(
    server: &Db,
    op: &Operator,
    slice: Option<&tables::Slice>,
    entries: &[Entry],
    guarded: bool,
    ctl: Ctl<'_>,
) -> std::result::Result<Applied, BatchError> {
    let mut tx = server.begin().await?;
    let fresh = claim(&mut tx, op, entries).await?;
    let stale: Vec<String> = entries
        .iter()
        .filter(|e| !fresh.contains(&e.mutation_id))
        .map(|e| e.mutation_id.to_string())
        .collect();
    let mut replayed = replays(&mut tx, stale).await?;
    ctl.fault("push:after-claim").map_err(fatal)?;
    let todo: Vec<&Entry> = entries
        .iter()
        .filter(|e| fresh.contains(&e.mutation_id))
        .collect();
    let ids: Vec<Uuid> = todo.iter().map(|e| e.row_id).collect();
    let originals = task_batch::lock_many(&mut tx, &ids).await?;
    let mut assignees: Vec<Uuid> = todo.iter().filter_map(|e| assignee_of(e)).collect();
    assignees.sort();
    assignees.dedup();
    let live = task_batch::live_users(&mut tx, &assignees).await?;

    let mut state = originals.clone();
    let mut planned: HashMap<Uuid, Outcome> = HashMap::new();
    let mut audits = Vec::new();
    for e in &todo {
        let (o, new) = plan_entry(op, e, state.get(&e.row_id), &live);
        if let (Some(new), Some(cur)) = (new, state.get(&e.row_id)) {
            audits.push(audit_entry(e, cur, &new));
            state.insert(e.row_id, new);
        }
        planned.insert(e.mutation_id, o);
    }
    let mut edits: Vec<(&Task, &Task)> = state
        .iter()
        .filter_map(|(id, n)| originals.get(id).filter(|o| *o != n).map(|o| (o, n)))
        .collect();
    edits.sort_by_key(|(o, _)| o.id);
    if guarded && !edits.is_empty() {
        tx.execute("SAVEPOINT ncy_sync_apply", &[]).await?;
        let wrote = match task_batch::write_many(&mut tx, &edits).await {
            Ok(()) => audit::record_many(&mut tx, op, audits).await.map(|_| ()),
            Err(err) => Err(err),
        };
        if let Err(err) = wrote {
            if !refusal(&err) {
                return Err(err.into());
            }
            tx.execute("ROLLBACK TO SAVEPOINT ncy_sync_apply", &[])
                .await?;
            for e in &todo {
                if let Some(o) = planned.get_mut(&e.mutation_id) {
                    if !o.applied.is_empty() {
                        reject(o, e, originals.get(&e.row_id), &err);
                    }
                }
            }
        }
    } else if !edits.is_empty() {
        task_batch::write_many(&mut tx, &edits).await?;
        audit::record_many(&mut tx, op, audits).await?;
    }

    let stored: Vec<J> = todo
        .iter()
        .filter_map(|e| planned.get(&e.mutation_id).map(|o| (e, o)))
        .map(|(e, o)| {
            Ok(json!({
                "id": e.mutation_id,
                "status": o.status,
                "result": serde_json::to_value(o).map_err(|err| Error::db(err.to_string()))?,
            }))
        })
        .collect::<Result<_>>()?;
    if !stored.is_empty() {
        tx.execute(
            r#"UPDATE "SyncMutation" m SET "status" = v."status", "result" = v."result"
               FROM jsonb_to_recordset($1::jsonb) AS v("id" uuid, "status" text, "result" jsonb)
               WHERE m."id" = v."id""#,
            &params![J::Array(stored)],
        )
        .await?;
    }
    let mut keys: Vec<Vec<String>> = entries.iter().map(|e| vec![e.row_id.to_string()]).collect();
    keys.sort();
    keys.dedup();
    let rows = match slice {
        Some(slice) => crate::pull::refetch(&mut tx, slice, &tables::TASK, &keys).await?,
        None => Vec::new(),
    };
    ctl.fault("push:before-commit").map_err(fatal)?;
    tx.commit().await?;
    ctl.fault("push:after-commit").map_err(fatal)?;
    let outcomes = entries
        .iter()
        .map(|e| {
            planned
                .remove(&e.mutation_id)
                .or_else(|| replayed.remove(&e.mutation_id))
                .ok_or_else(|| {
                    fatal(Error::db(format!(
                        "mutation {} has no stored outcome on the server",
                        e.mutation_id
                    )))
                })
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(Applied { outcomes, rows })
}

/// Applies one mutation on the server in its own transaction (idempotent by mutation id),
/// without touching the cache.
pub async fn apply_one(server: &PgDb, op: &Operator, e: &Entry, ctl: Ctl<'_>) -> Result<Outcome> {
    match apply_batch(server, op, None, std::slice::from_ref(e), true, ctl).await {
        Ok(mut a) => a
            .outcomes
            .pop()
            .ok_or_else(|| Error::db("the push returned no outcome")),
        Err(BatchError::Split(err) | BatchError::Fatal(err)) => Err(err),
    }
}

/// Records a committed batch in the cache in one cache transaction: outcomes, conflicts, and
/// the rows as the server has them now (a repeat is harmless: only pending entries change).
async fn record_local(cache: &Cache, entries: &[Entry], a: &Applied, ctl: Ctl<'_>) -> Result<()> {
    let present: HashSet<&str> = a
        .rows
        .iter()
        .filter_map(|r| r.first().and_then(|v| v.as_deref()))
        .collect();
    let mut ids: Vec<String> = entries.iter().map(|e| e.row_id.to_string()).collect();
    ids.sort();
    ids.dedup();
    let mut ltx = cache.db.begin().await?;
    crate::cache::writer_on(&mut ltx).await?;
    let at = now();
    for (e, o) in entries.iter().zip(&a.outcomes) {
        let n = ltx
            .execute(
                r#"UPDATE "SyncOutbox" SET "status" = $2, "pushed_at" = $3 WHERE "mutation_id" = $1 AND "status" = 'pending'"#,
                &params![e.mutation_id, o.status.as_str(), at],
            )
            .await?;
        if n == 0 {
            continue;
        }
        for c in &o.conflicts {
            ltx.execute(
                r#"INSERT INTO "SyncConflict" ("id", "mutation_id", "table_name", "row_id", "field", "base", "mine", "theirs", "reason", "created_at")
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
                &params![
                    Uuid::new_v4(),
                    e.mutation_id,
                    e.table.as_str(),
                    e.row_id,
                    c.field.as_str(),
                    c.base.clone(),
                    c.mine.clone(),
                    c.theirs.clone(),
                    o.reason.clone().unwrap_or_else(|| "conflict".into()),
                    at
                ],
            )
            .await?;
        }
    }
    for id in ids.iter().filter(|i| !present.contains(i.as_str())) {
        ltx.execute(
            r#"DELETE FROM "Task" WHERE "id" = $1"#,
            &params![id.as_str()],
        )
        .await?;
    }
    crate::initial::store_rows(&mut ltx, &tables::TASK, &a.rows)?;
    outbox::rebase(&mut ltx, Some(&ids)).await?;
    set_state(&mut ltx, "last_push_at", &format_ts(&at)).await?;
    crate::cache::writer_off(&mut ltx).await?;
    ctl.fault("push:before-local-commit")?;
    ltx.commit().await?;
    Ok(())
}

/// The Task columns the server has now: an edit queued under an older schema that touches a
/// column no longer there is parked, never applied to another column.
async fn server_task_columns(server: &Db) -> Result<HashSet<String>> {
    let rows = server
        .query(
            r#"SELECT column_name::text AS c FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'Task'"#,
            &[],
        )
        .await?;
    rows.iter().map(|r| r.text("c")).collect()
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
