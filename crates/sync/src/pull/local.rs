//! Reading and writing the cache rows a pull touches.

use std::collections::BTreeMap;

use ncy_core::db::{Tx, Value};
use ncy_core::{Error, Result};

use super::server::key_of;
use super::Key;
use crate::copy::TextRow;
use crate::initial::store_rows;
use crate::tables::Table;

/// Local rows of `table` with the given keys, as JSON objects keyed by the joined key.
pub(super) async fn local_rows(
    ltx: &mut Tx,
    table: &Table,
    keys: &[Key],
) -> Result<BTreeMap<Key, serde_json::Value>> {
    let mut out = BTreeMap::new();
    let key_expr = table
        .key
        .iter()
        .map(|k| format!("t.\"{k}\""))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    for chunk in keys.chunks(5000) {
        let list: Vec<String> = chunk.iter().map(|k| k.join("|")).collect();
        let json = serde_json::to_string(&list).map_err(|e| Error::db(e.to_string()))?;
        // The key list drives the loop (CROSS JOIN keeps that order), probing the key index.
        let sql = format!(
            r#"SELECT t.* FROM json_each($1) AS j CROSS JOIN "{}" AS t WHERE {key_expr} = j.value"#,
            table.name
        );
        for r in ltx.query(&sql, &[Value::Text(json)]).await? {
            let j = r.to_json();
            let k: Key = table
                .key
                .iter()
                .map(|c| {
                    j.get(*c)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            out.insert(k, j);
        }
    }
    Ok(out)
}

/// Writes refetched rows: new rows are inserted, known rows get an UPDATE of the columns that
/// differ (so untouched indexes stay untouched), identical rows are skipped. Returns the rows
/// written.
pub(super) fn store_changed(
    ltx: &mut Tx,
    table: &Table,
    rows: &[TextRow],
    before: &BTreeMap<Key, serde_json::Value>,
) -> Result<u64> {
    let mut fresh = Vec::new();
    let mut n = 0;
    ltx.with_sqlite_conn(|conn| {
        for r in rows {
            let Some(old) = before.get(&key_of(table, r)) else {
                fresh.push(r.clone());
                continue;
            };
            let mut sets = Vec::new();
            let mut vals: Vec<Option<String>> = Vec::new();
            for (i, c) in table.cols.iter().enumerate() {
                let was = old.get(c.name).and_then(|v| v.as_str()).map(str::to_owned);
                if was != r[i] {
                    vals.push(r[i].clone());
                    sets.push(format!("\"{}\" = ?{}", c.name, vals.len()));
                }
            }
            if sets.is_empty() {
                continue;
            }
            let mut conds = Vec::new();
            for (k, i) in table.key.iter().zip(table.key_positions()) {
                vals.push(r[i].clone());
                conds.push(format!("\"{k}\" = ?{}", vals.len()));
            }
            let sql = format!(
                r#"UPDATE "{}" SET {} WHERE {}"#,
                table.name,
                sets.join(", "),
                conds.join(" AND ")
            );
            conn.prepare_cached(&sql)
                .and_then(|mut st| st.execute(rusqlite::params_from_iter(vals.iter())))
                .map_err(|e| Error::db(format!("updating {} in the cache: {e}", table.name)))?;
            n += 1;
        }
        Ok(())
    })?;
    store_rows(ltx, table, &fresh)?;
    Ok(n + fresh.len() as u64)
}

pub(super) fn delete_local(ltx: &mut Tx, table: &Table, keys: &[Key]) -> Result<u64> {
    ltx.with_sqlite_conn(|conn| {
        let mut stmt = conn
            .prepare_cached(&table.delete_sql())
            .map_err(|e| Error::db(e.to_string()))?;
        let mut n = 0;
        for k in keys {
            n += stmt
                .execute(rusqlite::params_from_iter(k.iter()))
                .map_err(|e| Error::db(e.to_string()))? as u64;
        }
        Ok(n)
    })
}
