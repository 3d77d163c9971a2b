//! Retention: users soft-deleted longer than the policy's years are anonymized (by the erasure
//! rules; those under a legal hold or still owning an organization are skipped and listed), and
//! log rows past their windows are deleted. A dry run only counts. The policy comes from the
//! global setting `gdpr.retention` (JSON, any subset of [`RetentionPolicy`]'s fields) over the
//! defaults, and may be overridden per run.
//!
//! On a log table partitioned by month (`ncy-admin migrate partition-logs`, see
//! [`ncy_core::partition`]), the months entirely past the window are detached and dropped
//! whole (reported as `dropped` items, one per partition, their rows counted in the table's
//! `deleted` total); the rows of the month the cutoff falls in, of the default partition and
//! of a move under way are deleted row by row. The partitions of the coming months are created
//! ahead at each run. The plain layout is unchanged.

use chrono::{Duration, Months, NaiveDateTime};
use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{ident, now, Db, Dialect, Tx};
use ncy_core::partition::{self, Layout, Partition};
use ncy_core::Work;
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::erase;
use crate::rows::count;

/// `SELECT ncy_audit_checkpoint(…) AS s`: the last sequence number behind the checkpoint.
#[derive(Deserialize)]
struct Checkpoint {
    s: i64,
}

/// Retention windows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct RetentionPolicy {
    /// Soft-deleted users are anonymized after this many years.
    pub deleted_user_years: u32,
    pub audit_log_days: u32,
    pub access_log_days: u32,
    pub error_log_days: u32,
    pub login_attempt_days: u32,
    /// Sessions are deleted this many days after they expired.
    pub expired_session_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            deleted_user_years: 7,
            audit_log_days: 7 * 365,
            access_log_days: 90,
            error_log_days: 90,
            login_attempt_days: 90,
            expired_session_days: 30,
        }
    }
}

/// The settings key holding the policy.
pub const SETTINGS_KEY: &str = "gdpr.retention";

/// Reads the stored policy (defaults for anything missing; needs `gdpr.read`).
pub async fn load_policy(db: &Db, op: &Operator) -> Result<RetentionPolicy> {
    op.require(perm::GDPR_READ)?;
    let mut tx = db.begin().await?;
    let p = policy_in(&mut tx).await?;
    tx.commit().await?;
    Ok(p)
}

async fn policy_in(tx: &mut Tx) -> Result<RetentionPolicy> {
    #[derive(Deserialize)]
    struct Setting {
        value: Option<serde_json::Value>,
    }
    let row: Option<Setting> = tx
        .query_opt_as(
            r#"SELECT "value" FROM "Settings" WHERE "user_id" IS NULL AND "key" = $1"#,
            &params![SETTINGS_KEY],
        )
        .await?;
    match row.and_then(|r| r.value) {
        Some(v) => {
            ncy_core::admin::settings::check_retention(&v)?;
            serde_json::from_value(v).map_err(|e| {
                Error::invalid(
                    "setting gdpr.retention",
                    format!(
                        "{e}; expected e.g. {{\"deleted_user_years\": 7, \"access_log_days\": 90}}"
                    ),
                )
            })
        }
        None => Ok(RetentionPolicy::default()),
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RetentionItem {
    pub table: String,
    /// `anonymized` or `deleted`.
    pub action: String,
    pub cutoff: NaiveDateTime,
    pub rows: u64,
}

/// A user retention could not anonymize.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SkippedUser {
    pub user_id: Uuid,
    pub reason: String,
}

/// What a retention run did (or would do).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RetentionReport {
    pub dry_run: bool,
    pub as_of: NaiveDateTime,
    pub policy: RetentionPolicy,
    pub items: Vec<RetentionItem>,
    pub skipped_users: Vec<SkippedUser>,
}

struct LogRule {
    table: &'static str,
    column: &'static str,
    days: fn(&RetentionPolicy) -> u32,
}

