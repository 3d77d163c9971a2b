//! `ncy-admin sync …`: the offline cache of this server profile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand};
use ncy_core::admin::tasks::TaskPatch;
use ncy_core::db::PgDb;
use ncy_core::Error;
use ncy_sync::conflicts::{self, parse_value};
use ncy_sync::{Ctl, Resolution};
use serde_json::{json, Map};

use super::args;
use crate::ctx::Ctx;
use crate::output::{emit, table};

#[derive(Subcommand, Debug)]
pub enum Sync {
    /// Choose this profile's slice (organizations) and make the first pull. Replaces any cache.
    Init {
        /// Organization slugs, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        org: Vec<String>,
    },
    /// Sync state: last pull/push, pending outbox entries, open conflicts, cached rows.
    Status,
    /// Pull the server's changes into the cache.
    Pull,
    /// Push offline edits to the server (each in its own transaction, merged field by field).
    Push,
    /// Push, then pull. With --watch, keep doing so: every --interval seconds, and sooner when
    /// a failed push is due for its retry (exponential backoff), until Ctrl-C.
    Run {
        #[arg(long)]
        watch: bool,
        /// Seconds between two rounds with --watch.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        interval: u64,
    },
    /// The edits waiting for the server: fields (base → mine), attempts, last error and state
    /// (pending, failed, parked). `retry`, `park` or `discard` one entry.
    Outbox {
        #[command(subcommand)]
        action: Option<OutboxCmd>,
    },
    /// List conflicts with base, mine and theirs.
    Conflicts {
        /// Include resolved conflicts.
        #[arg(long)]
        all: bool,
    },
    /// Resolve a conflict: keep mine, keep theirs, or give a new value.
    Resolve {
        id: String,
        #[arg(long, value_parser = ["mine", "theirs"], required_unless_present = "value")]
        keep: Option<String>,
        #[arg(long, conflicts_with = "keep")]
        value: Option<String>,
    },
    /// Delete the server's change-feed rows older than N days (caches offline longer must
    /// rebuild with `sync init`). Needs settings.write.
    Prune {
        #[arg(long, value_name = "DAYS")]
        older_than_days: u32,
    },
    /// Edit a task in the cache (works offline; pushed by `sync push` / `sync run`).
    Edit {
        id: String,
        #[command(flatten)]
        changes: EditArgs,
    },
}

/// What to do with one outbox entry (its number from `sync outbox`, or its mutation id).
#[derive(Subcommand, Debug)]
pub enum OutboxCmd {
    /// Put a failed or parked entry back in line for the next push.
    Retry { id: String },
    /// Set an entry aside: pushes skip it until it is retried.
    Park {
        id: String,
        #[arg(long, default_value = "parked by the operator")]
        reason: String,
    },
    /// Drop an entry for good (the cached task gets its values back; audited in the cache).
    Discard {
        id: String,
        /// Required: discarding loses the edit.
        #[arg(long)]
        confirm: bool,
    },
}

#[derive(Args, Debug, Default)]
pub struct EditArgs {
    #[arg(long)]
    title: Option<String>,
    /// Description; an empty value clears it.
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    priority: Option<String>,
    /// Assignee user id; `none` to unassign.
    #[arg(long)]
    assignee: Option<String>,
    /// Due date (YYYY-MM-DD [HH:MM]); `none` to clear.
    #[arg(long)]
    due: Option<String>,
    /// Metadata JSON object (replaces the current one), e.g. a review comment.
    #[arg(long)]
    metadata: Option<String>,
}

fn patch(a: EditArgs) -> Result<TaskPatch> {
    let mut m = Map::new();
    let none = |v: &str| {
        if v.trim().eq_ignore_ascii_case("none") {
            ""
        } else {
            v
        }
        .to_owned()
    };
    for (field, v) in [
        ("title", a.title),
        ("description", a.description),
        ("status", a.status),
        ("priority", a.priority),
        ("assignee_id", a.assignee.as_deref().map(none)),
        ("due_date", a.due.as_deref().map(none)),
        ("metadata", a.metadata),
    ] {
        if let Some(v) = v {
            m.insert(field.into(), parse_value(field, &v)?);
        }
    }
    if m.is_empty() {
        return Err(Error::invalid(
            "changes",
            "nothing to change: give at least one of --title --description --status --priority --assignee --due --metadata",
        )
        .into());
    }
    Ok(ncy_sync::outbox::patch_from(&m)?)
}

