//! `BackupSnapshot` rows: recording, reading, listing (keyset pages), verification results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use ncy_core::audit::{self, Entry};
use ncy_core::auth::Operator;
use ncy_core::db::{format_ts, now, parse_ts, Db, Row, Tx};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::Verification;

/// Names a backup: its snapshot id, or its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupRef {
    Id(Uuid),
    Path(PathBuf),
}

impl BackupRef {
    /// A UUID is an id; anything else a path.
    pub fn parse(s: &str) -> BackupRef {
        match Uuid::parse_str(s.trim()) {
            Ok(id) => BackupRef::Id(id),
            Err(_) => BackupRef::Path(PathBuf::from(s)),
        }
    }
}

/// A recorded backup.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    pub id: Uuid,
    pub path: String,
    pub size: i64,
    pub verified: bool,
    pub created_at: NaiveDateTime,
    pub sha256: Option<String>,
    pub duration_ms: Option<i64>,
    pub database: Option<String>,
    pub server_version: Option<String>,
    /// `custom` (pg_dump) or `sqlite`.
    pub format: Option<String>,
    pub compression: Option<i64>,
    /// Exact row counts per table at backup time (`schema.table` → rows).
    pub table_counts: Option<BTreeMap<String, i64>>,
    pub verified_at: Option<NaiveDateTime>,
    /// The last [`Verification`] as stored.
    pub verification: Option<serde_json::Value>,
    pub created_by: Option<Uuid>,
    /// Set while the backup is pinned: kept beyond the retention policy.
    pub pinned_at: Option<NaiveDateTime>,
    pub pin_reason: Option<String>,
    /// The age recipient (`age1…`) the file is encrypted to; `None` = not encrypted.
    pub encrypted_to: Option<String>,
    /// Whether the file is still on disk (checked when read).
    pub file_exists: bool,
}

/// A page of backups, newest first, with the age of the newest verified one.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct BackupList {
    pub items: Vec<Snapshot>,
    /// Pass as `after` for the next page.
    pub next_cursor: Option<String>,
    pub last_verified_at: Option<NaiveDateTime>,
    /// Seconds since the newest verified backup was taken.
    pub last_verified_age_secs: Option<i64>,
    /// The limit `backups.max_age_hours` in force.
    pub max_age_hours: i64,
    /// No verified backup, or the newest is older than the limit (`backup check` fails).
    pub stale: bool,
    /// One line on the newest verified backup's age against the limit.
    pub age_message: String,
}

pub(crate) const COLUMNS: &str = r#""id", "path", "size", "verified", "created_at", "sha256", "duration_ms", "database", "server_version", "format", "compression", "table_counts", "verified_at", "verification", "created_by", "pinned_at", "pin_reason", "encrypted_to""#;

/// A row of [`COLUMNS`], as stored.
#[derive(Deserialize)]
struct SnapshotRow {
    id: Uuid,
    path: String,
    size: i64,
    verified: bool,
    created_at: NaiveDateTime,
    sha256: Option<String>,
    duration_ms: Option<i64>,
    database: Option<String>,
    server_version: Option<String>,
    format: Option<String>,
    compression: Option<i64>,
    table_counts: Option<serde_json::Value>,
    verified_at: Option<NaiveDateTime>,
    verification: Option<serde_json::Value>,
    created_by: Option<Uuid>,
    pinned_at: Option<NaiveDateTime>,
    pin_reason: Option<String>,
    encrypted_to: Option<String>,
}

pub(crate) fn from_row(r: &Row) -> Result<Snapshot> {
    let r: SnapshotRow = r.decode()?;
    let table_counts = match r.table_counts {
        Some(v) => Some(serde_json::from_value(v).map_err(|e| {
            Error::db(format!(
                "BackupSnapshot.table_counts is not a map of counts: {e}"
            ))
        })?),
        None => None,
    };
    Ok(Snapshot {
        id: r.id,
        file_exists: Path::new(&r.path).is_file(),
        path: r.path,
        size: r.size,
        verified: r.verified,
        created_at: r.created_at,
        sha256: r.sha256,
        duration_ms: r.duration_ms,
        database: r.database,
        server_version: r.server_version,
        format: r.format,
        compression: r.compression,
        table_counts,
        verified_at: r.verified_at,
        verification: r.verification,
        created_by: r.created_by,
        pinned_at: r.pinned_at,
        pin_reason: r.pin_reason,
        encrypted_to: r.encrypted_to,
    })
}

