//! `ncy-admin tasks ...`.

use std::io::BufRead;

use anyhow::Result;
use clap::{Args, Subcommand};
use ncy_core::admin::tasks::{self, NewTask, Task, TaskFilter, TaskPatch};
use ncy_core::admin::{resolve_user, validate_json_object};
use ncy_core::auth::Operator;
use ncy_core::db::Db;
use ncy_core::model::{TaskPriority, TaskStatus};
use ncy_core::Error;
use uuid::Uuid;

use super::args;
use crate::ctx::Ctx;
use crate::output::{emit, emit_page, opt, table};

#[derive(Args, Debug, Default)]
pub struct Filter {
    /// Project id.
    #[arg(long)]
    project: Option<String>,
    /// Organization id or slug.
    #[arg(long)]
    org: Option<String>,
    #[arg(long)]
    status: Option<String>,
    /// Assignee id or email.
    #[arg(long)]
    assignee: Option<String>,
    /// Only overdue tasks (past due, not DONE or CANCELLED).
    #[arg(long)]
    overdue: bool,
    #[arg(long)]
    due_before: Option<String>,
    #[arg(long)]
    search: Option<String>,
    #[arg(long)]
    include_deleted: bool,
}

#[derive(Args, Debug, Default)]
pub struct Changes {
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    priority: Option<String>,
    /// Assignee id or email; `none` to unassign.
    #[arg(long)]
    assignee: Option<String>,
    /// Due date; `none` to clear.
    #[arg(long)]
    due: Option<String>,
    /// Metadata JSON object (replaces the current one).
    #[arg(long)]
    metadata: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Tasks {
    List {
        #[command(flatten)]
        filter: Filter,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        after: Option<String>,
    },
    Show {
        id: String,
    },
    Create {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        changes: Changes,
    },
    Update {
        id: String,
        #[command(flatten)]
        changes: Changes,
    },
    /// Apply the same change to many tasks in one transaction: --ids, --ids-from FILE (- for
    /// stdin), or every task matching the filter flags.
    BulkUpdate {
        #[arg(long)]
        ids: Option<String>,
        #[arg(long)]
        ids_from: Option<String>,
        #[command(flatten)]
        filter: Filter,
        #[arg(long = "set-status")]
        set_status: Option<String>,
        #[arg(long = "set-priority")]
        set_priority: Option<String>,
        #[arg(long = "set-assignee")]
        set_assignee: Option<String>,
        #[arg(long = "set-due")]
        set_due: Option<String>,
    },
    Delete {
        id: String,
    },
    Restore {
        id: String,
    },
}

async fn user_id(db: &Db, s: &str) -> Result<Uuid> {
    let mut tx = db.begin().await?;
    let id = resolve_user(&mut tx, s).await?;
    tx.rollback().await?;
    Ok(id)
}

async fn filter(db: &Db, op: &Operator, f: Filter) -> Result<TaskFilter> {
    let organization_id = match &f.org {
        Some(o) => {
            let mut tx = db.begin().await?;
            let org = ncy_core::admin::orgs::resolve(&mut tx, op, o).await?;
            tx.rollback().await?;
            Some(org.id)
        }
        None => None,
    };
    Ok(TaskFilter {
        project_id: f
            .project
            .as_deref()
            .map(|p| args::id("project", p))
            .transpose()?,
        organization_id,
        status: args::opt_enum(&f.status, TaskStatus::parse)?,
        assignee_id: match &f.assignee {
            Some(a) => Some(user_id(db, a).await?),
            None => None,
        },
        overdue: f.overdue,
        due_before: args::opt_date("due-before", &f.due_before)?,
        search: f.search,
        include_deleted: f.include_deleted,
    })
}

async fn patch(db: &Db, c: Changes) -> Result<TaskPatch> {
    Ok(TaskPatch {
        title: c.title,
        description: c.description.map(Some),
        status: args::opt_enum(&c.status, TaskStatus::parse)?,
        priority: args::opt_enum(&c.priority, TaskPriority::parse)?,
        assignee_id: match c.assignee.as_deref() {
            Some("none") => Some(None),
            Some(a) => Some(Some(user_id(db, a).await?)),
            None => None,
        },
        due_date: match c.due.as_deref() {
            Some("none") => Some(None),
            Some(d) => Some(Some(args::date("due", d)?)),
            None => None,
        },
        metadata: c
            .metadata
            .as_deref()
            .map(|m| validate_json_object("metadata", m))
            .transpose()?,
    })
}

fn rows(ts: &[Task]) -> Vec<Vec<String>> {
    let now = ncy_core::db::now();
    ts.iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.title.clone(),
                t.status.to_string(),
                t.priority.to_string(),
                t.due_date
                    .map(|d| {
                        format!(
                            "{}{}",
                            d.format("%Y-%m-%d"),
                            if t.overdue(now) { " OVERDUE" } else { "" }
                        )
                    })
                    .unwrap_or_else(|| "-".into()),
                opt(&t.assignee_id),
            ]
        })
        .collect()
}

