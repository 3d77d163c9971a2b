//! `ncy-admin gdpr ...`: data-subject requests (intake, queue, identity, extension, rejection,
//! completion), export bundles, erasure with its sweep, retention, consents and legal holds.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use ncy_core::Error;
use ncy_gdpr::erase::ErasureOptions;
use ncy_gdpr::request::{self, NewRequest, QueueFilter, RequestKind, RequestState};
use ncy_gdpr::retention::{self, RetentionPolicy};
use ncy_gdpr::{consent, export, hold};

use crate::ctx::Ctx;

mod text;
use crate::job::Job;
use crate::output::{emit, opt, table};
use text::{request_line, request_text, sweep_text, ts};

#[derive(Subcommand, Debug)]
pub enum Gdpr {
    /// File a request.
    #[command(subcommand)]
    Request(RequestCmd),
    /// The queue, sorted by due date; overdue requests are marked (open requests unless --status or --all).
    List {
        /// RECEIVED (includes the platform's PENDING), VERIFYING_IDENTITY, IN_PROGRESS, COMPLETED, REJECTED.
        #[arg(long)]
        status: Option<String>,
        /// Only requests past their deadline.
        #[arg(long)]
        overdue: bool,
        /// Include completed and rejected requests.
        #[arg(long)]
        all: bool,
    },
    /// One request: deadlines, identity check, subject, blockers, history.
    Show { id: String },
    /// Record who verified the subject's identity and how (moves the request to IN_PROGRESS).
    VerifyIdentity {
        id: String,
        #[arg(long)]
        method: String,
    },
    /// Extend the deadline by 1 or 2 months (Art. 12(3)) with a reason.
    Extend {
        id: String,
        #[arg(long)]
        months: u32,
        #[arg(long)]
        reason: String,
    },
    /// Reject a request with a reason (no data is touched).
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Close a request (exports need their bundle, erasures a clean receipt).
    Complete { id: String },
    /// Write the export bundle of an ACCESS / EXPORT request into a new folder.
    Export {
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Erase the subject of an ERASURE request; prints the sweep result.
    Erase {
        id: String,
        /// The subject's email, repeated to confirm.
        #[arg(long)]
        confirm: String,
        /// Backup retention in days (to tell when backups holding the subject expire).
        #[arg(long, default_value_t = 30)]
        backup_retention_days: i64,
    },
    /// Search every text, JSON and address column of every table for an email (and its specific
    /// local part) and IP addresses: re-proves an erasure. Exits 10 when a trace is found.
    Sweep {
        /// The former email of the subject.
        #[arg(long)]
        email: Option<String>,
        /// An IP address of the subject (repeatable).
        #[arg(long = "ip")]
        ips: Vec<String>,
    },
    /// Retention: anonymize long-deleted users, delete logs past their windows.
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// Consent records per purpose.
    #[command(subcommand)]
    Consent(ConsentCmd),
    /// Legal holds (block erasure while active).
    #[command(subcommand)]
    Hold(HoldCmd),
}

#[derive(Subcommand, Debug)]
pub enum RequestCmd {
    /// File a request; prints its id.
    Create {
        /// User id or email.
        #[arg(long)]
        user: String,
        /// ACCESS, EXPORT, ERASURE, RECTIFICATION or RESTRICTION.
        #[arg(long = "type")]
        kind: String,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum RetentionCmd {
    /// Apply the retention policy (setting `gdpr.retention`, defaults: users 7 years, logs 90 days).
    Run {
        /// Only count what would be anonymized or deleted.
        #[arg(long)]
        dry_run: bool,
        /// Override: anonymize users soft-deleted more than N years ago.
        #[arg(long)]
        deleted_user_years: Option<u32>,
        /// Override: delete access log rows older than N days.
        #[arg(long)]
        access_log_days: Option<u32>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConsentCmd {
    /// Record a consent.
    Grant {
        #[arg(long)]
        user: String,
        #[arg(long)]
        purpose: String,
        /// Where the consent was given (default: ncy-admin).
        #[arg(long)]
        source: Option<String>,
    },
    /// Withdraw a granted consent.
    Withdraw {
        #[arg(long)]
        user: String,
        #[arg(long)]
        purpose: String,
    },
    /// Current state and history.
    List {
        #[arg(long)]
        user: String,
        #[arg(long)]
        purpose: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum HoldCmd {
    /// Place a legal hold on a user.
    Place {
        #[arg(long)]
        user: String,
        #[arg(long)]
        reason: String,
    },
    /// Release the active holds on a user.
    Release {
        #[arg(long)]
        user: String,
        #[arg(long)]
        reason: String,
    },
    /// Holds on a user.
    List {
        #[arg(long)]
        user: String,
    },
}

pub async fn run(ctx: &mut Ctx, c: Gdpr) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    match c {
        Gdpr::Request(RequestCmd::Create { user, kind, note }) => {
            let kind = RequestKind::parse(&kind)?;
            let r = request::create(
                &db,
                &op,
                NewRequest {
                    user,
                    kind,
                    notes: note,
                },
            )
            .await?;
            emit(ctx, &r, || r.id.to_string())
        }
        Gdpr::List {
            status,
            overdue,
            all,
        } => {
            let status = status.as_deref().map(RequestState::parse).transpose()?;
            let q = request::list(
                &db,
                &op,
                &QueueFilter {
                    status,
                    overdue,
                    include_closed: all,
                    ..Default::default()
                },
            )
            .await?;
            emit(ctx, &q, || {
                let d = &q.dashboard;
                format!(
                    "{}\n{} open, {} overdue, {} due within 7 days",
                    table(
                        &[
                            "id", "type", "status", "subject", "received", "due", "deadline",
                            "handler"
                        ],
                        q.requests.iter().map(request_line).collect()
                    ),
                    d.open,
                    d.overdue,
                    d.due_within_7_days
                )
            })
        }
        Gdpr::Sweep { email, ips } => {
            if email.as_deref().is_none_or(|e| e.trim().is_empty()) && ips.is_empty() {
                return Err(Error::invalid(
                    "sweep",
                    "nothing to search for; give --email EMAIL and/or --ip ADDRESS",
                )
                .into());
            }
            let r = ncy_gdpr::sweep::sweep_for(&db, &op, email.as_deref(), &ips).await?;
            emit(ctx, &r, || sweep_text(&r))?;
            if r.clean {
                Ok(())
            } else {
                Err(Error::VerificationFailed(format!(
                    "the sweep found traces in {} column(s); erase the subject again or redact them",
                    r.hits.len()
                ))
                .into())
            }
        }
        Gdpr::Show { id } => {
            let d = request::show(&db, &op, request::parse_id(&id)?).await?;
            emit(ctx, &d, || {
                let mut s = request_text(&d.request);
                if !d.owned_organizations.is_empty() {
                    s.push_str(&format!(
                        "  owns      {} (transfer before erasure)\n",
                        d.owned_organizations.join(", ")
                    ));
                }
                for h in &d.legal_holds {
                    s.push_str(&format!(
                        "  HOLD      {} (since {} UTC)\n",
                        h.reason,
                        ts(&h.placed_at)
                    ));
                }
                if let Some(sw) = d.request.receipt.as_ref().and_then(|r| r.get("sweep")) {
                    s.push_str(&format!(
                        "  receipt   sweep clean: {}\n",
                        sw.get("clean").and_then(|v| v.as_bool()).unwrap_or(false)
                    ));
                }
                s.push_str("history:\n");
                for h in &d.history {
                    s.push_str(&format!(
                        "  {} UTC  {:<28} {}\n",
                        ts(&h.at),
                        h.action,
                        opt(&h.actor_email)
                    ));
                }
                s
            })
        }
        Gdpr::VerifyIdentity { id, method } => {
            let r = request::verify_identity(&db, &op, request::parse_id(&id)?, &method).await?;
            emit(ctx, &r, || request_text(&r))
        }
        Gdpr::Extend { id, months, reason } => {
            let r = request::extend(&db, &op, request::parse_id(&id)?, months, &reason).await?;
            emit(ctx, &r, || request_text(&r))
        }
        Gdpr::Reject { id, reason } => {
            let r = request::reject(&db, &op, request::parse_id(&id)?, &reason).await?;
            emit(ctx, &r, || request_text(&r))
        }
        Gdpr::Complete { id } => {
            let r = request::complete(&db, &op, request::parse_id(&id)?).await?;
            emit(ctx, &r, || request_text(&r))
        }
        Gdpr::Export { id, out } => {
            let job = Job::start(ctx, "export");
            let read = ctx.read_db().await?;
            let res =
                export::export_via(&db, &read, &op, request::parse_id(&id)?, &out, job.work())
                    .await;
            drop(job);
            let res = res?;
            emit(ctx, &res, || {
                format!(
                    "{}\nexported {} rows into {} files at {} in {} ms",
                    table(
                        &["file", "rows", "sha256"],
                        res.manifest
                            .files
                            .iter()
                            .map(|f| vec![f.file.clone(), opt(&f.rows), f.sha256[..16].to_owned()])
                            .collect()
                    ),
                    res.total_rows,
                    res.manifest.files.len(),
                    res.path,
                    res.duration_ms
                )
            })
        }
        Gdpr::Erase {
            id,
            confirm,
            backup_retention_days,
        } => {
            let request_id = request::parse_id(&id)?;
            let job = Job::start(ctx, "erase");
            let res = ncy_approvals::gated::erase(
                &db,
                &op,
                request_id,
                &confirm,
                &ErasureOptions {
                    backup_retention_days,
                },
                job.work(),
            )
            .await;
            drop(job);
            let res = res?;
            emit(ctx, &res, || {
                let r = &res.receipt;
                let mut s = table(
                    &["table", "column", "rule", "rows"],
                    r.rules
                        .iter()
                        .filter(|x| x.rows > 0)
                        .map(|x| {
                            vec![
                                x.table.clone(),
                                x.column.clone(),
                                x.rule.clone(),
                                x.rows.to_string(),
                            ]
                        })
                        .collect(),
                );
                s.push('\n');
                s.push_str(&sweep_text(&r.sweep));
                s.push_str(&format!(
                    "{} backup(s) still hold the subject's data until they expire:\n",
                    r.backups_holding_data.len()
                ));
                for b in &r.backups_holding_data {
                    s.push_str(&format!(
                        "  {} taken {} UTC, {}\n",
                        b.id,
                        ts(&b.created_at),
                        if b.kept_as_newest_verified {
                            "kept as the newest verified backup until a newer one is verified"
                                .to_owned()
                        } else {
                            format!("expires {} UTC", ts(&b.expires_at))
                        }
                    ));
                }
                for n in &r.notes {
                    s.push_str(&format!("note: {n}\n"));
                }
                s.push_str(&format!(
                    "receipt stored on request {}; close it with: ncy-admin gdpr complete {}",
                    r.request_id, r.request_id
                ));
                s
            })
        }
        Gdpr::Retention(RetentionCmd::Run {
            dry_run,
            deleted_user_years,
            access_log_days,
        }) => {
            let policy = if deleted_user_years.is_some() || access_log_days.is_some() {
                let mut p = retention::load_policy(&db, &op).await?;
                if let Some(y) = deleted_user_years {
                    p.deleted_user_years = y;
                }
                if let Some(d) = access_log_days {
                    p.access_log_days = d;
                }
                Some(p)
            } else {
                None::<RetentionPolicy>
            };
            let job = Job::start(ctx, "retention");
            let r = retention::run(&db, &op, policy, dry_run, None, job.work()).await;
            drop(job);
            let r = r?;
            emit(ctx, &r, || {
                let mut s = table(
                    &["table", "action", "older than", "rows"],
                    r.items
                        .iter()
                        .map(|i| {
                            vec![
                                i.table.clone(),
                                i.action.clone(),
                                ts(&i.cutoff),
                                i.rows.to_string(),
                            ]
                        })
                        .collect(),
                );
                for u in &r.skipped_users {
                    s.push_str(&format!("\nskipped {}: {}", u.user_id, u.reason));
                }
                if r.dry_run {
                    s.push_str("\ndry run: nothing was changed");
                }
                s
            })
        }
        Gdpr::Consent(c) => {
            let v = match c {
                ConsentCmd::Grant {
                    user,
                    purpose,
                    source,
                } => consent::grant(&db, &op, &user, &purpose, source.as_deref()).await?,
                ConsentCmd::Withdraw { user, purpose } => {
                    consent::withdraw(&db, &op, &user, &purpose).await?
                }
                ConsentCmd::List { user, purpose } => {
                    consent::list(&db, &op, &user, purpose.as_deref()).await?
                }
            };
            emit(ctx, &v, || {
                format!(
                    "{}\nhistory:\n{}",
                    table(
                        &["purpose", "state", "since"],
                        v.current
                            .iter()
                            .map(|c| vec![
                                c.purpose.clone(),
                                if c.granted { "granted" } else { "withdrawn" }.into(),
                                ts(&c.at)
                            ])
                            .collect()
                    ),
                    table(
                        &["at", "purpose", "granted", "source", "by"],
                        v.history
                            .iter()
                            .map(|h| vec![
                                ts(&h.created_at),
                                h.purpose.clone(),
                                h.granted.to_string(),
                                opt(&h.source),
                                opt(&h.recorded_by)
                            ])
                            .collect()
                    )
                )
            })
        }
        Gdpr::Hold(HoldCmd::Place { user, reason }) => {
            let h = hold::place(&db, &op, &user, &reason).await?;
            emit(ctx, &h, || {
                format!("legal hold {} placed on {}", h.id, h.user_id)
            })
        }
        Gdpr::Hold(HoldCmd::Release { user, reason }) => {
            let n = hold::release(&db, &op, &user, &reason).await?;
            emit(ctx, &serde_json::json!({"released": n}), || {
                format!("{n} legal hold(s) released")
            })
        }
        Gdpr::Hold(HoldCmd::List { user }) => {
            let hs = hold::list(&db, &op, &user).await?;
            emit(ctx, &hs, || {
                table(
                    &["id", "reason", "placed", "released"],
                    hs.iter()
                        .map(|h| {
                            vec![
                                h.id.to_string(),
                                h.reason.clone(),
                                ts(&h.placed_at),
                                h.released_at
                                    .as_ref()
                                    .map(ts)
                                    .unwrap_or_else(|| "active".into()),
                            ]
                        })
                        .collect(),
                )
            })
        }
    }
}
