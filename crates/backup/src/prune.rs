//! Retention: which backups to keep (younger than N days or among the N newest, pinned ones,
//! and always the newest verified one) and deleting the rest, files and rows, audited. A row whose file lies outside
//! the backup folder is never deleted: it is reported in `refused`.

use std::path::Path;

use chrono::{Duration, NaiveDateTime};
use ncy_core::audit::{self, Entry};
use ncy_core::auth::Operator;
use ncy_core::db::{now, Db};
use ncy_core::{params, Error, Result};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::snapshot::{self, Snapshot};

/// The retention policy.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct PrunePolicy {
    /// Keep backups younger than this many days (the platform's default: 30).
    pub keep_days: i64,
    /// Also keep the N newest backups whatever their age.
    pub keep_last: Option<u64>,
}

impl Default for PrunePolicy {
    fn default() -> Self {
        PrunePolicy {
            keep_days: 30,
            keep_last: None,
        }
    }
}

/// One backup and why it is kept or deleted.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PruneItem {
    pub id: Uuid,
    pub path: String,
    pub created_at: NaiveDateTime,
    pub verified: bool,
    pub size: i64,
    pub reason: String,
}

/// What prune keeps and deletes (or would, with `dry_run`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct PrunePlan {
    pub dry_run: bool,
    pub policy: PrunePolicy,
    pub keep: Vec<PruneItem>,
    pub delete: Vec<PruneItem>,
    /// Backups the policy would delete but whose file lies outside the backup folder: neither
    /// file nor row is touched (a row naming another file may have been planted).
    pub refused: Vec<PruneItem>,
    /// The backup folder deletions were confined to (empty for a bare [`plan`]).
    pub folder: String,
    /// Bytes freed by the deletions.
    pub freed_bytes: i64,
}

fn item(s: &Snapshot, reason: String) -> PruneItem {
    PruneItem {
        id: s.id,
        path: s.path.clone(),
        created_at: s.created_at,
        verified: s.verified,
        size: s.size,
        reason,
    }
}

/// Decides, without side effects, what `policy` keeps among `snapshots` at time `at`.
pub fn plan(snapshots: &[Snapshot], policy: &PrunePolicy, at: NaiveDateTime) -> Result<PrunePlan> {
    if policy.keep_days < 0 {
        return Err(Error::invalid("keep-days", "must be 0 or more"));
    }
    let mut sorted: Vec<&Snapshot> = snapshots.iter().collect();
    sorted.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let newest_verified = sorted.iter().find(|s| s.verified).map(|s| s.id);
    let cutoff = at - Duration::days(policy.keep_days);
    let keep_last = policy.keep_last.unwrap_or(0) as usize;
    let (mut keep, mut delete) = (vec![], vec![]);
    for (i, s) in sorted.iter().enumerate() {
        if Some(s.id) == newest_verified {
            keep.push(item(s, "the newest verified backup (always kept)".into()));
        } else if s.pinned_at.is_some() {
            let why = match &s.pin_reason {
                Some(r) => format!("pinned: {r}"),
                None => "pinned".into(),
            };
            keep.push(item(s, why));
        } else if i < keep_last {
            keep.push(item(s, format!("one of the {keep_last} newest")));
        } else if s.created_at >= cutoff {
            keep.push(item(s, format!("younger than {} days", policy.keep_days)));
        } else {
            delete.push(item(s, format!("older than {} days", policy.keep_days)));
        }
    }
    Ok(PrunePlan {
        dry_run: true,
        policy: policy.clone(),
        freed_bytes: delete.iter().map(|d| d.size).sum(),
        keep,
        delete,
        refused: vec![],
        folder: String::new(),
    })
}

