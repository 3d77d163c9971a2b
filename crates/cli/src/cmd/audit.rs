//! `ncy-admin audit list|export` and `ncy-admin logs access|error`.

use anyhow::Result;
use clap::Subcommand;
use ncy_core::admin::logs::{self, AccessFilter, ErrorFilter};
use ncy_core::audit::query::{self, AuditFilter, Format};
use ncy_core::model::LogLevel;
use ncy_core::Error;

use super::args;
use crate::ctx::Ctx;
use crate::output::{emit, emit_page, opt, table};

#[derive(Subcommand, Debug)]
pub enum Audit {
    List {
        /// Actor: user id or email.
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        table: Option<String>,
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        after: Option<String>,
    },
    /// Stream every matching entry to a file (written to a temporary name, renamed when complete).
    Export {
        #[arg(long)]
        format: String,
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        table: Option<String>,
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
    },
    /// Re-compute the AuditLog hash chain; exit 10 naming the first bad row when a row was
    /// edited, deleted or reordered.
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum Logs {
    Access {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        method: Option<String>,
        #[arg(long)]
        endpoint: Option<String>,
        /// Status code (404) or class (4xx).
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        after: Option<String>,
    },
    Error {
        #[arg(long)]
        service: Option<String>,
        /// Minimum level: DEBUG, INFO, WARN, ERROR, FATAL.
        #[arg(long)]
        level: Option<String>,
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        after: Option<String>,
    },
}

#[allow(clippy::too_many_arguments)]
fn audit_filter(
    actor: Option<String>,
    table: Option<String>,
    target: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
) -> Result<AuditFilter, Error> {
    Ok(AuditFilter {
        actor,
        table,
        target: target
            .as_deref()
            .map(|t| args::id("target", t))
            .transpose()?,
        action,
        since: args::opt_date("since", &since)?,
        until: args::opt_date("until", &until)?,
    })
}

pub async fn run(ctx: &mut Ctx, c: Audit) -> Result<()> {
    let op = ctx.operator().await?;
    let db = ctx.read_db().await?;
    match c {
        Audit::Verify => {
            let r = ncy_core::audit::verify(&db, &op).await?;
            emit(ctx, &r, || {
                let head = format!("head: row {} {}", r.head_seq, r.head_hash);
                match &r.first_bad {
                    None => format!(
                        "audit chain intact: {} rows ({} redacted, after checkpoint {})\n{head}",
                        r.rows, r.redacted, r.checkpoint_seq
                    ),
                    Some(b) => format!("audit chain BROKEN: {}\n{head}", b.message),
                }
            })?;
            match r.first_bad {
                None => Ok(()),
                Some(b) => Err(Error::VerificationFailed(b.message).into()),
            }
        }
        Audit::List {
            actor,
            table: t,
            target,
            action,
            since,
            until,
            limit,
            after,
        } => {
            let f = audit_filter(actor, t, target, action, since, until)?;
            let p = query::list(&db, &op, &f, limit, after.as_deref()).await?;
            emit_page(ctx, &p, || {
                table(
                    &["time", "actor", "action", "table", "target", "change"],
                    p.items
                        .iter()
                        .map(|e| {
                            let change = match (&e.old_value, &e.new_value) {
                                (Some(o), Some(n)) => format!("{o} → {n}"),
                                (None, Some(n)) => n.to_string(),
                                (Some(o), None) => format!("{o} → ∅"),
                                (None, None) => String::new(),
                            };
                            vec![
                                e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                                opt(&e.actor_email),
                                e.action.clone(),
                                e.target_table.clone(),
                                opt(&e.target_id),
                                change,
                            ]
                        })
                        .collect(),
                )
            })
        }
        Audit::Export {
            format,
            out,
            actor,
            table: t,
            target,
            action,
            since,
            until,
        } => {
            let format = Format::parse(&format)?;
            let f = audit_filter(actor, t, target, action, since, until)?;
            let job = crate::job::Job::start(ctx, "exporting audit log");
            let n = query::export_file(&db, &op, &f, format, &out, job.work()).await;
            drop(job);
            let n = n?;
            crate::output::emit(ctx, &serde_json::json!({ "rows": n, "out": out }), || {
                format!("exported {n} audit entries to {}", out.display())
            })
        }
    }
}

pub async fn run_logs(ctx: &mut Ctx, c: Logs) -> Result<()> {
    let op = ctx.operator().await?;
    let db = ctx.read_db().await?;
    match c {
        Logs::Access {
            user,
            method,
            endpoint,
            status,
            since,
            until,
            limit,
            after,
        } => {
            let (status, status_class) = match status.as_deref() {
                None => (None, false),
                Some(s) if s.len() == 3 && s.ends_with("xx") => {
                    (s[..1].parse::<i64>().ok().map(|c| c * 100), true)
                }
                Some(s) => (
                    Some(s.parse::<i64>().map_err(|_| {
                        Error::invalid(
                            "status",
                            format!("{s:?} is not a status code (404) or class (4xx)"),
                        )
                    })?),
                    false,
                ),
            };
            if status_class && status.is_none() {
                return Err(Error::invalid("status", "use a class like 4xx").into());
            }
            let user_id = match user {
                Some(u) => {
                    let mut tx = db.begin().await?;
                    let id = ncy_core::admin::resolve_user(&mut tx, &u).await?;
                    tx.rollback().await?;
                    Some(id)
                }
                None => None,
            };
            let f = AccessFilter {
                user_id,
                method,
                endpoint,
                status,
                status_class,
                since: args::opt_date("since", &since)?,
                until: args::opt_date("until", &until)?,
            };
            let p = logs::access(&db, &op, &f, limit, after.as_deref()).await?;
            emit_page(ctx, &p, || {
                table(
                    &["time", "user", "method", "endpoint", "status", "ms"],
                    p.items
                        .iter()
                        .map(|e| {
                            vec![
                                e.timestamp.format("%Y-%m-%d %H:%M:%S").to_string(),
                                opt(&e.user_id),
                                e.method.clone(),
                                e.endpoint.clone(),
                                e.status_code.to_string(),
                                opt(&e.latency_ms),
                            ]
                        })
                        .collect(),
                )
            })
        }
        Logs::Error {
            service,
            level,
            search,
            since,
            until,
            limit,
            after,
        } => {
            let f = ErrorFilter {
                service,
                min_level: args::opt_enum(&level, LogLevel::parse)?,
                search,
                since: args::opt_date("since", &since)?,
                until: args::opt_date("until", &until)?,
            };
            let p = logs::errors(&db, &op, &f, limit, after.as_deref()).await?;
            emit_page(ctx, &p, || {
                table(
                    &["time", "service", "level", "message"],
                    p.items
                        .iter()
                        .map(|e| {
                            vec![
                                e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                                e.service.clone(),
                                e.level.to_string(),
                                e.message.clone(),
                            ]
                        })
                        .collect(),
                )
            })
        }
    }
}
