//! `ncy-admin backup create | verify | list | check | prune | pin | unpin | restore | pitr | key`: backups proven
//! restorable, for the PostgreSQL database (pg_dump/pg_restore) or the local workspace
//! (SQLite online backup). Progress bars on stderr when it is a terminal; Ctrl-C cancels and
//! leaves nothing behind.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use ncy_backup::{pitr, BackupRef, Backups, CreateOptions, PrunePolicy, RestoreOptions};
use ncy_core::Error;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::job::Job;
use crate::output::{emit, table};

mod key;
mod text;

use key::run_key;
pub use key::Key;
use text::{age, human_bytes, pitr_text, plan_text, snapshot_text, verification_text};

/// The command-line fix when the newest verified backup is too old (the core says only that).
const STALE_FIX: &str = "ncy-admin backup create, then ncy-admin backup verify ID";

#[derive(Subcommand, Debug)]
pub enum Backup {
    /// Take a backup (pg_dump custom format, or the SQLite online backup) and record it.
    Create {
        /// Directory for the file (default: $NCY_BACKUP_DIR or <data dir>/ncy-admin/backups).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// pg_dump compression level, 0 (none) to 9 (smallest).
        #[arg(long, value_name = "N", default_value_t = 9)]
        compress: u32,
        /// Encrypt the file with age to the keychain's default backup key (see `backup key
        /// create`); verify and restore decrypt it on the fly.
        #[arg(long)]
        encrypt: bool,
        /// Encrypt to this age recipient (`age1…`) instead of the default key.
        #[arg(long, value_name = "AGE1…")]
        recipient: Option<String>,
    },
    /// Prove a backup restorable: checksum, readable archive, full test restore, row counts.
    Verify {
        /// The backup's id (from `backup list`) or its file.
        backup: String,
        /// The backup folder (default: $NCY_BACKUP_DIR or <data dir>/ncy-admin/backups); a
        /// recorded file outside it is refused.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Decrypt with this age identity file instead of the keychain's backup keys.
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
    },
    /// Recorded backups, newest first, with the age of the last verified one.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Cursor printed by the previous page.
        #[arg(long)]
        after: Option<String>,
    },
    /// Delete backups outside the retention policy: a backup is kept when it is younger than
    /// --keep-days OR among the --keep-last newest; pinned backups and the newest verified one
    /// are always kept.
    Prune {
        /// Keep backups younger than this many days.
        #[arg(long, default_value_t = 30, value_name = "DAYS")]
        keep_days: i64,
        /// Also keep the N newest backups, whatever their age.
        #[arg(long, value_name = "N")]
        keep_last: Option<u64>,
        /// Show what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// The backup folder (default: $NCY_BACKUP_DIR or <data dir>/ncy-admin/backups); a
        /// recorded file outside it is refused.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// For cron and monitoring: exit 0 when the newest verified backup is younger than the
    /// setting backups.max_age_hours (default 26), 10 when it is older or there is none.
    Check,
    /// Keep a backup beyond the retention policy (prune never deletes it) until unpinned.
    Pin {
        /// The backup's id (from `backup list`).
        id: uuid::Uuid,
        /// Why it is kept (shown by prune and list, recorded in the audit log).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Let the retention policy apply to a pinned backup again.
    Unpin {
        /// The backup's id.
        id: uuid::Uuid,
    },
    /// Restore a backup into a new database (PostgreSQL) or file (local workspace).
    Restore {
        /// The backup's id or its file.
        backup: String,
        /// The database (or file) to create.
        #[arg(long, value_name = "NEW_DB")]
        into: String,
        /// Replace an existing database or file.
        #[arg(long)]
        force: bool,
        /// Skip ownership and privileges (restore as a role that does not own the objects).
        #[arg(long)]
        no_owner: bool,
        /// Only this table (`Task` or `schema.Task`; repeat for more) into the new database.
        #[arg(long = "table", value_name = "TABLE")]
        tables: Vec<String>,
        /// Print the restore plan (what is created or replaced, rows per table) and stop.
        #[arg(long)]
        dry_run: bool,
        /// The backup folder (default: $NCY_BACKUP_DIR or <data dir>/ncy-admin/backups); a
        /// recorded file outside it is refused.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Decrypt with this age identity file instead of the keychain's backup keys.
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
    },
    /// Keys of encrypted backups, kept in the OS keychain.
    #[command(subcommand)]
    Key(Key),
    /// Point-in-time recovery readiness; with --target-time, the recovery script for the DBA.
    Pitr {
        /// Recover to this time: `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339 with an offset.
        #[arg(long, value_name = "T")]
        target_time: Option<String>,
        /// Write the script to this file (default: print it).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fff]` (UTC) or RFC 3339 (converted to UTC).
fn parse_time(s: &str) -> Result<chrono::NaiveDateTime, Error> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.naive_utc());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s.trim(), f) {
            return Ok(t);
        }
    }
    Err(Error::invalid(
        "target-time",
        format!("{s:?} is not a time; use `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339, e.g. 2026-11-26T09:30:00+01:00"),
    ))
}

