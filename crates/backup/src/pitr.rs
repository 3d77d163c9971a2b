//! Point-in-time recovery: is the server archiving WAL well enough to recover to a chosen
//! moment, and the PostgreSQL 12+ recovery procedure for a DBA (`recovery.signal` plus
//! `restore_command` / `recovery_target_time` in `postgresql.auto.conf`; the `recovery.conf`
//! of older releases makes PostgreSQL 12+ refuse to start).
//!
//! PITR replays archived WAL on top of a *physical* base backup (`pg_basebackup`); the logical
//! pg_dump backups of `backup create` cannot be rolled forward.

use chrono::NaiveDateTime;
use ncy_core::{Error, Result};
use serde::Serialize;
use sqlx::{PgPool, Row as _};

use crate::counts::sql_err;

/// The server's WAL archiving state and what it means for PITR.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PitrReadiness {
    pub wal_level: String,
    pub archive_mode: String,
    pub archive_command: String,
    pub archive_library: Option<String>,
    pub archive_timeout_s: Option<i64>,
    pub archived_count: i64,
    pub last_archived_wal: Option<String>,
    pub last_archived_time: Option<NaiveDateTime>,
    pub failed_count: i64,
    pub last_failed_wal: Option<String>,
    pub last_failed_time: Option<NaiveDateTime>,
    /// The data directory, when the database user may see it.
    pub data_directory: Option<String>,
    pub server_major: u32,
    /// Where the archive_command copies WAL (when it is a recognisable copy command).
    pub archive_dir: Option<String>,
    /// The restore_command matching the archive_command.
    pub restore_command: Option<String>,
    /// True when WAL archiving works: recovery to any time after a base backup is possible.
    pub ready: bool,
    /// What prevents PITR, with the fix.
    pub problems: Vec<String>,
    /// What the DBA should know.
    pub notes: Vec<String>,
}

/// Reads the archiving settings and `pg_stat_archiver`.
pub(crate) async fn readiness(pool: &PgPool) -> Result<PitrReadiness> {
    let mut c = pool.acquire().await.map_err(sql_err)?;
    let settings = sqlx::query(
        "SELECT name, setting FROM pg_settings WHERE name IN
           ('wal_level','archive_mode','archive_command','archive_library','archive_timeout',
            'data_directory','server_version_num')",
    )
    .fetch_all(&mut *c)
    .await
    .map_err(sql_err)?;
    let get = |n: &str| -> Option<String> {
        settings
            .iter()
            .find(|r| r.try_get::<String, _>("name").ok().as_deref() == Some(n))
            .and_then(|r| r.try_get::<String, _>("setting").ok())
    };
    let a = sqlx::query(
        "SELECT archived_count, last_archived_wal, (last_archived_time AT TIME ZONE 'UTC') AS lat,
                failed_count, last_failed_wal, (last_failed_time AT TIME ZONE 'UTC') AS lft
         FROM pg_stat_archiver",
    )
    .fetch_one(&mut *c)
    .await
    .map_err(sql_err)?;
    let mut r = PitrReadiness {
        wal_level: get("wal_level").unwrap_or_default(),
        archive_mode: get("archive_mode").unwrap_or_default(),
        archive_command: get("archive_command").unwrap_or_default(),
        archive_library: get("archive_library").filter(|s| !s.is_empty()),
        archive_timeout_s: get("archive_timeout").and_then(|s| s.parse().ok()),
        archived_count: a.try_get("archived_count").map_err(sql_err)?,
        last_archived_wal: a.try_get("last_archived_wal").map_err(sql_err)?,
        last_archived_time: a.try_get("lat").map_err(sql_err)?,
        failed_count: a.try_get("failed_count").map_err(sql_err)?,
        last_failed_wal: a.try_get("last_failed_wal").map_err(sql_err)?,
        last_failed_time: a.try_get("lft").map_err(sql_err)?,
        data_directory: get("data_directory"),
        server_major: get("server_version_num")
            .and_then(|s| s.parse().ok())
            .map(crate::tools::server_major)
            .unwrap_or(0),
        archive_dir: None,
        restore_command: None,
        ready: false,
        problems: vec![],
        notes: vec![],
    };
    assess(&mut r);
    Ok(r)
}

/// The directory a `cp %p DIR/%f`-style archive_command writes to.
pub fn archive_dir(archive_command: &str) -> Option<String> {
    archive_command
        .split_whitespace()
        .map(|t| t.trim_matches(|c| c == '"' || c == '\''))
        .find(|t| t.ends_with("/%f") && !t.contains("%p"))
        .map(|t| t.trim_end_matches("/%f").to_owned())
        .filter(|d| !d.is_empty())
}

/// The restore_command undoing an archive_command, when it is a known form.
pub fn restore_command_for(archive_command: &str) -> Option<String> {
    if archive_command.contains("archive-push") {
        // pgBackRest
        return Some(format!(
            "{} %f \"%p\"",
            archive_command
                .replace("archive-push", "archive-get")
                .replace(" %p", "")
                .trim()
        ));
    }
    if archive_command.contains("wal-push") {
        // WAL-G
        let bin = archive_command.split_whitespace().next().unwrap_or("wal-g");
        return Some(format!("{bin} wal-fetch %f %p"));
    }
    archive_dir(archive_command).map(|d| format!("cp \"{d}/%f\" \"%p\""))
}