/// What a new snapshot row records.
pub(crate) struct NewSnapshot<'a> {
    pub path: &'a Path,
    pub size: u64,
    pub created_at: NaiveDateTime,
    pub sha256: &'a str,
    pub duration_ms: i64,
    pub database: &'a str,
    pub server_version: &'a str,
    pub format: &'a str,
    pub compression: Option<i64>,
    pub table_counts: &'a BTreeMap<String, i64>,
    pub encrypted_to: Option<&'a str>,
}

/// Inserts the snapshot row and its audit entry in one transaction.
pub(crate) async fn insert(db: &Db, op: &Operator, n: NewSnapshot<'_>) -> Result<Snapshot> {
    let id = Uuid::new_v4();
    let path = n.path.display().to_string();
    let counts = serde_json::to_value(n.table_counts).unwrap_or_default();
    let mut tx = db.begin().await?;
    tx.execute(
        &format!(
            r#"INSERT INTO "BackupSnapshot" ({COLUMNS})
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"#
        ),
        &params![
            id,
            path.as_str(),
            n.size as i64,
            false,
            n.created_at,
            n.sha256,
            n.duration_ms,
            n.database,
            n.server_version,
            n.format,
            n.compression,
            counts,
            None::<NaiveDateTime>,
            None::<serde_json::Value>,
            op.user_id,
            None::<NaiveDateTime>,
            None::<String>,
            n.encrypted_to
        ],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "BACKUP_CREATE",
            table: "BackupSnapshot",
            target_id: Some(id),
            old: None,
            new: Some(json!({
                "path": path,
                "size": n.size,
                "sha256": n.sha256,
                "database": n.database,
                "format": n.format,
                "compression": n.compression,
                "duration_ms": n.duration_ms,
                "encrypted_to": n.encrypted_to,
            })),
        },
    )
    .await?;
    let snap = get_tx(&mut tx, id).await?;
    tx.commit().await?;
    Ok(snap)
}

