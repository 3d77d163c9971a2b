//! Writing AuditLog rows: the operator, the action, the target, and the old/new values of the
//! changed fields only, with secrets redacted. Always called inside the mutation's transaction.

use serde_json::{Map, Value as J};
use uuid::Uuid;

use crate::auth::Operator;
use crate::db::{now, Tx};
use crate::error::Result;
use crate::params;

/// Field names whose values never reach the audit log.
pub const SECRET_FIELDS: &[&str] = &[
    "password_hash",
    "key_hash",
    "refresh_token",
    "password",
    "token",
    "key",
];

/// Replaces secret fields' values with `"[redacted]"`.
pub fn redact(mut v: J) -> J {
    if let J::Object(m) = &mut v {
        for (k, val) in m.iter_mut() {
            if SECRET_FIELDS.contains(&k.as_str()) && !val.is_null() {
                *val = J::String("[redacted]".into());
            }
        }
    }
    v
}

/// Keeps only the fields whose values differ between `old` and `new` (both JSON objects).
pub fn diff(old: &J, new: &J) -> (J, J) {
    let (mut o, mut n) = (Map::new(), Map::new());
    let empty = Map::new();
    let om = old.as_object().unwrap_or(&empty);
    let nm = new.as_object().unwrap_or(&empty);
    for (k, nv) in nm {
        let ov = om.get(k).unwrap_or(&J::Null);
        if ov != nv {
            o.insert(k.clone(), ov.clone());
            n.insert(k.clone(), nv.clone());
        }
    }
    (redact(J::Object(o)), redact(J::Object(n)))
}

/// One audit entry about to be written.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub table: &'a str,
    pub target_id: Option<Uuid>,
    pub old: Option<J>,
    pub new: Option<J>,
}

/// Writes one AuditLog row as `op` inside `tx`.
pub async fn record(tx: &mut Tx, op: &Operator, e: Entry<'_>) -> Result<Uuid> {
    record_as(tx, Some(op.user_id), &op.user_agent(), e).await
}

/// Writes one AuditLog row for an actor that may not be an operator (e.g. failed logins).
pub async fn record_as(
    tx: &mut Tx,
    actor: Option<Uuid>,
    user_agent: &str,
    e: Entry<'_>,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    tx.execute(
        r#"INSERT INTO "AuditLog" ("id", "user_id", "action", "target_table", "target_id", "old_value", "new_value", "user_agent", "created_at")
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
        &params![
            id,
            actor,
            e.action,
            e.table,
            e.target_id,
            e.old.map(redact),
            e.new.map(redact),
            user_agent,
            now()
        ],
    )
    .await?;
    Ok(id)
}

/// Writes many AuditLog rows as `op` with multi-row INSERTs (bulk operations).
pub async fn record_many(tx: &mut Tx, op: &Operator, entries: Vec<Entry<'_>>) -> Result<u64> {
    let ua = op.user_agent();
    let at = now();
    let mut n = 0;
    for chunk in entries.chunks(300) {
        let mut sql = String::from(
            r#"INSERT INTO "AuditLog" ("id", "user_id", "action", "target_table", "target_id", "old_value", "new_value", "user_agent", "created_at") VALUES "#,
        );
        let mut params: Vec<crate::db::Value> = Vec::with_capacity(chunk.len() * 9);
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let b = i * 9;
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
            params.extend(params![
                Uuid::new_v4(),
                op.user_id,
                e.action,
                e.table,
                e.target_id,
                e.old.clone().map(redact),
                e.new.clone().map(redact),
                ua.as_str(),
                at
            ]);
        }
        n += tx.execute(&sql, &params).await?;
    }
    Ok(n)
}

/// Records an update with only the changed fields of `old` → `new`. Writes nothing and
/// returns `false` when nothing changed.
pub async fn record_change(
    tx: &mut Tx,
    op: &Operator,
    action: &str,
    table: &str,
    target_id: Uuid,
    old: &J,
    new: &J,
) -> Result<bool> {
    let (o, n) = diff(old, new);
    if n.as_object().map(|m| m.is_empty()).unwrap_or(true) {
        return Ok(false);
    }
    record(
        tx,
        op,
        Entry {
            action,
            table,
            target_id: Some(target_id),
            old: Some(o),
            new: Some(n),
        },
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_keeps_changed_fields_and_redacts_secrets() {
        let (o, n) = diff(
            &json!({"email": "a@x", "role": "ADMIN", "password_hash": "h1"}),
            &json!({"email": "b@x", "role": "ADMIN", "password_hash": "h2"}),
        );
        assert_eq!(o, json!({"email": "a@x", "password_hash": "[redacted]"}));
        assert_eq!(n, json!({"email": "b@x", "password_hash": "[redacted]"}));
    }
}
