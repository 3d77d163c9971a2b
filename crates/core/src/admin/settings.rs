//! Global settings (the Settings table with `user_id` NULL): read by anyone logged in, changed
//! with `settings.write`, every change audited. Known keys are validated.

use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Tx};
use crate::error::{Error, Result};
use crate::params;

/// A known setting: key, description, and the accepted range for numbers.
pub struct Known {
    pub key: &'static str,
    pub description: &'static str,
    pub min: i64,
    pub max: i64,
}

/// Settings the product itself reads.
pub const KNOWN: &[Known] = &[
    Known {
        key: "auth.lockout.max_failures",
        description: "failed logins before an account is locked",
        min: 1,
        max: 100,
    },
    Known {
        key: "auth.lockout.minutes",
        description: "minutes an account stays locked",
        min: 1,
        max: 24 * 60,
    },
    Known {
        key: "auth.session.hours",
        description: "lifetime of an operator session in hours",
        min: 1,
        max: 24 * 30,
    },
];

/// One setting.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Setting {
    pub key: String,
    pub value: serde_json::Value,
    pub description: Option<String>,
}

/// Reads a global setting inside a transaction (no permission needed: used by login).
pub async fn read(tx: &mut Tx, key: &str) -> Result<Option<serde_json::Value>> {
    let r = tx
        .query_opt(
            r#"SELECT "value" FROM "Settings" WHERE "user_id" IS NULL AND "key" = $1"#,
            &params![key],
        )
        .await?;
    match r {
        Some(r) => r.opt_json("value"),
        None => Ok(None),
    }
}

/// Lists global settings, known ones first with their descriptions.
pub async fn list(db: &Db, _op: &Operator) -> Result<Vec<Setting>> {
    let mut tx = db.begin().await?;
    let rows = tx
        .query(
            r#"SELECT "key", "value" FROM "Settings" WHERE "user_id" IS NULL ORDER BY "key""#,
            &[],
        )
        .await?;
    tx.rollback().await?;
    let mut out: Vec<Setting> = Vec::new();
    for k in KNOWN {
        let v = rows
            .iter()
            .find(|r| r.text("key").map(|x| x == k.key).unwrap_or(false));
        out.push(Setting {
            key: k.key.into(),
            value: match v {
                Some(r) => r.opt_json("value")?.unwrap_or(serde_json::Value::Null),
                None => serde_json::Value::Null,
            },
            description: Some(k.description.into()),
        });
    }
    for r in &rows {
        let key = r.text("key")?;
        if !KNOWN.iter().any(|k| k.key == key) {
            out.push(Setting {
                key,
                value: r.opt_json("value")?.unwrap_or(serde_json::Value::Null),
                description: None,
            });
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
    if let Some(k) = KNOWN.iter().find(|k| k.key == key) {
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
    Ok(Setting {
        description: KNOWN
            .iter()
            .find(|k| k.key == key)
            .map(|k| k.description.into()),
        key,
        value,
    })
}