async fn get_tx(tx: &mut Tx, id: Uuid) -> Result<Snapshot> {
    let r = tx
        .query_one(
            &format!(r#"SELECT {COLUMNS} FROM "BackupSnapshot" WHERE "id" = $1"#),
            &params![id],
        )
        .await?;
    from_row(&r)
}

/// Finds the snapshot named by `which` (by id, or by its file's path).
pub(crate) async fn resolve(db: &Db, which: &BackupRef) -> Result<Option<Snapshot>> {
    let rows = match which {
        BackupRef::Id(id) => {
            db.query(
                &format!(r#"SELECT {COLUMNS} FROM "BackupSnapshot" WHERE "id" = $1"#),
                &params![*id],
            )
            .await?
        }
        BackupRef::Path(p) => {
            let given = p.display().to_string();
            let canon = std::fs::canonicalize(p)
                .map(|c| c.display().to_string())
                .unwrap_or_else(|_| given.clone());
            db.query(
                &format!(
                    r#"SELECT {COLUMNS} FROM "BackupSnapshot" WHERE "path" = $1 OR "path" = $2
                       ORDER BY "created_at" DESC LIMIT 1"#
                ),
                &params![given.as_str(), canon.as_str()],
            )
            .await?
        }
    };
    rows.first().map(from_row).transpose()
}

/// Every snapshot, newest first (retention works on the whole set; it is small).
pub(crate) async fn all(tx: &mut Tx) -> Result<Vec<Snapshot>> {
    tx.query(
        &format!(r#"SELECT {COLUMNS} FROM "BackupSnapshot" ORDER BY "created_at" DESC, "id" DESC"#),
        &[],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

fn parse_cursor(c: &str) -> Result<(NaiveDateTime, Uuid)> {
    let bad = || {
        Error::invalid(
            "after",
            "not a cursor from a previous page of the backup list",
        )
    };
    let (ts, id) = c.split_once('|').ok_or_else(bad)?;
    Ok((
        parse_ts(ts).ok_or_else(bad)?,
        Uuid::parse_str(id).map_err(|_| bad())?,
    ))
}

/// A keyset page of snapshots, newest first.
pub(crate) async fn list(db: &Db, after: Option<&str>, limit: u32) -> Result<BackupList> {
    let limit = limit.clamp(1, 1000) as i64;
    let rows = match after {
        Some(c) => {
            let (ts, id) = parse_cursor(c)?;
            db.query(
                &format!(
                    r#"SELECT {COLUMNS} FROM "BackupSnapshot"
                       WHERE ("created_at", "id") < ($1, $2)
                       ORDER BY "created_at" DESC, "id" DESC LIMIT $3"#
                ),
                &params![ts, id, limit + 1],
            )
            .await?
        }
        None => {
            db.query(
                &format!(
                    r#"SELECT {COLUMNS} FROM "BackupSnapshot"
                       ORDER BY "created_at" DESC, "id" DESC LIMIT $1"#
                ),
                &params![limit + 1],
            )
            .await?
        }
    };
    let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items
            .last()
            .map(|s| format!("{}|{}", format_ts(&s.created_at), s.id))
    } else {
        None
    };
    let age = ncy_core::admin::backup_age::read(db).await?;
    Ok(BackupList {
        items,
        next_cursor,
        last_verified_age_secs: age.age_secs,
        last_verified_at: age.newest_verified_at,
        max_age_hours: age.max_age_hours,
        stale: !age.fresh,
        age_message: age.message,
    })
}

/// Stores a verification result on its snapshot, audited in the same transaction.
pub(crate) async fn record_verification(
    db: &Db,
    op: &Operator,
    snap: &Snapshot,
    v: &Verification,
) -> Result<()> {
    let details = serde_json::to_value(v).unwrap_or_default();
    let mut tx = db.begin().await?;
    let n = tx
        .execute(
            r#"UPDATE "BackupSnapshot" SET "verified" = $1, "verified_at" = $2, "verification" = $3
               WHERE "id" = $4"#,
            &params![v.ok, v.verified_at, details, snap.id],
        )
        .await?;
    if n == 0 {
        return Err(Error::not_found("backup", snap.id));
    }
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "BACKUP_VERIFY",
            table: "BackupSnapshot",
            target_id: Some(snap.id),
            old: Some(json!({ "verified": snap.verified, "verified_at": snap.verified_at })),
            new: Some(json!({
                "verified": v.ok,
                "verified_at": v.verified_at,
                "problems": v.problems,
                "restore_ms": v.restore_ms,
            })),
        },
    )
    .await?;
    tx.commit().await
}

/// Pins (`Some(reason)`, may be empty) or unpins (`None`) a backup, audited in the same
/// transaction (`BACKUP_PIN` / `BACKUP_UNPIN` with the old and new state).
pub(crate) async fn set_pin(
    db: &Db,
    op: &Operator,
    id: Uuid,
    reason: Option<&str>,
) -> Result<Snapshot> {
    let mut tx = db.begin().await?;
    let rows = tx
        .query(
            &format!(r#"SELECT {COLUMNS} FROM "BackupSnapshot" WHERE "id" = $1"#),
            &params![id],
        )
        .await?;
    let old = rows
        .first()
        .map(from_row)
        .transpose()?
        .ok_or_else(|| Error::not_found("backup", id))?;
    if reason.is_none() && old.pinned_at.is_none() {
        return Err(Error::conflict(
            "backup_pin",
            format!("backup {id} is not pinned"),
        ));
    }
    let reason = reason.map(str::trim);
    if reason.is_some_and(|r| r.chars().count() > 500) {
        return Err(Error::invalid(
            "reason",
            "at most 500 characters; say briefly why this backup is kept",
        ));
    }
    let at = reason.map(|_| old.pinned_at.unwrap_or_else(now));
    tx.execute(
        r#"UPDATE "BackupSnapshot" SET "pinned_at" = $1, "pin_reason" = $2 WHERE "id" = $3"#,
        &params![at, reason.filter(|r| !r.is_empty()), id],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: if reason.is_some() {
                "BACKUP_PIN"
            } else {
                "BACKUP_UNPIN"
            },
            table: "BackupSnapshot",
            target_id: Some(id),
            old: Some(json!({ "pinned_at": old.pinned_at, "pin_reason": old.pin_reason })),
            new: Some(json!({ "pinned_at": at, "pin_reason": reason.filter(|r| !r.is_empty()) })),
        },
    )
    .await?;
    let snap = get_tx(&mut tx, id).await?;
    tx.commit().await?;
    Ok(snap)
}
