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

pub(super) fn insert(
    conn: &rusqlite::Connection,
    table: &str,
    cols: &[&str],
    rows: impl Iterator<Item = Vec<Option<String>>>,
) -> Result<u64> {
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
