//! Reading and writing the cache rows a pull touches.

use std::collections::{BTreeMap, BTreeSet};

use ncy_core::db::Tx;
use ncy_core::{Error, Result};
use rusqlite::types::ValueRef;

use super::server::key_of;
use super::Key;
use crate::copy::TextRow;
use crate::initial::store_rows;
use crate::tables::{self, Table};

/// A cache row as read before a pull writes it: its rowid (valid until the transaction ends)
/// and its synced columns as text.
pub(super) type LocalRow = (i64, TextRow);

/// Cache rows by key, as [`local_rows`] reads them.
pub(super) type LocalRows = BTreeMap<Key, LocalRow>;

/// Local rows of `table` with the given keys (the synced columns, as text), by key: one
/// prepared key lookup per key, read straight into text rows.
pub(super) fn local_rows(ltx: &mut Tx, table: &Table, keys: &[Key]) -> Result<LocalRows> {
    let cols: Vec<String> = table
        .cols
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    let cond: Vec<String> = table
        .key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("\"{k}\" = ?{}", i + 1))
        .collect();
    let sql = format!(
        r#"SELECT rowid, {} FROM "{}" WHERE {}"#,
        cols.join(", "),
        table.name,
        cond.join(" AND ")
    );
    // A row stored under its key's rowid (`tables::key_rowid`) is read by one descent of the
    // table; one stored otherwise (an older cache, a rowid collision, a row made offline) is
    // found through the key's index.
    let by_rowid = format!(
        r#"SELECT rowid, {} FROM "{}" WHERE rowid = ?1 AND "id" = ?2"#,
        cols.join(", "),
        table.name
    );
    let n = table.cols.len();
    let err = |e: rusqlite::Error| Error::db(format!("reading {} from the cache: {e}", table.name));
    let read = |rows: &mut rusqlite::Rows<'_>| -> Result<Option<LocalRow>> {
        let Some(r) = rows.next().map_err(err)? else {
            return Ok(None);
        };
        let rowid: i64 = r.get(0).map_err(err)?;
        let mut row: TextRow = Vec::with_capacity(n);
        for i in 1..=n {
            row.push(match r.get_ref(i).map_err(err)? {
                ValueRef::Null => None,
                ValueRef::Integer(v) => Some(v.to_string()),
                ValueRef::Real(v) => Some(v.to_string()),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Some(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
        Ok(Some((rowid, row)))
    };
    ltx.with_sqlite_conn(|conn| {
        let mut stmt = conn.prepare_cached(&sql).map_err(err)?;
        let mut direct = if table.keyed_rowid() {
            Some(conn.prepare_cached(&by_rowid).map_err(err)?)
        } else {
            None
        };
        let mut out = BTreeMap::new();
        for k in keys {
            let mut found = None;
            if let (Some(st), Some(rowid)) = (
                direct.as_mut(),
                k.first().and_then(|id| tables::key_rowid(id)),
            ) {
                found = read(&mut st.query(rusqlite::params![rowid, k[0]]).map_err(err)?)?;
            }
            if found.is_none() {
                found = read(
                    &mut stmt
                        .query(rusqlite::params_from_iter(k.iter()))
                        .map_err(err)?,
                )?;
            }
            if let Some(f) = found {
                out.insert(k.clone(), f);
            }
        }
        Ok(out)
    })
}

/// Which of `ids` the cache's `table` holds (keyed by `id`): one statement that only probes the
/// key's index (no row is read), for the users a pull's rows refer to.
pub(super) fn cached_ids(
    ltx: &mut Tx,
    table: &Table,
    ids: &BTreeSet<String>,
) -> Result<BTreeSet<String>> {
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let json = serde_json::to_string(ids).map_err(|e| Error::db(e.to_string()))?;
    let sql = format!(
        r#"SELECT "id" FROM "{}" WHERE "id" IN (SELECT value FROM json_each(?1))"#,
        table.name
    );
    let err = |e: rusqlite::Error| Error::db(format!("reading {} from the cache: {e}", table.name));
    ltx.with_sqlite_conn(|conn| {
        let mut stmt = conn.prepare_cached(&sql).map_err(err)?;
        let rows = stmt
            .query_map([json], |r| r.get::<_, String>(0))
            .map_err(err)?;
        rows.collect::<std::result::Result<BTreeSet<_>, _>>()
            .map_err(err)
    })
}

/// Writes refetched rows: new rows are inserted, known rows get an UPDATE of the columns that
/// differ (so untouched indexes stay untouched), found by the rowid read with them (no second
/// key lookup), identical rows are skipped. Returns the rows written.
pub(super) fn store_changed(
    ltx: &mut Tx,
    table: &Table,
    rows: &[TextRow],
    before: &LocalRows,
) -> Result<u64> {
    let mut fresh = Vec::new();
    let mut n = 0;
    ltx.with_sqlite_conn(|conn| {
        for r in rows {
            let Some((rowid, old)) = before.get(&key_of(table, r)) else {
                fresh.push(r.clone());
                continue;
            };
            let mut sets = Vec::new();
            let mut vals: Vec<Option<String>> = Vec::new();
            for (i, c) in table.cols.iter().enumerate() {
                if old[i] != r[i] {
                    vals.push(r[i].clone());
                    sets.push(format!("\"{}\" = ?{}", c.name, vals.len()));
                }
            }
            if sets.is_empty() {
                continue;
            }
            let sql = format!(
                r#"UPDATE "{}" SET {} WHERE rowid = ?{}"#,
                table.name,
                sets.join(", "),
                vals.len() + 1
            );
            let mut params: Vec<&dyn rusqlite::ToSql> =
                vals.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
            params.push(rowid);
            conn.prepare_cached(&sql)
                .and_then(|mut st| st.execute(params.as_slice()))
                .map_err(|e| Error::db(format!("updating {} in the cache: {e}", table.name)))?;
            n += 1;
        }
        Ok(())
    })?;
    if !fresh.is_empty() {
        store_rows(ltx, table, &fresh)?;
    }
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
