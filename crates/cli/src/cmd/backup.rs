//! `ncy-admin backup create | verify | list | check | prune | pin | unpin | restore | pitr | key`: backups proven
//! restorable, for the PostgreSQL database (pg_dump/pg_restore) or the local workspace
//! (SQLite online backup). Progress bars on stderr when it is a terminal; Ctrl-C cancels and
//! leaves nothing behind.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use ncy_backup::{
    pitr, BackupRef, Backups, CreateOptions, Hooks, Progress, PrunePolicy, RestoreOptions,
    Snapshot, Verification,
};
use ncy_core::Error;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::output::{emit, opt, progress, table};

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

fn human_bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    match n {
        n if n >= 1e9 => format!("{:.2} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.1} kB", n / 1e3),
        n => format!("{n} B"),
    }
}

fn age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// `backup key ...`: the age keys of encrypted backups.
#[derive(Subcommand, Debug)]
pub enum Key {
    /// Make a new key in the OS keychain and encrypt new backups to it; prints its recipient.
    /// Older keys stay in the keychain for older backups.
    Create,
    /// Store the identity of an age identity file in the keychain (to restore on this
    /// machine backups made elsewhere).
    Import {
        /// An age identity file (AGE-SECRET-KEY-1… lines, as age-keygen writes it).
        file: PathBuf,
        /// Also make it the default key of new encrypted backups.
        #[arg(long)]
        default: bool,
    },
    /// The recipient new encrypted backups go to.
    Show,
}

fn key_text(k: &ncy_backup::BackupKey) -> String {
    format!(
        "backup key {}{}\nThe secret half is in the OS keychain; keep a copy offline (without it, encrypted backups cannot be restored).",
        k.recipient,
        if k.default { " (default for `backup create --encrypt`)" } else { "" }
    )
}

fn run_key(ctx: &Ctx, k: Key) -> Result<()> {
    use ncy_backup::crypt;
    match k {
        Key::Create => {
            let k = crypt::create_key()?;
            emit(ctx, &k, || key_text(&k))
        }
        Key::Import { file, default } => {
            let k = crypt::import_key(&file, default)?;
            emit(ctx, &k, || key_text(&k))
        }
        Key::Show => match crypt::default_recipient()? {
            Some(recipient) => {
                let k = ncy_backup::BackupKey {
                    recipient,
                    default: true,
                };
                emit(ctx, &k, || key_text(&k))
            }
            None => Err(Error::not_found(
                "backup key",
                "default (run `ncy-admin backup key create`)",
            )
            .into()),
        },
    }
}

fn snapshot_text(s: &Snapshot) -> String {
    let rows: i64 = s
        .table_counts
        .as_ref()
        .map(|c| c.values().sum())
        .unwrap_or(0);
    format!(
        "backup {}\n  file      {}\n  size      {}\n  sha256    {}\n  database  {} ({})\n  tables    {} ({rows} rows)\n  took      {} ms\n  verified  {}",
        s.id,
        s.path,
        human_bytes(s.size),
        opt(&s.sha256),
        opt(&s.database),
        opt(&s.server_version),
        s.table_counts.as_ref().map_or(0, |c| c.len()),
        opt(&s.duration_ms),
        if s.verified { "yes" } else { "no (run `ncy-admin backup verify`)" }
    ) + &match &s.encrypted_to {
        Some(r) => format!("\n  encrypted to {r} (age)"),
        None => String::new(),
    }
}

