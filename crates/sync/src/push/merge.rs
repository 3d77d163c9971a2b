//! The 3-way merge of one outbox entry against the server's task, and its planned outcome.

use std::collections::HashSet;

use ncy_core::admin::tasks::{self, Task};
use ncy_core::audit;
use ncy_core::auth::Operator;
use ncy_core::db::format_ts;
use ncy_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as J};
use uuid::Uuid;

use crate::outbox::{patch_from, task_json, Entry};

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
/// Turns the fields an entry would have applied into conflicts of a rejected outcome.
pub(super) fn reject(o: &mut Outcome, e: &Entry, theirs: Option<&Task>, why: &Error) {
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
pub(super) fn assignee_of(e: &Entry) -> Option<Uuid> {
    e.new
        .get("assignee_id")
        .and_then(J::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// Plans one entry against the current task: the outcome, and the new task when it changes.
pub(super) fn plan_entry(
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
pub(super) fn audit_entry<'a>(e: &Entry, old: &Task, new: &Task) -> audit::Entry<'a> {
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