/// A progress bar on stderr (hidden with --json or when stderr is not a terminal).
fn online_only(ctx: &Ctx, what: &str) -> Result<()> {
    if ctx.global.offline {
        return Err(Error::invalid(
            "offline",
            format!("`sync {what}` talks to the server; run it without --offline"),
        )
        .into());
    }
    Ok(())
}

async fn server(ctx: &mut Ctx) -> Result<(PgDb, ncy_core::auth::Operator)> {
    let db = ctx.db().await?;
    let Some(db) = db.pg().cloned() else {
        return Err(Error::Config(
            "sync needs a PostgreSQL server profile: pass --database-url URL or set DATABASE_URL"
                .into(),
        )
        .into());
    };
    let op = ctx.operator().await?;
    Ok((db, op))
}

pub async fn run(ctx: &mut Ctx, c: Sync) -> Result<()> {
    // Ctrl-C cancels the long operations; the others end as usual.
    let cancel = if matches!(
        c,
        Sync::Init { .. } | Sync::Pull | Sync::Push | Sync::Run { .. }
    ) {
        crate::exit::cancel_on_ctrl_c()
    } else {
        Arc::new(AtomicBool::new(false))
    };
    let job = crate::job::Job::with_cancel(ctx, "sync", cancel.clone());
    let (ctl, pb) = (Ctl::from(job.work()), job.bar());
    match c {
        Sync::Init { org } => {
            online_only(ctx, "init")?;
            let url = ctx.server_url()?;
            let (db, op) = server(ctx).await?;
            // The first, heavy read goes to the read replica when one is configured.
            let read = ctx.read_db().await?;
            let read = read.pg().unwrap_or(&db);
            let (cache, rep) =
                ncy_sync::initial::init_profile_via(&db, read, &url, &op, &org, ctl).await?;
            pb.finish_and_clear();
            let st = cache.status().await?;
            emit(ctx, &json!({ "initial": rep, "status": st }), || {
                format!(
                    "cache ready: {} rows of {} in {} (encrypted; key in the OS keychain)",
                    rep.rows,
                    st.organizations.join(", "),
                    st.path
                )
            })
        }
        Sync::Status => {
            let cache = ctx.sync_cache().await?;
            let st = cache.status().await?;
            emit(ctx, &st, || {
                let mut rows = vec![
                    vec!["cache".into(), st.path.clone()],
                    vec!["server".into(), st.profile.clone()],
                    vec!["organizations".into(), st.organizations.join(", ")],
                    vec!["operator".into(), st.operator.clone()],
                    vec![
                        "first sync".into(),
                        if st.initial_sync_done {
                            "done"
                        } else {
                            "incomplete: run `sync pull`"
                        }
                        .into(),
                    ],
                    vec![
                        "last pull".into(),
                        st.last_pull_at.clone().unwrap_or_else(|| "never".into()),
                    ],
                    vec![
                        "last push".into(),
                        st.last_push_at.clone().unwrap_or_else(|| "never".into()),
                    ],
                    vec!["pending edits".into(), st.pending.to_string()],
                    vec!["open conflicts".into(), st.conflicts.to_string()],
                ];
                for (t, n) in &st.rows {
                    rows.push(vec![format!("rows: {t}"), n.to_string()]);
                }
                table(&["", ""], rows)
            })
        }
        Sync::Run {
            watch: true,
            interval,
        } => {
            online_only(ctx, "run --watch")?;
            pb.finish_and_clear();
            watch(ctx, interval, &cancel).await
        }
        Sync::Outbox { action } => outbox_cmd(ctx, action).await,
        Sync::Pull | Sync::Push | Sync::Run { .. } => {
            let what = match c {
                Sync::Pull => "pull",
                Sync::Push => "push",
                _ => "run",
            };
            online_only(ctx, what)?;
            let cache = ctx.sync_cache().await?;
            let (db, op) = match server(ctx).await {
                Ok(s) => s,
                Err(e) => {
                    // An unreachable server is a failed try for every waiting edit.
                    if let Some(ce) = e.downcast_ref::<Error>() {
                        if matches!(ce, Error::ServerUnreachable { .. }) && what != "pull" {
                            ncy_sync::queue::record_failure(&cache, ce).await?;
                        }
                    }
                    return Err(e);
                }
            };
            let out = match what {
                "pull" => json!({ "pull": ncy_sync::pull::pull(&db, &cache, &op, ctl).await? }),
                "push" => json!({ "push": ncy_sync::push::push(&db, &cache, &op, ctl).await? }),
                _ => {
                    let (p, q) = ncy_sync::run(&db, &cache, &op, ctl).await?;
                    json!({ "push": p, "pull": q })
                }
            };
            pb.finish_and_clear();
            let open = cache.status().await?.conflicts;
            emit(ctx, &out, || {
                let mut s = String::new();
                if let Some(p) = out.get("push") {
                    s.push_str(&format!(
                        "pushed {} edit(s): {} applied, {} already on the server, {} conflict(s), {} refused, {} retried safely\n",
                        p["pushed"], p["applied"], p["noop"], p["conflicts"], p["rejected"], p["replayed"]
                    ));
                    if p["parked"].as_u64().unwrap_or(0) > 0 {
                        s.push_str(&format!(
                            "{} edit(s) parked (the server can never apply them): see `ncy-admin sync outbox`\n",
                            p["parked"]
                        ));
                    }
                }
                if let Some(q) = out.get("pull") {
                    s.push_str(&format!(
                        "pulled {} change(s): {} row(s) updated, {} removed\n",
                        q["changes"], q["upserted"], q["removed"]
                    ));
                }
                if open > 0 {
                    s.push_str(&format!(
                        "{open} open conflict(s): see `ncy-admin sync conflicts`"
                    ));
                }
                s
            })
        }
        Sync::Conflicts { all } => {
            let cache = ctx.sync_cache().await?;
            let list = conflicts::list(&cache, all).await?;
            emit(ctx, &list, || {
                if list.is_empty() {
                    return "no conflicts".into();
                }
                table(
                    &[
                        "id", "task", "field", "base", "mine", "theirs", "reason", "resolved",
                    ],
                    list.iter()
                        .map(|k| {
                            vec![
                                k.id.to_string(),
                                k.row_id.to_string(),
                                k.field.clone(),
                                k.base.to_string(),
                                k.mine.to_string(),
                                k.theirs.to_string(),
                                k.reason.clone(),
                                k.resolution.clone().unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect(),
                )
            })
        }
        Sync::Resolve { id, keep, value } => {
            let cache = ctx.sync_cache().await?;
            let op = cache.operator().await?;
            let how = Resolution::choose(keep.as_deref(), value)?;
            let r = conflicts::resolve(&cache, &op, args::id("conflict", &id)?, &how).await?;
            emit(ctx, &r, || {
                match &r.mutation {
                Some(m) => format!(
                    "resolved; the new value is queued as mutation {} (push with `ncy-admin sync run`)",
                    m.mutation_id
                ),
                None => "resolved; the server's value stays".into(),
            }
            })
        }
        Sync::Prune { older_than_days } => {
            online_only(ctx, "prune")?;
            let (db, op) = server(ctx).await?;
            let r = ncy_sync::prune::prune(
                &db,
                &op,
                chrono::Duration::days(i64::from(older_than_days)),
            )
            .await?;
            emit(ctx, &r, || {
                format!(
                    "deleted {} change row(s) older than {older_than_days} day(s)",
                    r.deleted
                )
            })
        }
        Sync::Edit { id, changes } => {
            let cache = ctx.sync_cache().await?;
            let op = cache.operator().await?;
            let p = patch(changes)?;
            let e = ncy_sync::edit_task(&cache, &op, args::id("task", &id)?, &p).await?;
            emit(ctx, &e, || match &e {
                Some(e) => format!(
                    "edited in the cache; queued as mutation {} (push with `ncy-admin sync run`)",
                    e.mutation_id
                ),
                None => "nothing changed".into(),
            })
        }
    }
}

/// `sync outbox [retry|park|discard ID]`.
async fn outbox_cmd(ctx: &mut Ctx, action: Option<OutboxCmd>) -> Result<()> {
    use ncy_sync::queue;
    let cache = ctx.sync_cache().await?;
    let item = match action {
        None => {
            let items = queue::list(&cache).await?;
            return emit(ctx, &items, || {
                if items.is_empty() {
                    return "the outbox is empty: every edit reached the server".into();
                }
                table(
                    &[
                        "#",
                        "task",
                        "changes (base → mine)",
                        "state",
                        "tries",
                        "last error",
                    ],
                    items
                        .iter()
                        .map(|i| {
                            let changes = i
                                .entry
                                .new
                                .iter()
                                .map(|(f, v)| {
                                    let b = i.entry.base.get(f).cloned().unwrap_or_default();
                                    format!("{f}: {b} → {v}")
                                })
                                .collect::<Vec<_>>()
                                .join("; ");
                            let state = match (&*i.state, i.next_attempt_at) {
                                ("failed", Some(t)) => format!("failed (next try {t})"),
                                (s, _) => s.to_owned(),
                            };
                            vec![
                                i.entry.seq.to_string(),
                                i.entry.row_id.to_string(),
                                changes,
                                state,
                                i.attempts.to_string(),
                                i.last_error.clone().unwrap_or_default(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        Some(OutboxCmd::Retry { id }) => queue::retry(&cache, &id).await?,
        Some(OutboxCmd::Park { id, reason }) => queue::park(&cache, &id, &reason).await?,
        Some(OutboxCmd::Discard { id, confirm }) => {
            if !confirm {
                return Err(Error::invalid(
                    "confirm",
                    "discarding loses the edit for good: repeat with --confirm",
                )
                .into());
            }
            let op = cache.operator().await?;
            let it = queue::discard(&cache, &op, &id).await?;
            return emit(ctx, &it, || {
                format!(
                    "discarded edit {} of task {}; the cache shows the task as before it",
                    it.entry.seq, it.entry.row_id
                )
            });
        }
    };
    emit(ctx, &item, || {
        format!(
            "edit {} of task {} is {}",
            item.entry.seq, item.entry.row_id, item.state
        )
    })
}

/// `sync run --watch`: push then pull, again every `interval` seconds or when a failed push is
/// due for its retry, without waiting for a new edit; until Ctrl-C.
async fn watch(ctx: &mut Ctx, interval: u64, cancel: &AtomicBool) -> Result<()> {
    use ncy_sync::queue;
    let cache = ctx.sync_cache().await?;
    let interval = chrono::Duration::seconds(interval.max(1) as i64);
    // A change on the server wakes the loop at once (LISTEN ncy_sync); else it polls.
    let mut wake: Option<ncy_sync::wake::Wakeup> = None;
    let mut announced = false;
    while !cancel.load(Ordering::Relaxed) {
        let ctl = Ctl::from(ncy_sync::Work::none().with_cancel(cancel));
        match server(ctx).await {
            // Not even a connection: a failed try for every waiting edit.
            Err(e) => match e.downcast_ref::<Error>() {
                Some(ce @ Error::ServerUnreachable { .. }) => {
                    queue::record_failure(&cache, ce).await?;
                    eprintln!("warning: {e:#}; retrying");
                }
                _ => return Err(e),
            },
            Ok((db, op)) => {
                if wake.is_none() {
                    wake = Some(ncy_sync::wake::Wakeup::listen(&db).await);
                }
                match ncy_sync::run(&db, &cache, &op, ctl).await {
                    Ok((p, q)) => {
                        if p.pushed + p.parked + q.changes > 0 && !ctx.json() {
                            eprintln!(
                                "{}: pushed {} ({} applied, {} parked), pulled {} change(s)",
                                ncy_core::db::format_ts(&ncy_core::db::now()),
                                p.pushed,
                                p.applied,
                                p.parked,
                                q.changes
                            );
                        }
                    }
                    Err(Error::Cancelled) => break,
                    // The push has counted the failed try; the next round retries it.
                    Err(
                        e @ (Error::ServerUnreachable { .. }
                        | Error::ReadOnly(_)
                        | Error::DatabaseAuth { .. }),
                    ) => eprintln!("warning: sync round failed: {e}; retrying"),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if let (Some(w), false) = (&wake, announced) {
            announced = true;
            eprintln!(
                "watching: {}",
                if w.listening() {
                    "a change on the server wakes this at once (LISTEN ncy_sync)".to_owned()
                } else {
                    format!(
                        "polling every {} s (no LISTEN through a connection pooler)",
                        interval.num_seconds()
                    )
                }
            );
        }
        // Wait for the next round: the interval, or sooner when a retry is due.
        let now = ncy_core::db::now();
        let next = match queue::next_due(&cache).await? {
            Some(due) => due.min(now + interval),
            None => now + interval,
        };
        let until = std::time::Instant::now() + (next - now).to_std().unwrap_or_default();
        while !cancel.load(Ordering::Relaxed) {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let step = left.min(std::time::Duration::from_millis(200));
            let woke = match wake.as_mut() {
                Some(w) => w.wait(step).await,
                None => {
                    tokio::time::sleep(step).await;
                    false
                }
            };
            if woke {
                break;
            }
        }
    }
    Ok(())
}
