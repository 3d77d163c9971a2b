//! Bulk transfer: rows in with `COPY … FROM STDIN` (PostgreSQL) or one prepared INSERT
//! (SQLite), rows out with `COPY (…) TO STDOUT`.

use futures_util::StreamExt;
use sqlx::Postgres;

use super::{pg, sqlite};
use crate::error::{Error, Result};

fn collist(cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Escapes a field for PostgreSQL's COPY text format.
fn copy_field(out: &mut String, v: Option<&str>) {
    match v {
        None => out.push_str("\\N"),
        Some(s) => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
}

pub(super) async fn copy_in(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    table: &str,
    cols: &[&str],
    rows: impl Iterator<Item = Vec<Option<String>>>,
) -> Result<u64> {
    let mut copy = tx
        .copy_in_raw(&format!("COPY \"{table}\" ({}) FROM STDIN", collist(cols)))
        .await
        .map_err(pg::map_err)?;
    let mut n = 0u64;
    let mut buf = String::with_capacity(1 << 20);
    for row in rows {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                buf.push('\t');
            }
            copy_field(&mut buf, v.as_deref());
        }
        buf.push('\n');
        n += 1;
        if buf.len() > (1 << 20) {
            copy.send(std::mem::take(&mut buf).into_bytes())
                .await
                .map_err(pg::map_err)?;
            buf.reserve(1 << 20);
        }
    }
    if !buf.is_empty() {
        copy.send(buf.into_bytes()).await.map_err(pg::map_err)?;
    }
    copy.finish().await.map_err(pg::map_err)?;
    Ok(n)
}

/// SQLite's page cache during a bulk load, in KiB (`PRAGMA cache_size` takes it negative).
/// A table's indexes (a text primary key, an email) take rows in random order; with the
/// default 2 MiB cache, pages of a large index are evicted and written again and again, so a
/// load's cost grew faster than its rows (10M users: over 20 min, against 1 min for 1M).
const BULK_CACHE_KIB: i64 = 256 * 1024;

/// Restores the connection's page cache size when a bulk load ends, however it ends.
struct CacheSize<'c> {
    conn: &'c rusqlite::Connection,
    before: i64,
}

impl<'c> CacheSize<'c> {
    fn grow(conn: &'c rusqlite::Connection) -> Result<Self> {
        let before: i64 = conn
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .map_err(sqlite::map_err)?;
        // Negative is KiB, positive is pages: compare in KiB.
        let kib = if before < 0 {
            -before
        } else {
            let page: i64 = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .map_err(sqlite::map_err)?;
            before * page / 1024
        };
        if kib < BULK_CACHE_KIB {
            conn.pragma_update(None, "cache_size", -BULK_CACHE_KIB)
                .map_err(sqlite::map_err)?;
        }
        Ok(CacheSize { conn, before })
    }
}

impl Drop for CacheSize<'_> {
    fn drop(&mut self) {
        let _ = self.conn.pragma_update(None, "cache_size", self.before);
    }
}

pub(super) fn insert(
    conn: &rusqlite::Connection,
    table: &str,
    cols: &[&str],
    rows: impl Iterator<Item = Vec<Option<String>>>,
) -> Result<u64> {
    let _cache = CacheSize::grow(conn)?;
    let ph = (1..=cols.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn
        .prepare(&format!(
            "INSERT INTO \"{table}\" ({}) VALUES ({ph})",
            collist(cols)
        ))
        .map_err(sqlite::map_err)?;
    let mut n = 0u64;
    for row in rows {
        stmt.execute(rusqlite::params_from_iter(row.iter()))
            .map_err(sqlite::map_err)?;
        n += 1;
    }
    Ok(n)
}

fn copy_err(e: sqlx::Error) -> Error {
    Error::Database {
        message: format!("reading from the server (COPY): {e}"),
        source: Some(Box::new(e)),
    }
}

pub(super) async fn copy_out(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    select: &str,
    mut chunk: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let sql = format!("COPY ({select}) TO STDOUT");
    let mut stream = tx.copy_out_raw(&sql).await.map_err(copy_err)?;
    while let Some(c) = stream.next().await {
        chunk(&c.map_err(copy_err)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_size(c: &rusqlite::Connection) -> i64 {
        c.query_row("PRAGMA cache_size", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_bulk_load_grows_the_page_cache_and_gives_it_back() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT)")
            .unwrap();
        let before = cache_size(&c);
        let seen = std::cell::Cell::new(0);
        let rows = (0..3).map(|i| {
            seen.set(cache_size(&c));
            vec![Some(format!("id{i}")), None]
        });
        assert_eq!(insert(&c, "t", &["id", "v"], rows).unwrap(), 3);
        assert_eq!(seen.get(), -BULK_CACHE_KIB, "grown while loading");
        assert_eq!(cache_size(&c), before, "given back after");
        // Also after a failed load (a duplicate key).
        let dup = (0..2).map(|_| vec![Some("same".to_owned()), None]);
        assert!(insert(&c, "t", &["id", "v"], dup).is_err());
        assert_eq!(cache_size(&c), before, "given back after a failure");
    }
}
