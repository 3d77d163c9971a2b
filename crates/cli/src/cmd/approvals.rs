//! `ncy-admin approvals list | show | approve | reject | cancel`: four-eyes on destructive work.
//! An action named in the setting `approvals.required` is filed instead of run (exit 11); a
//! second operator holding the same permission approves it here, which runs it once.

use anyhow::Result;
use clap::Subcommand;
use ncy_approvals::{Approval, Env, Status};
use uuid::Uuid;

use crate::ctx::Ctx;
use crate::output::{emit, opt, table};

#[derive(Subcommand, Debug)]
pub enum Approvals {
    /// Requests you may decide (those of your permissions) and your own, newest first.
    List {
        /// pending, approved, rejected, cancelled, executed or failed (default: all).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One request: what it runs, who filed and decided it, its outcome.
    Show { id: Uuid },
    /// Approve a request filed by another operator: its action runs now, once, as you.
    Approve { id: Uuid },
    /// Refuse a request; the reason is recorded and shown to its requester.
    Reject {
        id: Uuid,
        #[arg(long)]
        reason: String,
    },
    /// Withdraw a request you filed.
    Cancel { id: Uuid },
}

fn text(a: &Approval) -> String {
    format!(
        "approval request {}\n  action     {} ({})\n  asks       {}\n  status     {}\n  filed by   {} at {}\n  decided by {}{}{}{}",
        a.id,
        a.action,
        a.permission,
        a.summary,
        a.status.as_str(),
        opt(&a.requested_by_email),
        a.requested_at.format("%Y-%m-%d %H:%M:%S"),
        opt(&a.decided_by_email),
        a.decided_at
            .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S")))
            .unwrap_or_default(),
        a.reason
            .as_ref()
            .map(|r| format!("\n  reason     {r}"))
            .unwrap_or_default(),
        a.error
            .as_ref()
            .map(|e| format!("\n  error      {e}"))
            .unwrap_or_default(),
    )
}

pub async fn run(ctx: &mut Ctx, c: Approvals) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    match c {
        Approvals::List { status, limit } => {
            let status = status.as_deref().map(Status::parse).transpose()?;
            let l = ncy_approvals::list(&db, &op, status, limit).await?;
            emit(ctx, &l, || {
                table(
                    &["id", "filed (UTC)", "by", "status", "asks"],
                    l.iter()
                        .map(|a| {
                            vec![
                                a.id.to_string(),
                                a.requested_at.format("%Y-%m-%d %H:%M").to_string(),
                                opt(&a.requested_by_email),
                                a.status.as_str().into(),
                                a.summary.clone(),
                            ]
                        })
                        .collect(),
                )
            })
        }
        Approvals::Show { id } => {
            let a = ncy_approvals::get(&db, &op, id).await?;
            emit(ctx, &a, || text(&a))
        }
        Approvals::Approve { id } => {
            let target = ctx.target()?;
            let env = Env {
                db: &db,
                target: &target,
                backup_dir: None,
            };
            let a = ncy_approvals::approve(&env, &op, id).await?;
            emit(ctx, &a, || format!("approved and run: {}", text(&a)))
        }
        Approvals::Reject { id, reason } => {
            let a = ncy_approvals::reject(&db, &op, id, &reason).await?;
            emit(ctx, &a, || format!("rejected: {}", text(&a)))
        }
        Approvals::Cancel { id } => {
            let a = ncy_approvals::cancel(&db, &op, id).await?;
            emit(ctx, &a, || format!("cancelled: {}", text(&a)))
        }
    }
}