const HEAD: &[&str] = &["id", "title", "status", "priority", "due", "assignee"];

fn one(t: &Task) -> String {
    table(HEAD, rows(std::slice::from_ref(t)))
}

fn read_ids(s: &str) -> Result<Vec<Uuid>> {
    let text = if s == "-" {
        let mut v = Vec::new();
        for l in std::io::stdin().lock().lines() {
            v.push(l.map_err(|e| Error::io("reading ids from stdin", e))?);
        }
        v.join("\n")
    } else {
        std::fs::read_to_string(s).map_err(|e| Error::io(format!("reading {s}"), e))?
    };
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Ok(args::id("ids", l)?))
        .collect()
}

pub async fn run(ctx: &mut Ctx, c: Tasks) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    match c {
        Tasks::List {
            filter: f,
            limit,
            after,
        } => {
            let f = filter(&db, &op, f).await?;
            let p = tasks::list(&db, &op, &f, limit, after.as_deref()).await?;
            emit_page(ctx, &p, || table(HEAD, rows(&p.items)))
        }
        Tasks::Show { id } => {
            let t = tasks::get(&db, &op, args::id("task", &id)?).await?;
            emit(ctx, &t, || {
                format!(
                    "{}\n{}\nmetadata: {}",
                    one(&t),
                    t.description.clone().unwrap_or_default(),
                    t.metadata
                )
            })
        }
        Tasks::Create { project, changes } => {
            let p = patch(&db, changes).await?;
            let n = NewTask {
                project_id: args::id("project", &project)?,
                title: p
                    .title
                    .ok_or_else(|| Error::invalid("title", "is required (--title)"))?,
                description: p.description.flatten(),
                status: p.status,
                priority: p.priority,
                assignee_id: p.assignee_id.flatten(),
                due_date: p.due_date.flatten(),
                metadata: p.metadata,
            };
            let t = tasks::create(&db, &op, &n).await?;
            emit(ctx, &t, || one(&t))
        }
        Tasks::Update { id, changes } => {
            let p = patch(&db, changes).await?;
            if p.is_empty() {
                return Err(Error::invalid("changes", "nothing to change: give at least one of --title --status --priority --assignee --due --metadata --description").into());
            }
            let id = args::id("task", &id)?;
            if ctx.global.offline {
                // Offline: the same core edit on the cache, plus an outbox entry for the next
                // `sync push`, in one cache transaction.
                let cache = ctx.sync_cache().await?;
                let queued = ncy_sync::edit_task(&cache, &op, id, &p).await?;
                let t = tasks::get(&db, &op, id).await?;
                return emit(ctx, &t, || {
                    format!(
                        "{}\n{}",
                        one(&t),
                        if queued.is_some() {
                            "saved offline; `ncy-admin sync push` sends it to the server"
                        } else {
                            "nothing changed"
                        }
                    )
                });
            }
            let t = tasks::update(&db, &op, id, &p).await?;
            emit(ctx, &t, || one(&t))
        }
        Tasks::BulkUpdate {
            ids,
            ids_from,
            filter: f,
            set_status,
            set_priority,
            set_assignee,
            set_due,
        } => {
            let p = patch(
                &db,
                Changes {
                    status: set_status,
                    priority: set_priority,
                    assignee: set_assignee,
                    due: set_due,
                    ..Default::default()
                },
            )
            .await?;
            let mut list: Vec<Uuid> = match (&ids, &ids_from) {
                (Some(s), _) => args::list(s)
                    .iter()
                    .map(|x| args::id("ids", x))
                    .collect::<Result<_, _>>()?,
                (None, Some(file)) => read_ids(file)?,
                (None, None) => vec![],
            };
            if ids.is_none() && ids_from.is_none() {
                let tf = filter(&db, &op, f).await?;
                let mut after: Option<String> = None;
                loop {
                    let page = tasks::list(&db, &op, &tf, 1000, after.as_deref()).await?;
                    list.extend(page.items.iter().map(|t| t.id));
                    match page.next_cursor {
                        Some(c) => after = Some(c),
                        None => break,
                    }
                }
            }
            let job = crate::job::Job::start(ctx, "updating tasks");
            let rep =
                ncy_approvals::gated::bulk_update_tasks(&db, &op, &list, &p, job.work()).await;
            drop(job);
            let rep = rep?;
            emit(ctx, &rep, || {
                format!(
                    "updated {} task(s), {} already as requested (one transaction)",
                    rep.updated, rep.unchanged
                )
            })
        }
        Tasks::Delete { id } => {
            let t = tasks::delete(&db, &op, args::id("task", &id)?).await?;
            emit(ctx, &t, || one(&t))
        }
        Tasks::Restore { id } => {
            let t = tasks::restore(&db, &op, args::id("task", &id)?).await?;
            emit(ctx, &t, || one(&t))
        }
    }
}
