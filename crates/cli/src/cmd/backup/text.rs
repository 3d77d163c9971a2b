//! The text renderings of `ncy-admin backup` results (JSON output comes from the types).

use ncy_backup::{RestorePlan, Snapshot, Verification};

use super::PitrOutput;
use crate::output::{opt, table};

/// A size as recorded (bytes; never negative in practice) for people.
pub(super) fn human_bytes(n: i64) -> String {
    crate::job::human_bytes(n.max(0) as u64)
}

pub(super) fn age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

pub(super) fn key_text(k: &ncy_backup::BackupKey) -> String {
    format!(
        "backup key {}{}\nThe secret half is in the OS keychain; keep a copy offline (without it, encrypted backups cannot be restored).",
        k.recipient,
        if k.default { " (default for `backup create --encrypt`)" } else { "" }
    )
}

pub(super) fn snapshot_text(s: &Snapshot) -> String {
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

pub(super) fn verification_text(v: &Verification) -> String {
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

pub(super) fn plan_text(p: &RestorePlan) -> String {
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
    if !p.allowed {
        out.push_str("\n  note: pass --force to replace it");
    }
    out
}

/// The text of `backup pitr`.
pub(super) fn pitr_text(o: &PitrOutput) -> String {
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
}