#[derive(Serialize)]
struct PitrOutput {
    readiness: ncy_backup::PitrReadiness,
    target_time: Option<chrono::NaiveDateTime>,
    script: Option<String>,
    script_path: Option<String>,
}

/// The backup folder named on the command line, if any.
fn dir_of(c: &Backup) -> Option<PathBuf> {
    match c {
        Backup::Create { dir, .. }
        | Backup::Verify { dir, .. }
        | Backup::Prune { dir, .. }
        | Backup::Restore { dir, .. } => dir.clone(),
        _ => None,
    }
}

fn identity_of(c: &Backup) -> Option<&PathBuf> {
    match c {
        Backup::Verify { identity, .. } | Backup::Restore { identity, .. } => identity.as_ref(),
        _ => None,
    }
}

pub async fn run(ctx: &mut Ctx, c: Backup) -> Result<()> {
    // Keys live in the keychain: no database needed.
    let c = match c {
        Backup::Key(k) => return run_key(ctx, k),
        c => c,
    };
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    let b = Backups::new(db, &ctx.target()?)?;
    // `backup create` dumps the read replica when one is configured.
    let b = match (&c, ctx.replica_url()) {
        (Backup::Create { .. }, Some(url)) => {
            let replica = ctx.read_db().await?;
            b.with_replica(replica, &url)?
        }
        _ => b,
    };
    let b = match dir_of(&c) {
        Some(d) => b.with_dir(d),
        None => b,
    };
    let b = match identity_of(&c) {
        Some(f) => b.with_identity_file(f)?,
        None => b,
    };
    let job = Job::start(ctx, "backup");
    let (hooks, bar) = (job.work(), job.bar());
    match c {
        Backup::Create {
            compress,
            encrypt,
            recipient,
            ..
        } => {
            let dir = b.folder()?;
            let s = b
                .create(
                    &op,
                    &CreateOptions {
                        dir,
                        compression: compress,
                        encrypt,
                        recipient,
                    },
                    hooks,
                )
                .await;
            bar.finish_and_clear();
            let s = s?;
            emit(ctx, &s, || snapshot_text(&s))
        }
        Backup::Verify { backup, .. } => {
            let v = b.verify(&op, &BackupRef::parse(&backup), hooks).await;
            bar.finish_and_clear();
            let v = v?;
            emit(ctx, &v, || verification_text(&v))?;
            if v.ok {
                Ok(())
            } else {
                Err(Error::VerificationFailed(format!(
                    "backup {} failed verification: {}",
                    v.path,
                    v.problems.join("; ")
                ))
                .into())
            }
        }
        Backup::List { limit, after } => {
            bar.finish_and_clear();
            let l = b.list(&op, after.as_deref(), limit).await?;
            emit(ctx, &l, || {
                let mut out = table(
                    &[
                        "id",
                        "created (UTC)",
                        "file",
                        "size",
                        "verified",
                        "on disk",
                        "pinned",
                    ],
                    l.items
                        .iter()
                        .map(|s| {
                            vec![
                                s.id.to_string(),
                                s.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                                s.path.clone(),
                                human_bytes(s.size),
                                if s.verified {
                                    "yes".into()
                                } else {
                                    "no".into()
                                },
                                if s.file_exists {
                                    "yes".into()
                                } else {
                                    "MISSING".into()
                                },
                                match (&s.pinned_at, &s.pin_reason) {
                                    (None, _) => String::new(),
                                    (Some(_), Some(r)) => format!("yes ({r})"),
                                    (Some(_), None) => "yes".into(),
                                },
                            ]
                        })
                        .collect(),
                );
                out.push('\n');
                out.push_str(&if l.stale {
                    format!("TOO OLD: {} ({STALE_FIX})", l.age_message)
                } else {
                    format!(
                        "last verified backup: {} old (limit {} h)",
                        l.last_verified_age_secs.map(age).unwrap_or_default(),
                        l.max_age_hours
                    )
                });
                if let Some(c) = &l.next_cursor {
                    out.push_str(&format!("\nnext page: --after '{c}'"));
                }
                out
            })
        }
        Backup::Prune {
            keep_days,
            keep_last,
            dry_run,
            ..
        } => {
            bar.finish_and_clear();
            let p = b
                .prune(
                    &op,
                    &PrunePolicy {
                        keep_days,
                        keep_last,
                    },
                    dry_run,
                )
                .await?;
            emit(ctx, &p, || {
                let mut rows: Vec<Vec<String>> = vec![];
                for (what, items) in [
                    ("keep", &p.keep),
                    ("DELETE", &p.delete),
                    ("REFUSED", &p.refused),
                ] {
                    for i in items {
                        rows.push(vec![
                            what.into(),
                            i.created_at.format("%Y-%m-%d %H:%M").to_string(),
                            i.path.clone(),
                            i.reason.clone(),
                        ]);
                    }
                }
                format!(
                    "{}\n{} {} backup(s), {}{}{}",
                    table(&["", "created (UTC)", "file", "why"], rows),
                    if p.dry_run { "would delete" } else { "deleted" },
                    p.delete.len(),
                    human_bytes(p.freed_bytes),
                    if p.dry_run {
                        " (dry run: nothing deleted)"
                    } else {
                        ""
                    },
                    if p.refused.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "\nrefused {} row(s) naming a file outside the backup folder {}: check who wrote them",
                            p.refused.len(),
                            p.folder
                        )
                    }
                )
            })
        }
        Backup::Check => {
            bar.finish_and_clear();
            let a = b.check(&op).await?;
            emit(ctx, &a, || {
                format!("{}: {}", if a.fresh { "OK" } else { "TOO OLD" }, a.message)
            })?;
            if a.fresh {
                Ok(())
            } else {
                Err(Error::VerificationFailed(format!("{} ({STALE_FIX})", a.message)).into())
            }
        }
        Backup::Pin { id, reason } => {
            bar.finish_and_clear();
            let s = b.pin(&op, id, reason.as_deref()).await?;
            emit(ctx, &s, || {
                format!(
                    "pinned backup {} ({}): prune keeps it until `ncy-admin backup unpin {}`",
                    s.id, s.path, s.id
                )
            })
        }
        Backup::Unpin { id } => {
            bar.finish_and_clear();
            let s = b.unpin(&op, id).await?;
            emit(ctx, &s, || {
                format!(
                    "unpinned backup {}: the retention policy applies to it again",
                    s.id
                )
            })
        }
        Backup::Restore {
            backup,
            into,
            force,
            no_owner,
            tables,
            dry_run,
            ..
        } => {
            let which = BackupRef::parse(&backup);
            let opts = RestoreOptions {
                into,
                force,
                no_owner,
                tables,
            };
            let plan = b.restore_plan(&op, &which, &opts).await;
            let plan = match plan {
                Ok(p) => p,
                Err(e) => {
                    bar.finish_and_clear();
                    return Err(e.into());
                }
            };
            if dry_run {
                bar.finish_and_clear();
                return emit(ctx, &plan, || plan_text(&plan));
            }
            // A refused restore (no --force) gets its one error line only.
            if !ctx.json() && plan.allowed {
                bar.suspend(|| eprintln!("{}", plan_text(&plan)));
            }
            // Replacing an existing database or file may need a second operator.
            let r = ncy_approvals::gated::restore_backup(&b, &op, &backup, &opts, hooks).await;
            bar.finish_and_clear();
            let r = r?;
            emit(ctx, &r, || {
                let rows: i64 = r.tables.iter().filter_map(|t| t.actual).sum();
                let bad: Vec<&str> = r
                    .tables
                    .iter()
                    .filter(|t| !t.ok)
                    .map(|t| t.table.as_str())
                    .collect();
                let skipped: Vec<&str> = r
                    .skipped_extensions
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect();
                format!(
                    "restored {} into {}{} in {} ms: {} tables, {rows} rows{}{}",
                    r.path,
                    r.into,
                    if r.replaced { " (replaced)" } else { "" },
                    r.duration_ms,
                    r.tables.len(),
                    if bad.is_empty() {
                        String::new()
                    } else {
                        format!("; counts differ from backup time in {}", bad.join(", "))
                    },
                    if skipped.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; extensions this role cannot create were left out: {} (a superuser can add them with CREATE EXTENSION)",
                            skipped.join(", ")
                        )
                    }
                )
            })
        }
        Backup::Key(k) => run_key(ctx, k),
        Backup::Pitr { target_time, out } => {
            bar.finish_and_clear();
            let readiness = b.pitr_readiness(&op).await?;
            let target = target_time.as_deref().map(parse_time).transpose()?;
            let script = target
                .map(|t| pitr::recovery_script(&readiness, t))
                .transpose()?;
            let script_path = match (&script, &out) {
                (Some(s), Some(p)) => {
                    std::fs::write(p, s)
                        .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
                    Some(p.display().to_string())
                }
                _ => None,
            };
            let o = PitrOutput {
                readiness,
                target_time: target,
                script,
                script_path,
            };
            emit(ctx, &o, || pitr_text(&o))
        }
    }
}
