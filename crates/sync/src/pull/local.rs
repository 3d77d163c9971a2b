//! Reading and writing the cache rows a pull touches.

use std::collections::{BTreeMap, BTreeSet};

use ncy_core::db::Tx;
use ncy_core::{Error, Result};
use rusqlite::types::ValueRef;

use super::Key;
use crate::copy::TextRow;
use crate::initial::store_rows;
use crate::tables::{self, Table};

/// Cache rows by key, as [`local_rows`] reads them: the synced columns as text.
pub(super) type LocalRows = BTreeMap<Key, TextRow>;

/// The two key lookups of `table`'s cache rows, selecting the synced columns after the rowid:
/// by the key's rowid and id (`?1`, `?2`; only for [`Table::keyed_rowid`] tables), and by the
/// key's columns (`?1..`).
///
/// A row stored under its key's rowid (`tables::key_rowid`) is read by one descent of the
/// table; one stored otherwise (an older cache, a rowid collision, a row made offline) is
/// found through the key's index.
struct Lookup<'c> {
    table: &'c Table,
    by_rowid: Option<rusqlite::CachedStatement<'c>>,
    by_key: rusqlite::CachedStatement<'c>,
}

impl<'c> Lookup<'c> {
    fn prepare(conn: &'c rusqlite::Connection, table: &'c Table) -> rusqlite::Result<Self> {
        let cols: Vec<String> = table
            .cols
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        let by_key = conn.prepare_cached(&format!(
            r#"SELECT rowid, {} FROM "{}" WHERE {}"#,
            cols.join(", "),
            table.name,
            table.key_cond()
        ))?;
        let by_rowid = if table.keyed_rowid() {
            Some(conn.prepare_cached(&format!(
                r#"SELECT rowid, {} FROM "{}" WHERE rowid = ?1 AND "id" = ?2"#,
                cols.join(", "),
                table.name
            ))?)
        } else {
            None
        };
        Ok(Lookup {
            table,
            by_rowid,
            by_key,
        })
    }

    /// Finds the cache row with key `key` and hands it to `f` (column 0 is the rowid, then
    /// the synced columns).
    fn find<T>(
        &mut self,
        key: &[&str],
        mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let err = read_err(self.table);
        if let (Some(st), Some(rowid)) = (
            self.by_rowid.as_mut(),
            key.first().and_then(|id| tables::key_rowid(id)),
        ) {
            let mut rows = st.query(rusqlite::params![rowid, key[0]]).map_err(&err)?;
            if let Some(r) = rows.next().map_err(&err)? {
                return f(r).map(Some);
            }
        }
        let mut rows = self
            .by_key
            .query(rusqlite::params_from_iter(key.iter()))
            .map_err(&err)?;
        match rows.next().map_err(&err)? {
            Some(r) => f(r).map(Some),
            None => Ok(None),
        }
    }
}

/// The error of a failed cache read of `table`.
fn read_err(table: &Table) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::db(format!("reading {} from the cache: {e}", table.name))
}

/// A cache value as the text the server sends for it.
fn text_of(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(v) => Some(v.to_string()),
        ValueRef::Real(v) => Some(v.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

/// Whether a cache value is the text `new` (as [`text_of`] would give it), without a copy;
/// `buf` is scratch space for numbers.
fn same_value(v: ValueRef<'_>, new: Option<&str>, buf: &mut String) -> bool {
    use std::fmt::Write;
    match (v, new) {
        (ValueRef::Null, None) => true,
        (ValueRef::Null, Some(_)) | (_, None) => false,
        (ValueRef::Text(t) | ValueRef::Blob(t), Some(s)) => t == s.as_bytes(),
        (ValueRef::Integer(i), Some(s)) => {
            buf.clear();
            let _ = write!(buf, "{i}");
            buf == s
        }
        (ValueRef::Real(f), Some(s)) => {
            buf.clear();
            let _ = write!(buf, "{f}");
            buf == s
        }
    }
}

/// A row's key as text, in key order.
fn key_strs<'r>(key_at: &[usize], row: &'r TextRow) -> Vec<&'r str> {
    key_at
        .iter()
        .map(|&i| row[i].as_deref().unwrap_or_default())
        .collect()
}