const LOGS: &[LogRule] = &[
    LogRule {
        table: "AuditLog",
        column: "created_at",
        days: |p| p.audit_log_days,
    },
    LogRule {
        table: "AccessLog",
        column: "timestamp",
        days: |p| p.access_log_days,
    },
    LogRule {
        table: "ErrorLog",
        column: "created_at",
        days: |p| p.error_log_days,
    },
    LogRule {
        table: "LoginAttempt",
        column: "created_at",
        days: |p| p.login_attempt_days,
    },
    LogRule {
        table: "Session",
        column: "expires_at",
        days: |p| p.expired_session_days,
    },
];

/// Runs retention (needs `gdpr.handle`): one transaction, audited; `dry_run` only counts.
/// Reports progress per user and per log table; a cancel rolls everything back.
pub async fn run(
    db: &Db,
    op: &Operator,
    policy: Option<RetentionPolicy>,
    dry_run: bool,
    as_of: Option<NaiveDateTime>,
    work: Work<'_>,
) -> Result<RetentionReport> {
    op.require(perm::GDPR_HANDLE)?;
    let t = as_of.unwrap_or_else(now);
    let mut tx = db.begin().await?;
    // Deleting log rows behind the audit chain's checkpoint and dropping whole partitions are
    // the schema owner's: no operator role may (migration 0010), so say so before any work.
    if !dry_run && crate::rows::operator_login(&mut tx).await? {
        return Err(Error::conflict(
            "connection",
            "retention deletes log and audit rows and drops old partitions, which only the schema owner's connection may do; run `ncy-admin gdpr retention run` with the owner's --database-url (e.g. as a scheduled job); `--dry-run` shows what it would do",
        ));
    }
    let policy = match policy {
        Some(p) => p,
        None => policy_in(&mut tx).await?,
    };
    let mut report = RetentionReport {
        dry_run,
        as_of: t,
        policy: policy.clone(),
        items: vec![],
        skipped_users: vec![],
    };

    let user_cutoff = t
        .checked_sub_months(Months::new(policy.deleted_user_years.saturating_mul(12)))
        .ok_or_else(|| Error::invalid("deleted_user_years", "out of range"))?;
    #[derive(Deserialize)]
    struct UserRow {
        id: Uuid,
        email: String,
    }
    let users: Vec<UserRow> = tx
        .query_as(
            r#"SELECT "id", "email" FROM "User" WHERE "deleted_at" IS NOT NULL AND "deleted_at" < $1
               AND "email" <> 'anonymized_' || "id"::text || '@deleted.invalid' ORDER BY "deleted_at", "id""#,
            &params![user_cutoff],
        )
        .await?;
    let mut anonymized = 0u64;
    let total = users.len() as u64 + LOGS.len() as u64;
    for (i, u) in users.iter().enumerate() {
        work.check()?;
        work.report("users", i as u64, total);
        let id = u.id;
        if let Some(why) = erase::blockers(&mut tx, id).await? {
            report.skipped_users.push(SkippedUser {
                user_id: id,
                reason: why,
            });
            continue;
        }
        anonymized += 1;
        if !dry_run {
            let email = u.email.to_lowercase();
            let (rules, terms) = erase::apply_rules(&mut tx, id, Some(&email), t).await?;
            audit::record(&mut tx, op, Entry {
                action: "GDPR_RETENTION_ANONYMIZE",
                table: "User",
                target_id: Some(id),
                old: None,
                new: Some(json!({"rules": rules.len(), "rows_changed": rules.iter().map(|r| r.rows).sum::<u64>(), "terms": terms.summary().email + terms.summary().local_part + terms.summary().ip_addresses})),
            })
            .await?;
        }
    }
    report.items.push(RetentionItem {
        table: "User".into(),
        action: "anonymized".into(),
        cutoff: user_cutoff,
        rows: anonymized,
    });

    let mut drops: Vec<(&str, Vec<Partition>)> = Vec::new();
    for (i, l) in LOGS.iter().enumerate() {
        work.check()?;
        work.report(l.table, total - LOGS.len() as u64 + i as u64, total);
        let cutoff = t - Duration::days((l.days)(&policy) as i64);
        let cond = format!(r#"FROM "{}" WHERE "{}" < $1"#, l.table, l.column);
        let layout = match partition::TABLES.iter().find(|p| p.name == l.table) {
            Some(_) => partition::layout(&mut tx, l.table).await?,
            None => Layout::Plain,
        };
        let rows = if layout != Layout::Plain {
            let (rows, parts) = if l.table == partition::AUDIT_LOG.name {
                partitioned_audit(&mut tx, cutoff, dry_run).await?
            } else {
                partitioned_logs(&mut tx, l, cutoff, dry_run).await?
            };
            for (p, n) in &parts {
                report.items.push(RetentionItem {
                    table: p.name.clone(),
                    action: "dropped".into(),
                    cutoff,
                    rows: *n,
                });
            }
            drops.push((l.table, parts.into_iter().map(|(p, _)| p).collect()));
            rows
        } else if dry_run {
            count(
                &mut tx,
                &format!("SELECT count(*) AS n {cond}"),
                &params![cutoff],
            )
            .await?
        } else if l.table == "AuditLog" && tx.dialect() == Dialect::Postgres {
            // The hash chain is cut only behind a recorded checkpoint (and never within the
            // last 30 days): `audit verify` then starts from it.
            let upto = tx
                .query_one_as::<Checkpoint>(
                    "SELECT ncy_audit_checkpoint($1) AS s",
                    &params![cutoff],
                )
                .await?
                .s;
            tx.execute(
                r#"DELETE FROM "AuditLog" WHERE "seq" <= $1"#,
                &params![upto],
            )
            .await?
        } else {
            tx.execute(&format!("DELETE {cond}"), &params![cutoff])
                .await?
        };
        report.items.push(RetentionItem {
            table: l.table.into(),
            action: "deleted".into(),
            cutoff,
            rows,
        });
    }
    if !dry_run {
        // Last, so the parents' exclusive locks are held only until the commit.
        for (table, parts) in drops {
            drop_partitions(&mut tx, table, &parts).await?;
        }
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        let counts: serde_json::Map<String, serde_json::Value> = report
            .items
            .iter()
            .map(|i| (format!("{}:{}", i.table, i.action), json!(i.rows)))
            .collect();
        audit::record(&mut tx, op, Entry {
            action: "GDPR_RETENTION",
            table: "Settings",
            target_id: None,
            old: None,
            new: Some(json!({"counts": counts, "policy": policy, "skipped_users": report.skipped_users.len()})),
        })
        .await?;
        tx.commit().await?;
    }
    Ok(report)
}

/// Retention of a partitioned log table inside the run's transaction: deletes (or counts) the
/// expired rows that sit outside whole expired partitions, and returns the total expired rows
/// with the partitions to drop (and their row counts).
async fn partitioned_logs(
    tx: &mut Tx,
    l: &LogRule,
    cutoff: NaiveDateTime,
    dry_run: bool,
) -> Result<(u64, Vec<(Partition, u64)>)> {
    let col = ident(l.column);
    let parts = partition::partitions(tx, l.table).await?;
    let mut expired = Vec::new();
    let mut total = 0u64;
    // Whole months: from the oldest partition up to the first one the cutoff falls in.
    let mut floor: Option<NaiveDateTime> = None;
    let default = parts
        .iter()
        .find(|p| p.default)
        .map(|p| p.qualified.clone());
    for p in parts {
        if let (Some(_), Some(to)) = (p.from, p.to) {
            if to <= cutoff {
                let n = count(
                    tx,
                    &format!("SELECT count(*) AS n FROM {}", p.qualified),
                    &[],
                )
                .await?;
                total += n;
                floor = Some(floor.map_or(to, |f: NaiveDateTime| f.max(to)));
                expired.push((p, n));
            }
        }
    }
    // The rest, row by row: the partial month (and the default partition's rows) through the
    // parent above the dropped months, the default partition below them, the rows not moved
    // yet by an interrupted partition-logs.
    let mut deletes: Vec<(String, String, Vec<ncy_core::db::Value>)> = Vec::new();
    match floor {
        Some(f) => {
            deletes.push((
                ident(l.table),
                format!("{col} >= $2 AND {col} < $1"),
                params![cutoff, f],
            ));
            if let Some(def) = &default {
                deletes.push((def.clone(), format!("{col} < $1"), params![f]));
            }
        }
        None => deletes.push((ident(l.table), format!("{col} < $1"), params![cutoff])),
    }
    if partition::layout(tx, l.table).await? == Layout::Moving {
        deletes.push((
            ident(&partition::leftover_name(l.table)),
            format!("{col} < $1"),
            params![cutoff],
        ));
    }
    for (rel, cond, p) in deletes {
        total += if dry_run {
            count(
                tx,
                &format!("SELECT count(*) AS n FROM {rel} WHERE {cond}"),
                &p,
            )
            .await?
        } else {
            tx.execute(&format!("DELETE FROM {rel} WHERE {cond}"), &p)
                .await?
        };
    }
    Ok((total, expired))
}

/// Retention of a partitioned AuditLog: the chain is cut only behind a recorded checkpoint (as
/// on a plain table), so whole partitions go only when every row is expired and behind it,
/// oldest first (the legacy partition too, once all of it has expired); the rest is deleted
/// row by row behind the checkpoint, where the append-only guard checks each row.
async fn partitioned_audit(
    tx: &mut Tx,
    cutoff: NaiveDateTime,
    dry_run: bool,
) -> Result<(u64, Vec<(Partition, u64)>)> {
    if dry_run {
        let n = count(
            tx,
            r#"SELECT count(*) AS n FROM "AuditLog" WHERE "created_at" < $1"#,
            &params![cutoff],
        )
        .await?;
        return Ok((n, Vec::new()));
    }
    let upto = tx
        .query_one_as::<Checkpoint>("SELECT ncy_audit_checkpoint($1) AS s", &params![cutoff])
        .await?
        .s;
    let mut expired = Vec::new();
    let mut floor: Option<NaiveDateTime> = None;
    let mut total = 0u64;
    for p in partition::partitions(tx, "AuditLog").await? {
        match p.to {
            Some(to) if !p.default && to <= cutoff => {
                #[derive(Deserialize)]
                struct PartitionCount {
                    n: i64,
                    s: i64,
                }
                let r: PartitionCount = tx
                    .query_one_as(
                        &format!(
                            r#"SELECT count(*) AS n, coalesce(max("seq"), 0) AS s FROM {}"#,
                            p.qualified
                        ),
                        &[],
                    )
                    .await?;
                if r.s > upto {
                    break;
                }
                total += r.n as u64;
                floor = Some(to);
                expired.push((p, r.n as u64));
            }
            _ => break,
        }
    }
    let (cond, p) = match floor {
        Some(f) => (r#""seq" <= $1 AND "created_at" >= $2"#, params![upto, f]),
        None => (r#""seq" <= $1"#, params![upto]),
    };
    total += tx
        .execute(&format!(r#"DELETE FROM "AuditLog" WHERE {cond}"#), &p)
        .await?;
    Ok((total, expired))
}

/// Detaches and drops whole expired partitions, and creates the coming months' partitions. A
/// lock the parent cannot get within 10 s (a long reader) falls back to deleting the
/// partitions' rows, so retention never queues every writer of the table behind it.
async fn drop_partitions(tx: &mut Tx, table: &str, parts: &[Partition]) -> Result<()> {
    let parent = ident(table);
    tx.batch("SAVEPOINT ncy_retention_partitions; SET LOCAL lock_timeout = '10s'")
        .await?;
    let mut res = Ok(());
    for p in parts {
        res = tx
            .batch(&format!(
                "ALTER TABLE {parent} DETACH PARTITION {q}; DROP TABLE {q}",
                q = p.qualified
            ))
            .await;
        if res.is_err() {
            break;
        }
    }
    if res.is_ok() {
        if let Some(t) = partition::TABLES.iter().find(|t| t.name == table) {
            let n = now();
            res = partition::ensure_months(tx, t, n, n).await.map(|_| ());
        }
    }
    match res {
        Ok(()) => {
            tx.batch("SET LOCAL lock_timeout = DEFAULT; RELEASE SAVEPOINT ncy_retention_partitions")
                .await
        }
        Err(_) => {
            tx.batch(
                "ROLLBACK TO SAVEPOINT ncy_retention_partitions; SET LOCAL lock_timeout = DEFAULT",
            )
            .await?;
            for p in parts {
                tx.execute(&format!("DELETE FROM {}", p.qualified), &[])
                    .await?;
            }
            Ok(())
        }
    }
}