/// Fills `ready`, `problems`, `notes`, `archive_dir` and `restore_command`.
pub fn assess(r: &mut PitrReadiness) {
    r.problems.clear();
    r.notes.clear();
    if r.wal_level == "minimal" {
        r.problems.push(
            "wal_level is minimal: set wal_level = replica in postgresql.conf and restart the server"
                .into(),
        );
    }
    if !matches!(r.archive_mode.as_str(), "on" | "always") {
        r.problems.push(format!(
            "archive_mode is {}: set archive_mode = on and restart the server",
            if r.archive_mode.is_empty() {
                "unknown"
            } else {
                &r.archive_mode
            }
        ));
    }
    let cmd = r.archive_command.trim();
    let no_command = cmd.is_empty() || cmd == "(disabled)";
    if no_command && r.archive_library.is_none() {
        r.problems.push(
            "no archive_command: set one that copies each WAL segment to safe storage, e.g. archive_command = 'test ! -f /var/lib/postgresql/wal_archive/%f && cp %p /var/lib/postgresql/wal_archive/%f'"
                .into(),
        );
    }
    if r.archived_count == 0 {
        r.problems.push(
            "no WAL segment has been archived yet: check the archive_command, then force one with SELECT pg_switch_wal()"
                .into(),
        );
    }
    if r.failed_count > 0 && r.last_failed_time > r.last_archived_time {
        r.problems.push(format!(
            "archiving is failing: the last attempt ({}, at {} UTC) failed after the last success; read the server log for the archive_command's error",
            r.last_failed_wal.as_deref().unwrap_or("?"),
            r.last_failed_time.map(|t| t.to_string()).unwrap_or_default()
        ));
    }
    r.archive_dir = archive_dir(cmd);
    r.restore_command = restore_command_for(cmd);
    if r.restore_command.is_none() && !no_command {
        r.notes.push(format!(
            "the archive_command `{cmd}` is not a form this tool recognises: write the matching restore_command by hand in the recovery script"
        ));
    }
    if let Some(t) = r.last_archived_time {
        r.notes.push(format!(
            "WAL is archived up to {t} UTC; recovery can reach any time between the end of a base backup and then"
        ));
    }
    r.notes.push(
        "PITR needs a physical base backup (pg_basebackup -D <dir> -Fp -X none) taken after archiving started and before the target time; the pg_dump backups this tool takes are logical and cannot be rolled forward"
            .into(),
    );
    r.ready = r.problems.is_empty();
}