fn verification_text(v: &Verification) -> String {
    let mut out = format!(
        "{} {}\n  checksum  {}\n  readable  {} ({} entries)\n  restore   {}\n",
        if v.ok { "VERIFIED" } else { "FAILED" },
        v.path,
        if v.checksum_ok { "ok" } else { "MISMATCH" },
        if v.readable { "yes" } else { "no" },
        v.entries,
        v.restore_ms
            .map(|ms| format!(
                "{ms} ms into {}",
                v.scratch_database.as_deref().unwrap_or("-")
            ))
            .unwrap_or_else(|| "not run".into()),
    );
    if !v.tables.is_empty() {
        out.push_str(&table(
            &["table", "rows at backup", "rows restored", ""],
            v.tables
                .iter()
                .map(|t| {
                    vec![
                        t.table.clone(),
                        opt(&t.expected),
                        opt(&t.actual),
                        if t.ok { "ok".into() } else { "DIFFERS".into() },
                    ]
                })
                .collect(),
        ));
        out.push('\n');
    }
    for x in &v.skipped_extensions {
        out.push_str(&format!(
            "  skipped extension {} (this role cannot create it: {}); every table was still restored and compared\n",
            x.name, x.reason
        ));
    }
    for p in &v.problems {
        out.push_str(&format!("  problem: {p}\n"));
    }
    out
}

fn plan_text(p: &ncy_backup::RestorePlan) -> String {
    let mut out = format!(
        "restore plan: {} database {} with {} table(s), {} rows at backup time{}\n",
        p.action,
        p.into,
        p.tables.len(),
        p.rows,
        if p.left_out > 0 {
            format!(" ({} other table(s) left out)", p.left_out)
        } else {
            String::new()
        }
    );
    out.push_str(&table(
        &["table", "rows"],
        p.tables
            .iter()
            .map(|t| vec![t.table.clone(), opt(&t.rows)])
            .collect(),
    ));
    for n in &p.notes {
        out.push_str(&format!("\n  note: {n}"));
    }
    out
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
    let cancel = ncy_backup::cancel_on_ctrl_c();
    let bar = progress(ctx, 0, "backup");
    let draw = |p: Progress| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        if p.bytes > 0 {
            bar.set_message(format!("{} {}", p.phase, human_bytes(p.bytes as i64)));
        } else {
            bar.set_message(p.phase);
        }
    };
    let hooks = Hooks {
        progress: &draw,
        cancel: Some(&*cancel),
    };
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
                    format!("TOO OLD: {}", l.age_message)
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
                Err(Error::VerificationFailed(a.message).into())
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
            // Replacing an existing database or file may need a second operator.
            if plan.allowed && plan.action == "replace" {
                let ask = ncy_approvals::Request::BackupRestoreOver {
                    backup: backup.clone(),
                    into: opts.into.clone(),
                    no_owner: opts.no_owner,
                    tables: opts.tables.clone(),
                    dir: b.folder().ok().map(|d| d.display().to_string()),
                };
                if let Err(e) = ncy_approvals::gate(b.db(), &op, &ask).await {
                    bar.finish_and_clear();
                    return Err(e.into());
                }
            }
            // A refused restore (no --force) gets its one error line only.
            if !ctx.json() && plan.allowed {
                bar.suspend(|| eprintln!("{}", plan_text(&plan)));
            }
            let r = b.restore(&op, &which, &opts, hooks).await;
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
            emit(ctx, &o, || {
                let r = &o.readiness;
                let mut s = format!(
                    "point-in-time recovery: {}\n  wal_level        {}\n  archive_mode     {}\n  archive_command  {}\n  archived         {} segments, last {} at {}\n  failed           {}{}\n",
                    if r.ready { "READY" } else { "NOT READY" },
                    r.wal_level,
                    r.archive_mode,
                    r.archive_command,
                    r.archived_count,
                    opt(&r.last_archived_wal),
                    r.last_archived_time.map(|t| format!("{t} UTC")).unwrap_or_else(|| "-".into()),
                    r.failed_count,
                    r.last_failed_wal.as_ref().map(|w| format!(" (last {w})")).unwrap_or_default(),
                );
                for p in &r.problems {
                    s.push_str(&format!("  problem: {p}\n"));
                }
                for n in &r.notes {
                    s.push_str(&format!("  note: {n}\n"));
                }
                match (&o.script, &o.script_path) {
                    (_, Some(p)) => s.push_str(&format!("recovery script written to {p}\n")),
                    (Some(sc), None) => {
                        s.push('\n');
                        s.push_str(sc);
                    }
                    _ => s.push_str("pass --target-time to generate the recovery script\n"),
                }
                s
            })
        }
    }
}
