//! Erasure (Art. 17): anonymization by the documented policy, the sweep, the receipt.
#![doc = include_str!("../ERASURE-POLICY.md")]

use chrono::NaiveDateTime;
use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db, Dialect, Tx};
use ncy_core::Work;
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::request::{self, Request, RequestKind, RequestState};
use crate::rows::{definer_error, operator_login};
use crate::subject::{self, anonymized_email, Subject};
use crate::sweep::{self, SweepResult};
use crate::terms::Terms;

/// The erasure policy, as documented in `ERASURE-POLICY.md`.
pub const POLICY: &str = include_str!("../ERASURE-POLICY.md");

/// Options of an erasure.
#[derive(Debug, Clone)]
pub struct ErasureOptions {
    /// How long backups are kept (to tell when the ones holding the subject expire).
    pub backup_retention_days: i64,
}

impl Default for ErasureOptions {
    fn default() -> Self {
        ErasureOptions {
            backup_retention_days: 30,
        }
    }
}

/// One rule applied: table, column(s), what was done, how many rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Rule {
    pub table: String,
    pub column: String,
    /// `deleted`, `nulled`, `rewritten` or `redacted`.
    pub rule: String,
    pub rows: u64,
}

/// A backup taken before the erasure, still holding the subject's data until it expires.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BackupHolding {
    pub id: Uuid,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub path: String,
    pub verified: bool,
    /// The newest verified backup is kept whatever its age, until a newer one is verified.
    pub kept_as_newest_verified: bool,
}

/// The erasure receipt (no personal data): kept in `GdprRequest.receipt`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Receipt {
    pub request_id: Uuid,
    pub subject_id: Uuid,
    pub erased_at: NaiveDateTime,
    pub handler_id: Uuid,
    /// True when the subject had been anonymized before this run.
    pub already_anonymized: bool,
    pub rules: Vec<Rule>,
    pub rows_changed: u64,
    pub sweep: SweepResult,
    pub backups_holding_data: Vec<BackupHolding>,
    pub backup_retention_days: i64,
    pub notes: Vec<String>,
    /// The receipt this run replaced (a repeated erasure keeps the first run's record).
    pub previous: Option<serde_json::Value>,
}

/// The result of [`erase`]: the receipt (with the sweep) and the updated request.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ErasureOutcome {
    pub receipt: Receipt,
    pub request: Request,
}

fn ip_expr(d: Dialect, col: &str) -> String {
    match d {
        Dialect::Postgres => format!("host({col})"),
        Dialect::Sqlite => col.to_owned(),
    }
}

