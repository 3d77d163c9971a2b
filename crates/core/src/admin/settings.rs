//! Global settings (the Settings table with `user_id` NULL): read by anyone logged in, changed
//! with `settings.write`, every change audited. Known keys are validated.

use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Tx};
use crate::error::{Error, Result};
use crate::params;

/// A known setting: key, description, the accepted range and the value used when unset.
pub struct Known {
    pub key: &'static str,
    pub description: &'static str,
    pub min: i64,
    pub max: i64,
    pub default: i64,
}

/// Failed logins before an account is locked.
pub const LOCKOUT_MAX_FAILURES: &str = "auth.lockout.max_failures";
/// Minutes an account stays locked.
pub const LOCKOUT_MINUTES: &str = "auth.lockout.minutes";
/// Lifetime of an operator session in hours.
pub const SESSION_HOURS: &str = "auth.session.hours";

/// Hours after which the newest verified backup counts as too old (`backup check`, `backup
/// list`, the health report).
pub const BACKUP_MAX_AGE_HOURS: &str = "backups.max_age_hours";

/// Bulk task edits over this many rows count as a bulk edit for `approvals.required`.
pub const APPROVALS_BULK_MIN_ROWS: &str = "approvals.bulk_min_rows";

/// The actions that need a second operator's approval: a JSON array of [`APPROVAL_ACTIONS`].
pub const APPROVALS_REQUIRED: &str = "approvals.required";

/// The actions `approvals.required` may name.
pub const APPROVAL_ACTIONS: &[&str] = &[
    "gdpr.erase",
    "orgs.delete",
    "users.delete",
    "backups.restore_over",
    "tasks.bulk_update",
];

/// Validates an `approvals.required` value: an array of known action names.
pub fn check_approvals(v: &serde_json::Value) -> Result<()> {
    let fix = format!(
        r#"must be a JSON array of actions, e.g. ["gdpr.erase", "orgs.delete"]; known: {}"#,
        APPROVAL_ACTIONS.join(", ")
    );
    let items = v
        .as_array()
        .ok_or_else(|| Error::invalid(APPROVALS_REQUIRED, fix.clone()))?;
    for i in items {
        match i.as_str() {
            Some(a) if APPROVAL_ACTIONS.contains(&a) => {}
            _ => {
                return Err(Error::invalid(
                    APPROVALS_REQUIRED,
                    format!("{i} is not an action that can need approval; {fix}"),
                ))
            }
        }
    }
    Ok(())
}

/// Settings the product itself reads.
pub const KNOWN: &[Known] = &[
    Known {
        key: LOCKOUT_MAX_FAILURES,
        description: "failed logins before an account is locked",
        min: 1,
        max: 100,
        default: 5,
    },
    Known {
        key: LOCKOUT_MINUTES,
        description: "minutes an account stays locked",
        min: 1,
        max: 24 * 60,
        default: 15,
    },
    Known {
        key: SESSION_HOURS,
        description: "lifetime of an operator session in hours",
        min: 1,
        max: 24 * 30,
        default: 12,
    },
    Known {
        key: BACKUP_MAX_AGE_HOURS,
        description:
            "hours after which the newest verified backup is too old (backup check exits 10)",
        min: 1,
        max: 24 * 366,
        default: 26,
    },
    Known {
        key: APPROVALS_BULK_MIN_ROWS,
        description: "a bulk task edit of at least this many rows needs approval when approvals.required names tasks.bulk_update",
        min: 1,
        max: 1_000_000,
        default: 100,
    },
];

/// The GDPR retention policy (a JSON object of windows; crates/gdpr reads it).
pub const RETENTION: &str = "gdpr.retention";

/// The audit log keeps at least this many days, whatever the policy says (the database refuses
/// to delete younger rows too).
pub const MIN_AUDIT_DAYS: i64 = 30;

/// Validates a `gdpr.retention` value: an object of whole, non-negative numbers of days (or
/// years), with `audit_log_days` at least [`MIN_AUDIT_DAYS`].
pub fn check_retention(v: &serde_json::Value) -> Result<()> {
    let m = v.as_object().ok_or_else(|| {
        Error::invalid(
            RETENTION,
            r#"must be a JSON object, e.g. {"audit_log_days": 365, "access_log_days": 90}"#,
        )
    })?;
    for (k, n) in m {
        let n = n
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::invalid(RETENTION, format!("{k} must be a whole number >= 0")))?;
        if k == "audit_log_days" && n < MIN_AUDIT_DAYS {
            return Err(Error::invalid(
                RETENTION,
                format!("audit_log_days must be at least {MIN_AUDIT_DAYS}: the audit log always keeps the last {MIN_AUDIT_DAYS} days"),
            ));
        }
    }
    Ok(())
}

/// The known setting `key`, if it is one.
pub fn known(key: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.key == key)
}