/// Local rows of `table` with the given keys (the synced columns, as text), by key: one
/// prepared key lookup per key, read straight into text rows.
pub(super) fn local_rows(ltx: &mut Tx, table: &Table, keys: &[Key]) -> Result<LocalRows> {
    let n = table.cols.len();
    let err = read_err(table);
    ltx.with_sqlite_conn(|conn| {
        let mut lookup = Lookup::prepare(conn, table).map_err(&err)?;
        let mut out = BTreeMap::new();
        for k in keys {
            let key: Vec<&str> = k.iter().map(String::as_str).collect();
            let found = lookup.find(&key, |r| {
                (1..=n)
                    .map(|i| r.get_ref(i).map(text_of).map_err(&err))
                    .collect::<Result<TextRow>>()
            })?;
            if let Some(row) = found {
                out.insert(k.clone(), row);
            }
        }
        Ok(out)
    })
}

/// What [`merge_rows`] found in the cache for one row the server sent.
pub(super) enum Found {
    /// No cache row had its key: the row was inserted.
    New,
    /// A cache row whose watched columns held what the server sent.
    Same,
    /// A cache row whose watched columns differed: its user columns as they were.
    Changed(Vec<Option<String>>),
}

/// Which columns [`merge_rows`] watches: a change to any of `watch` is reported with the old
/// values of `users` (column positions).
pub(super) struct Watch<'a> {
    pub watch: &'a [usize],
    pub users: &'a [usize],
}

/// Merges rows the server sent into the cache, each read and written in one pass, in place:
/// - a row the cache lacks is inserted;
/// - a known row gets an UPDATE of the columns that differ (so untouched indexes stay
///   untouched), by the rowid it was just read at (no second key lookup);
/// - an identical row is left alone.
///
/// The cache row is compared where SQLite holds it, not copied. Returns the rows written
/// and what the cache held for each row.
pub(super) fn merge_rows(
    ltx: &mut Tx,
    table: &Table,
    rows: &[TextRow],
    w: &Watch<'_>,
) -> Result<(u64, Vec<Found>)> {
    let key_at = table.key_positions();
    let n = table.cols.len();
    let mut fresh = Vec::new();
    let mut found = Vec::with_capacity(rows.len());
    let mut written = 0;
    let err = read_err(table);
    ltx.with_sqlite_conn(|conn| {
        let mut lookup = Lookup::prepare(conn, table).map_err(&err)?;
        let mut buf = String::new();
        let mut differ: Vec<usize> = Vec::with_capacity(n);
        for r in rows {
            differ.clear();
            let key = key_strs(&key_at, r);
            let hit = lookup.find(&key, |old| {
                for (i, new) in r.iter().enumerate() {
                    if !same_value(old.get_ref(i + 1).map_err(&err)?, new.as_deref(), &mut buf) {
                        differ.push(i);
                    }
                }
                let watched = differ.iter().any(|i| w.watch.contains(i));
                let users = if watched {
                    Some(
                        w.users
                            .iter()
                            .map(|&i| old.get_ref(i + 1).map(text_of).map_err(&err))
                            .collect::<Result<Vec<_>>>()?,
                    )
                } else {
                    None
                };
                Ok((old.get::<_, i64>(0).map_err(&err)?, users))
            })?;
            let Some((rowid, users)) = hit else {
                fresh.push(r.clone());
                found.push(Found::New);
                continue;
            };
            found.push(match users {
                Some(u) => Found::Changed(u),
                None => Found::Same,
            });
            if !differ.is_empty() {
                update_cols(conn, table, rowid, r, &differ)?;
                written += 1;
            }
        }
        Ok(())
    })?;
    if !fresh.is_empty() {
        store_rows(ltx, table, &fresh)?;
    }
    Ok((written + fresh.len() as u64, found))
}

/// Writes the columns `cols` of `row` over the cache row at `rowid`.
fn update_cols(
    conn: &rusqlite::Connection,
    table: &Table,
    rowid: i64,
    row: &TextRow,
    cols: &[usize],
) -> Result<()> {
    let sets: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(n, &i)| format!("\"{}\" = ?{}", table.cols[i].name, n + 1))
        .collect();
    let sql = format!(
        r#"UPDATE "{}" SET {} WHERE rowid = ?{}"#,
        table.name,
        sets.join(", "),
        cols.len() + 1
    );
    let mut params: Vec<&dyn rusqlite::ToSql> = cols
        .iter()
        .map(|&i| &row[i] as &dyn rusqlite::ToSql)
        .collect();
    params.push(&rowid);
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.execute(params.as_slice()))
        .map_err(|e| Error::db(format!("updating {} in the cache: {e}", table.name)))?;
    Ok(())
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