/// The subject's own IP addresses (Session, AuditLog rows by them): unshared ones and the count
/// of shared ones.
async fn subject_ips(tx: &mut Tx, user: Uuid) -> Result<(Vec<String>, u32)> {
    let d = tx.dialect();
    let (s, a) = (ip_expr(d, r#""ip_address""#), ip_expr(d, r#""ip_address""#));
    #[derive(Deserialize)]
    struct Ip {
        ip: String,
    }
    let own: Vec<Ip> = tx
        .query_as(
            &format!(
                r#"SELECT {s} AS ip FROM "Session" WHERE "user_id" = $1 AND "ip_address" IS NOT NULL
                   UNION SELECT {a} AS ip FROM "AuditLog" WHERE "user_id" = $1 AND "ip_address" IS NOT NULL"#
            ),
            &params![user],
        )
        .await?;
    let mut unique = Vec::new();
    let mut shared = 0;
    for Ip { ip } in own {
        let used = tx
            .query_opt(
                &format!(
                    r#"SELECT 1 AS x FROM "Session" WHERE "user_id" <> $1 AND {s} = $2
                       UNION ALL SELECT 1 AS x FROM "AuditLog" WHERE "user_id" <> $1 AND {a} = $2 LIMIT 1"#
                ),
                &params![user, ip.as_str()],
            )
            .await?;
        if used.is_some() {
            shared += 1;
        } else {
            unique.push(ip);
        }
    }
    unique.sort();
    unique.dedup();
    Ok((unique, shared))
}

/// Refusals that make an erasure impossible to complete.
pub(crate) async fn blockers(tx: &mut Tx, user: Uuid) -> Result<Option<String>> {
    let holds = crate::hold::active_in(tx, user).await?;
    if !holds.is_empty() {
        return Ok(Some(format!(
            "user {user} is under {} active legal hold(s); erasure is refused until they are released",
            holds.len()
        )));
    }
    let orgs = request::owned_orgs(tx, user).await?;
    if !orgs.is_empty() {
        return Ok(Some(format!(
            "user {user} still owns organization(s) {}; transfer ownership first, then erase",
            orgs.join(", ")
        )));
    }
    Ok(None)
}

/// Applies the policy's rules to `user` inside `tx`; returns the rules with counts and the
/// terms to sweep for. `former_email` is the address before anonymization (lower-cased).
pub(crate) async fn apply_rules(
    tx: &mut Tx,
    user: Uuid,
    former_email: Option<&str>,
    t: NaiveDateTime,
) -> Result<(Vec<Rule>, Terms)> {
    let (ips, shared) = subject_ips(tx, user).await?;
    let terms = Terms::new(former_email, &ips, shared);
    let email = former_email.unwrap_or("").to_lowercase();
    let anon = anonymized_email(user);
    let mut rules = Vec::new();
    let steps: [(&str, &str, &str, String, Vec<ncy_core::db::Value>); 13] = [
        ("LoginAttempt", "*", "deleted",
         r#"DELETE FROM "LoginAttempt" WHERE "user_id" = $1 OR lower("email") = $2"#.into(), params![user, email.as_str()]),
        ("Session", "*", "deleted", r#"DELETE FROM "Session" WHERE "user_id" = $1"#.into(), params![user]),
        ("ApiKey", "*", "deleted", r#"DELETE FROM "ApiKey" WHERE "user_id" = $1"#.into(), params![user]),
        ("OrganizationMember", "*", "deleted", r#"DELETE FROM "OrganizationMember" WHERE "user_id" = $1"#.into(), params![user]),
        ("TeamMember", "*", "deleted", r#"DELETE FROM "TeamMember" WHERE "user_id" = $1"#.into(), params![user]),
        ("UserRoleMap", "*", "deleted", r#"DELETE FROM "UserRoleMap" WHERE "user_id" = $1"#.into(), params![user]),
        ("Settings", "*", "deleted", r#"DELETE FROM "Settings" WHERE "user_id" = $1"#.into(), params![user]),
        ("UserPreferences", "*", "deleted", r#"DELETE FROM "UserPreferences" WHERE "user_id" = $1"#.into(), params![user]),
        ("AuditLog", "ip_address,user_agent", "nulled",
         r#"UPDATE "AuditLog" SET "ip_address" = NULL, "user_agent" = NULL
            WHERE ("user_id" = $1 OR ("target_table" = 'User' AND "target_id" = $1))
              AND ("ip_address" IS NOT NULL OR "user_agent" IS NOT NULL)"#.into(), params![user]),
        ("Message", "subject,body", "rewritten",
         r#"UPDATE "Message" SET "subject" = NULL, "body" = '[erased]'
            WHERE "sender_id" = $1 AND ("body" <> '[erased]' OR "subject" IS NOT NULL)"#.into(), params![user]),
        ("Notification", "title,body,data", "rewritten",
         r#"UPDATE "Notification" SET "title" = '[erased]', "body" = NULL, "data" = '{}'
            WHERE "user_id" = $1 AND ("title" <> '[erased]' OR "body" IS NOT NULL OR coalesce("data"::text, '') <> '{}')"#.into(), params![user]),
        ("File", "name,metadata,deleted_at", "rewritten",
         r#"UPDATE "File" SET "name" = '[erased]', "metadata" = '{}', "deleted_at" = coalesce("deleted_at", $2)
            WHERE "user_id" = $1 AND ("name" <> '[erased]' OR coalesce("metadata"::text, '') <> '{}' OR "deleted_at" IS NULL)"#.into(), params![user, t]),
        ("User", "email,password_hash,status,deleted_at", "rewritten",
         r#"UPDATE "User" SET "email" = $2, "password_hash" = '!erased', "status" = 'INACTIVE',
                   "deleted_at" = coalesce("deleted_at", $3), "updated_at" = $3
            WHERE "id" = $1 AND ("email" <> $2 OR "password_hash" <> '!erased' OR "status"::text <> 'INACTIVE' OR "deleted_at" IS NULL)"#.into(),
         params![user, anon.as_str(), t]),
    ];
    for (table, column, rule, sql, p) in steps {
        let rows = tx.execute(&sql, &p).await?;
        rules.push(Rule {
            table: table.into(),
            column: column.into(),
            rule: rule.into(),
            rows,
        });
    }
    for r in sweep::redact_everywhere(tx, &terms).await? {
        rules.push(Rule {
            table: r.table,
            column: r.column,
            rule: if r.nulled { "nulled" } else { "redacted" }.into(),
            rows: r.rows,
        });
    }
    Ok((rules, terms))
}

async fn backups_holding(tx: &mut Tx, t: NaiveDateTime, days: i64) -> Result<Vec<BackupHolding>> {
    #[derive(Deserialize)]
    struct Snapshot {
        id: Uuid,
        created_at: NaiveDateTime,
        path: String,
        verified: bool,
    }
    let rows: Vec<Snapshot> = tx
        .query_as(
            r#"SELECT "id", "created_at", "path", "verified" FROM "BackupSnapshot" WHERE "created_at" <= $1 ORDER BY "created_at", "id""#,
            &params![t],
        )
        .await?;
    // Backup pruning keeps backups younger than the retention period and the newest verified one.
    let mut newest_verified = None;
    for r in &rows {
        if r.verified {
            newest_verified = Some(r.id);
        }
    }
    let mut out = Vec::new();
    for r in rows {
        let id = r.id;
        let created = r.created_at;
        let expires = created + chrono::Duration::days(days);
        let newest = Some(id) == newest_verified;
        if expires > t || newest {
            out.push(BackupHolding {
                id,
                created_at: created,
                expires_at: expires,
                path: r.path,
                verified: r.verified,
                kept_as_newest_verified: newest,
            });
        }
    }
    Ok(out)
}

/// Runs the erasure in the database, as the operator of this connection: checks, rules, sweep,
/// receipt and audit entries all happen in `ncy_gdpr_erase()`, in `tx`.
async fn erase_in_database(
    tx: &mut Tx,
    op: &Operator,
    request_id: Uuid,
    confirm: &str,
    opts: &ErasureOptions,
) -> Result<Receipt> {
    let days = i32::try_from(opts.backup_retention_days)
        .ok()
        .filter(|d| *d >= 0)
        .ok_or_else(|| {
            Error::invalid(
                "backup retention days",
                format!("{} is not a number of days", opts.backup_retention_days),
            )
        })?;
    #[derive(Deserialize)]
    struct Erased {
        receipt: Option<serde_json::Value>,
    }
    let row: Erased = tx
        .query_one_as(
            "SELECT ncy_gdpr_erase($1, $2, $3::integer, $4) AS receipt",
            &params![request_id, confirm, i64::from(days), op.user_agent()],
        )
        .await
        .map_err(|e| definer_error(e, "erasure", "ncy_gdpr_erase"))?;
    let receipt = row
        .receipt
        .ok_or_else(|| Error::db("ncy_gdpr_erase returned no receipt"))?;
    serde_json::from_value(receipt).map_err(|e| Error::db(format!("erasure receipt: {e}")))
}

/// Erases the subject of an ERASURE (or platform `DELETE`) request. `confirm` must repeat the
/// subject's email; for a subject already anonymized, the former email may be given to sweep
/// for it again. Commits only when the sweep is clean; the receipt is stored on the request.
///
/// On an operator's own PostgreSQL login the database performs it, through the checked
/// `ncy_gdpr_erase()` (migration 0018): the role may not write the tables an erasure touches.
/// The schema owner, other PostgreSQL roles and the local workspace apply the rules here.
pub async fn erase(
    db: &Db,
    op: &Operator,
    request_id: Uuid,
    confirm: &str,
    opts: &ErasureOptions,
    work: Work<'_>,
) -> Result<ErasureOutcome> {
    op.require(perm::GDPR_HANDLE)?;
    let mut tx = db.begin().await?;
    let in_database = operator_login(&mut tx).await?;
    // The checks below run here too, for the same answers on every path; through the definer
    // the database repeats them (it is the authority) and locks the request itself: an operator
    // role with gdpr.handle may only be able to read it (SYSTEM).
    let r = if in_database {
        request::load(&mut tx, request_id).await?
    } else {
        request::lock(&mut tx, request_id).await?
    };
    if r.kind != RequestKind::Erasure {
        return Err(Error::conflict(
            "type",
            format!(
                "request {request_id} is a {} request; erase works on ERASURE requests",
                r.kind.as_str()
            ),
        ));
    }
    if r.state == RequestState::Rejected {
        return Err(Error::conflict(
            "status",
            format!("request {request_id} was rejected; nothing is erased"),
        ));
    }
    request::require_verified(&r)?;
    let user = r.user_id.ok_or_else(|| {
        Error::conflict(
            "user",
            format!("request {request_id} has no subject any more"),
        )
    })?;
    let subject: Subject = subject::by_id(&mut tx, user).await?;
    let confirm = confirm.trim();
    let former = if subject.anonymized {
        if confirm.eq_ignore_ascii_case(&subject.email) {
            None
        } else if confirm.contains('@') {
            Some(confirm.to_lowercase())
        } else {
            return Err(Error::invalid(
                "confirm",
                "type the subject's email (or its former email) to confirm",
            ));
        }
    } else if confirm.eq_ignore_ascii_case(&subject.email) {
        Some(subject.email.to_lowercase())
    } else {
        return Err(Error::invalid(
            "confirm",
            "does not match the subject's email; type the subject's email exactly to confirm the erasure",
        ));
    };
    if let Some(why) = blockers(&mut tx, user).await? {
        return Err(Error::conflict(
            "erasure",
            format!("erasure refused: {why}"),
        ));
    }
    work.report("erase", 0, 1);
    if in_database {
        work.check()?;
        let receipt = erase_in_database(&mut tx, op, request_id, confirm, opts).await?;
        for (phase, total) in [("erase", 1), ("sweep", receipt.sweep.tables_scanned)] {
            work.report(phase, total, total);
        }
        let request = request::load(&mut tx, request_id).await?;
        tx.commit().await?;
        return Ok(ErasureOutcome { receipt, request });
    }
    let t = now();
    let (rules, terms) = apply_rules(&mut tx, user, former.as_deref(), t).await?;
    work.report("erase", 1, 1);
    let sweep = sweep::sweep_in(&mut tx, &terms, work).await?;
    if !sweep.clean {
        let at = sweep
            .hits
            .iter()
            .map(|h| format!("{}.{} ({} rows)", h.table, h.column, h.rows))
            .collect::<Vec<_>>()
            .join(", ");
        tx.rollback().await?;
        return Err(Error::conflict(
            "erasure",
            format!("erasure not committed: the sweep still finds the subject in {at}; nothing was changed. Add a rule for these columns, then retry"),
        ));
    }
    let rows_changed = rules.iter().map(|r| r.rows).sum();
    let files = rules
        .iter()
        .find(|r| r.table == "File")
        .map(|r| r.rows)
        .unwrap_or(0);
    let mut notes = vec!["Offline caches drop the subject's data at their next pull.".to_owned()];
    if files > 0 {
        notes.push(format!("{files} stored file object(s) referenced by File.storage_path must be removed from file storage."));
    }
    let receipt = Receipt {
        request_id,
        subject_id: user,
        erased_at: t,
        handler_id: op.user_id,
        already_anonymized: subject.anonymized,
        rules,
        rows_changed,
        sweep,
        backups_holding_data: backups_holding(&mut tx, t, opts.backup_retention_days).await?,
        backup_retention_days: opts.backup_retention_days,
        notes,
        previous: r.receipt.clone(),
    };
    let receipt_json =
        serde_json::to_value(&receipt).map_err(|e| Error::db(format!("receipt: {e}")))?;
    let status = if r.state == RequestState::Completed {
        "COMPLETED"
    } else {
        "IN_PROGRESS"
    };
    tx.execute(
        r#"UPDATE "GdprRequest" SET "receipt" = $2, "handler_id" = $3, "status" = $4::"GdprRequestStatus", "updated_at" = $5 WHERE "id" = $1"#,
        &params![request_id, receipt_json, op.user_id, status, t],
    )
    .await?;
    let summary = json!({
        "request_id": request_id, "rules": receipt.rules.len(), "rows_changed": rows_changed,
        "sweep_clean": receipt.sweep.clean, "backups_holding_data": receipt.backups_holding_data.len(),
    });
    let aid = audit::record(
        &mut tx,
        op,
        Entry {
            action: "GDPR_ERASE",
            table: "User",
            target_id: Some(user),
            old: None,
            new: Some(summary.clone()),
        },
    )
    .await?;
    // The event about the subject is kept like every other row about them: no agent, no address.
    tx.execute(
        r#"UPDATE "AuditLog" SET "user_agent" = NULL, "ip_address" = NULL WHERE "id" = $1"#,
        &params![aid],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "GDPR_ERASE",
            table: "GdprRequest",
            target_id: Some(request_id),
            old: None,
            new: Some(summary),
        },
    )
    .await?;
    let request = request::load(&mut tx, request_id).await?;
    tx.commit().await?;
    Ok(ErasureOutcome { receipt, request })
}