fn sh_single(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A bash script for the DBA recovering the cluster to `target` (UTC) from a plain-format base
/// backup given as its first argument: stop, set the current data directory aside, copy the
/// base backup in, write `recovery.signal` and the recovery settings into
/// `postgresql.auto.conf`, start, and promote at the target.
pub fn recovery_script(r: &PitrReadiness, target: NaiveDateTime) -> Result<String> {
    let major = if r.server_major > 0 {
        r.server_major
    } else {
        15
    };
    if major < 12 {
        return Err(Error::invalid(
            "server",
            format!(
                "PostgreSQL {major} uses recovery.conf; this script is for PostgreSQL 12 and later"
            ),
        ));
    }
    let data = r
        .data_directory
        .clone()
        .unwrap_or_else(|| format!("/var/lib/postgresql/{major}/main"));
    let restore = r
        .restore_command
        .clone()
        .unwrap_or_else(|| "cp \"/path/to/wal_archive/%f\" \"%p\"".into());
    // postgresql.auto.conf quotes values with single quotes, doubled inside.
    let conf_restore = restore.replace('\'', "''");
    let target_s = target.format("%Y-%m-%d %H:%M:%S%.3f+00").to_string();
    let warn = if r.ready {
        String::new()
    } else {
        format!(
            "# WARNING: the server was NOT ready for PITR when this script was generated:\n{}\n",
            r.problems
                .iter()
                .map(|p| format!("#   - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    Ok(format!(
        r#"#!/usr/bin/env bash
# Point-in-time recovery to {target_s} (UTC) for PostgreSQL {major} (12+ procedure:
# recovery.signal + postgresql.auto.conf; recovery.conf is no longer read and blocks start-up).
# Generated by ncy-admin {version}. Review it, then run it as the postgres user:
#   bash pitr.sh /path/to/base_backup
# The base backup is a plain-format pg_basebackup copy finished BEFORE the target time.
{warn}set -euo pipefail

BASE_BACKUP="${{1:?usage: $0 BASE_BACKUP_DIR (a plain-format pg_basebackup copy)}}"
PGDATA="${{PGDATA:-{data}}}"
PGBIN="${{PGBIN:-/usr/lib/postgresql/{major}/bin}}"
TARGET_TIME={target_q}
ASIDE="$PGDATA.before-pitr.$(date -u +%Y%m%dT%H%M%SZ)"

test -f "$BASE_BACKUP/PG_VERSION" || {{ echo "$BASE_BACKUP is not a base backup (no PG_VERSION)" >&2; exit 1; }}

# 1. Stop the server (or: systemctl stop postgresql@{major}-main).
"$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop || true

# 2. Keep the current data directory: never delete it before the recovery is checked.
mv "$PGDATA" "$ASIDE"

# 3. Copy the base backup in; WAL comes from the archive.
mkdir -p "$PGDATA"
chmod 700 "$PGDATA"
cp -a "$BASE_BACKUP"/. "$PGDATA"/
rm -rf "$PGDATA"/pg_wal/*
mkdir -p "$PGDATA/pg_wal/archive_status"
# Keep the old configuration files when the base backup does not hold them.
for f in postgresql.conf pg_hba.conf pg_ident.conf; do
  if [ ! -e "$PGDATA/$f" ] && [ -e "$ASIDE/$f" ]; then cp -a "$ASIDE/$f" "$PGDATA/$f"; fi
done

# 4. Recovery settings (PostgreSQL 12+).
cat >> "$PGDATA/postgresql.auto.conf" <<EOF
restore_command = '{conf_restore}'
recovery_target_time = '$TARGET_TIME'
recovery_target_action = 'promote'
EOF
touch "$PGDATA/recovery.signal"

# 5. Start: the server replays the archived WAL up to the target time, then promotes.
"$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/pitr-recovery.log" -w -t 3600 start

# 6. Check: recovery is over when pg_is_in_recovery() is false.
until [ "$("$PGBIN/psql" -XAtc 'SELECT pg_is_in_recovery()' postgres)" = "f" ]; do sleep 1; done
echo "recovered to $TARGET_TIME; the previous data directory is in $ASIDE"
echo "remove the recovery_target_* lines from $PGDATA/postgresql.auto.conf before the next restart"
"#,
        version = ncy_core::VERSION,
        target_q = sh_single(&target_s),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> PitrReadiness {
        PitrReadiness {
            wal_level: "replica".into(),
            archive_mode: "on".into(),
            archive_command: "test ! -f /srv/wal/%f && cp %p /srv/wal/%f".into(),
            archive_library: None,
            archive_timeout_s: Some(0),
            archived_count: 3,
            last_archived_wal: Some("000000010000000000000003".into()),
            last_archived_time: ncy_core::db::parse_ts("2026-11-26 08:00:00.000"),
            failed_count: 0,
            last_failed_wal: None,
            last_failed_time: None,
            data_directory: Some("/data/pg".into()),
            server_major: 15,
            archive_dir: None,
            restore_command: None,
            ready: false,
            problems: vec![],
            notes: vec![],
        }
    }

    #[test]
    fn ready_server_gets_a_pg12_recovery_script() {
        let mut r = base();
        assess(&mut r);
        assert!(r.ready, "{:?}", r.problems);
        assert_eq!(r.archive_dir.as_deref(), Some("/srv/wal"));
        assert_eq!(
            r.restore_command.as_deref(),
            Some("cp \"/srv/wal/%f\" \"%p\"")
        );
        let t = ncy_core::db::parse_ts("2026-11-26 07:30:00.000").unwrap();
        let s = recovery_script(&r, t).unwrap();
        assert!(s.contains("touch \"$PGDATA/recovery.signal\""));
        assert!(s.contains("postgresql.auto.conf"));
        assert!(s.contains("restore_command = 'cp \"/srv/wal/%f\" \"%p\"'"));
        assert!(s.contains("recovery_target_time = '$TARGET_TIME'"));
        assert!(s.contains("TARGET_TIME='2026-11-26 07:30:00.000+00'"));
        assert!(
            !s.contains("recovery.conf <<"),
            "no recovery.conf file is written"
        );
        assert!(s.contains("PGDATA=\"${PGDATA:-/data/pg}\""));
    }

    #[test]
    fn problems_name_the_fix() {
        let mut r = base();
        r.wal_level = "minimal".into();
        r.archive_mode = "off".into();
        r.archive_command = "(disabled)".into();
        r.archived_count = 0;
        assess(&mut r);
        assert!(!r.ready);
        assert_eq!(r.problems.len(), 4, "{:?}", r.problems);
        assert!(r.problems[0].contains("wal_level = replica"));
        let mut r = base();
        r.failed_count = 2;
        r.last_failed_time = ncy_core::db::parse_ts("2026-11-26 09:00:00.000");
        assess(&mut r);
        assert!(!r.ready);
        assert!(r.problems[0].contains("archiving is failing"));
        let s = recovery_script(&r, r.last_archived_time.unwrap()).unwrap();
        assert!(s.contains("WARNING: the server was NOT ready"));
    }

    #[test]
    fn known_archivers_map_to_restore_commands() {
        assert_eq!(
            restore_command_for("pgbackrest --stanza=main archive-push %p").as_deref(),
            Some("pgbackrest --stanza=main archive-get %f \"%p\"")
        );
        assert_eq!(
            restore_command_for("wal-g wal-push %p").as_deref(),
            Some("wal-g wal-fetch %f %p")
        );
        assert_eq!(restore_command_for("/usr/local/bin/ship %p"), None);
    }
}