/// Plans and (unless `dry_run`) deletes: rows and their audit entries in one transaction that
/// commits only after every file is gone.
pub(crate) async fn run(
    db: &Db,
    op: &Operator,
    policy: &PrunePolicy,
    folder: &Path,
    dry_run: bool,
) -> Result<PrunePlan> {
    let mut tx = db.begin().await?;
    let all = snapshot::all(&mut tx).await?;
    let mut p = plan(&all, policy, now())?;
    p.dry_run = dry_run;
    p.folder = folder.display().to_string();
    let mut delete = vec![];
    for mut d in std::mem::take(&mut p.delete) {
        match crate::folder::inside(folder, Path::new(&d.path)) {
            Ok(real) => {
                d.path = real.display().to_string();
                delete.push(d);
            }
            Err(why) => {
                d.reason = format!("{why}: not deleted (the row may have been planted; check it)");
                p.refused.push(d);
            }
        }
    }
    p.freed_bytes = delete.iter().map(|d| d.size).sum();
    p.delete = delete;
    if dry_run || p.delete.is_empty() {
        tx.rollback().await?;
        return Ok(p);
    }
    for d in &p.delete {
        tx.execute(
            r#"DELETE FROM "BackupSnapshot" WHERE "id" = $1"#,
            &params![d.id],
        )
        .await?;
        audit::record(
            &mut tx,
            op,
            Entry {
                action: "BACKUP_PRUNE",
                table: "BackupSnapshot",
                target_id: Some(d.id),
                old: Some(json!({
                    "path": d.path,
                    "created_at": d.created_at,
                    "verified": d.verified,
                    "size": d.size,
                })),
                new: Some(json!({ "reason": d.reason })),
            },
        )
        .await?;
    }
    for d in &p.delete {
        match std::fs::remove_file(&d.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                // The transaction rolls back: rows stay for the files that remain.
                return Err(Error::io(format!("deleting {}", d.path), e));
            }
        }
    }
    tx.commit().await?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(days_ago: i64, verified: bool, at: NaiveDateTime) -> Snapshot {
        Snapshot {
            id: Uuid::new_v4(),
            path: format!("/b/{days_ago}.dump"),
            size: 10,
            verified,
            created_at: at - Duration::days(days_ago),
            sha256: None,
            duration_ms: None,
            database: None,
            server_version: None,
            format: None,
            compression: None,
            table_counts: None,
            verified_at: None,
            verification: None,
            created_by: None,
            pinned_at: None,
            pin_reason: None,
            encrypted_to: None,
            file_exists: false,
        }
    }

    #[test]
    fn keeps_young_newest_and_newest_verified() {
        let at = now();
        let s = vec![
            snap(1, false, at),
            snap(40, false, at),
            snap(50, true, at),
            snap(60, true, at),
            snap(70, false, at),
        ];
        let p = plan(&s, &PrunePolicy::default(), at).unwrap();
        let kept: Vec<&str> = p.keep.iter().map(|k| k.path.as_str()).collect();
        assert_eq!(kept, vec!["/b/1.dump", "/b/50.dump"]);
        assert_eq!(p.delete.len(), 3);
        assert_eq!(p.freed_bytes, 30);
        let p = plan(
            &s,
            &PrunePolicy {
                keep_days: 0,
                keep_last: Some(2),
            },
            at,
        )
        .unwrap();
        let kept: Vec<&str> = p.keep.iter().map(|k| k.path.as_str()).collect();
        assert_eq!(kept, vec!["/b/1.dump", "/b/40.dump", "/b/50.dump"]);
        // A pinned old backup is kept with its reason.
        let mut pinned = s.clone();
        pinned[4].pinned_at = Some(at);
        pinned[4].pin_reason = Some("audit 2026".into());
        let p = plan(&pinned, &PrunePolicy::default(), at).unwrap();
        assert_eq!(p.delete.len(), 2);
        assert!(p
            .keep
            .iter()
            .any(|k| k.path == "/b/70.dump" && k.reason == "pinned: audit 2026"));
        assert!(plan(
            &s,
            &PrunePolicy {
                keep_days: -1,
                keep_last: None
            },
            at
        )
        .is_err());
    }
}
