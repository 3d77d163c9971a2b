//! One push batch in one server transaction: claim, lock, merge, write, audit, store outcomes.

use std::collections::{HashMap, HashSet};

use ncy_core::admin::task_batch;
use ncy_core::admin::tasks::Task;
use ncy_core::audit;
use ncy_core::auth::Operator;
use ncy_core::db::{format_ts, Db, PgDb, Tx};
use ncy_core::{params, Error, Result};
use serde::Deserialize;
use serde_json::{json, Value as J};
use uuid::Uuid;

use super::merge::{assignee_of, audit_entry, plan_entry, reject, Outcome};
use crate::copy::TextRow;
use crate::outbox::Entry;
use crate::rows::Id;
use crate::tables;
use crate::Ctl;

/// Why a batch did not commit: `Split` when the server refused the batch as a whole (a smaller
/// one may pass), `Fatal` when no retry now can help (connection lost, cancelled, a crash point).
pub(super) enum BatchError {
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
/// What one committed batch returns: the outcomes (entry order) and the tasks re-read through
/// the slice (absent: deleted or moved out of it).
pub(super) struct Applied {
    pub(super) outcomes: Vec<Outcome>,
    pub(super) rows: Vec<TextRow>,
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
    .map(|r| Ok(r.decode::<Id>()?.id))
    .collect()
}

/// The stored outcomes of mutations an earlier attempt committed.
async fn replays(tx: &mut Tx, ids: Vec<String>) -> Result<HashMap<Uuid, Outcome>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    #[derive(Deserialize)]
    struct Stored {
        id: Uuid,
        result: Option<J>,
    }
    let rows: Vec<Stored> = tx
        .query_as(
            r#"SELECT "id", "result" FROM "SyncMutation" WHERE "id" = ANY($1::uuid[])"#,
            &params![ids],
        )
        .await?;
    for r in rows {
        let id = r.id;
        let mut o: Outcome =
            serde_json::from_value(r.result.unwrap_or(J::Null)).map_err(|err| {
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
pub(super) async fn apply_batch(
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
        let wrote = match task_batch::write_many(&mut tx, op, &edits).await {
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
        task_batch::write_many(&mut tx, op, &edits).await?;
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