/// The default of the known setting `key` (1 for an unknown key).
pub fn default_of(key: &str) -> i64 {
    known(key).map(|k| k.default).unwrap_or(1)
}

/// One setting: its value (`null` when unset) and, for known keys, what it means, its range
/// and the value used while it is unset.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Setting {
    pub key: String,
    pub value: serde_json::Value,
    pub description: Option<String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub default: Option<i64>,
}

impl Setting {
    fn new(key: String, value: serde_json::Value) -> Self {
        let k = known(&key);
        Setting {
            description: k.map(|k| k.description.into()),
            min: k.map(|k| k.min),
            max: k.map(|k| k.max),
            default: k.map(|k| k.default),
            key,
            value,
        }
    }
}

/// Reads a global setting inside a transaction (no permission needed: used by login).
pub async fn read(tx: &mut Tx, key: &str) -> Result<Option<serde_json::Value>> {
    let value: Option<Option<serde_json::Value>> = tx
        .query_opt_as(
            r#"SELECT "value" FROM "Settings" WHERE "user_id" IS NULL AND "key" = $1"#,
            &params![key],
        )
        .await?;
    Ok(value.flatten())
}

/// Lists global settings, known ones first with their descriptions.
pub async fn list(db: &Db, _op: &Operator) -> Result<Vec<Setting>> {
    let mut tx = db.begin_read().await?;
    let rows: Vec<(String, Option<serde_json::Value>)> = tx
        .query_as(
            r#"SELECT "key", "value" FROM "Settings" WHERE "user_id" IS NULL ORDER BY "key""#,
            &[],
        )
        .await?;
    tx.rollback().await?;
    let mut out: Vec<Setting> = Vec::new();
    for k in KNOWN {
        let value = rows
            .iter()
            .find(|(key, _)| key == k.key)
            .and_then(|(_, v)| v.clone())
            .unwrap_or(serde_json::Value::Null);
        out.push(Setting::new(k.key.into(), value));
    }
    for (key, value) in rows {
        if known(&key).is_none() {
            out.push(Setting::new(key, value.unwrap_or(serde_json::Value::Null)));
        }
    }
    Ok(out)
}

/// Sets a global setting (value as JSON text or a plain number/string), audited.
pub async fn set(db: &Db, op: &Operator, key: &str, value: &str) -> Result<Setting> {
    op.require(perm::SETTINGS_WRITE)?;
    let key = super::validate::text("key", key, 100)?;
    let value: serde_json::Value =
        serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
    if let Some(k) = known(&key) {
        let n = value
            .as_i64()
            .ok_or_else(|| Error::invalid(&key, "must be a whole number"))?;
        if n < k.min || n > k.max {
            return Err(Error::invalid(
                &key,
                format!("must be between {} and {}", k.min, k.max),
            ));
        }
    }
    if key == RETENTION {
        check_retention(&value)?;
    }
    if key == APPROVALS_REQUIRED {
        check_approvals(&value)?;
    }
    let mut tx = db.begin().await?;
    let old = read(&mut tx, &key).await?;
    let t0 = now();
    if old.is_some() {
        tx.execute(r#"UPDATE "Settings" SET "value" = $2, "updated_at" = $3 WHERE "user_id" IS NULL AND "key" = $1"#, &params![key.as_str(), value.clone(), t0]).await?;
    } else {
        tx.execute(
            r#"INSERT INTO "Settings" ("id", "user_id", "key", "value", "created_at", "updated_at") VALUES ($1, NULL, $2, $3, $4, $4)"#,
            &params![Uuid::new_v4(), key.as_str(), value.clone(), t0],
        )
        .await?;
    }
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "SETTING_SET",
            table: "Settings",
            target_id: None,
            old: Some(serde_json::json!({ key.clone(): old })),
            new: Some(serde_json::json!({ key.clone(): value.clone() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Setting::new(key, value))
}

/// Removes a global setting so its default applies again, audited; a conflict when it is not
/// set.
pub async fn reset(db: &Db, op: &Operator, key: &str) -> Result<Setting> {
    op.require(perm::SETTINGS_WRITE)?;
    let key = super::validate::text("key", key, 100)?;
    let mut tx = db.begin().await?;
    let Some(old) = read(&mut tx, &key).await? else {
        let uses = match known(&key) {
            Some(k) => format!("it already uses its default, {}", k.default),
            None => "there is nothing to reset".into(),
        };
        return Err(Error::conflict(
            &key,
            format!("setting {key} is not set: {uses}"),
        ));
    };
    tx.execute(
        r#"DELETE FROM "Settings" WHERE "user_id" IS NULL AND "key" = $1"#,
        &params![key.as_str()],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "SETTING_RESET",
            table: "Settings",
            target_id: None,
            old: Some(serde_json::json!({ key.clone(): old })),
            new: Some(serde_json::json!({ key.clone(): null })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Setting::new(key, serde_json::Value::Null))
}
