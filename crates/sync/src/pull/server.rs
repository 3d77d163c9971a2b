//! Reading the slice's current rows from the server (in the pull's snapshot).

use ncy_core::db::{Row, Tx, Value};
use ncy_core::{Error, Result};
use uuid::Uuid;

use super::Key;
use crate::copy::{copy_batches, TextRow};
use crate::tables::{Slice, Table};

fn text_row(r: &Row) -> Result<TextRow> {
    r.values()
        .iter()
        .map(|v| match v {
            Value::Null(_) => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            Value::Uuid(u) => Ok(Some(u.to_string())),
            Value::Int(i) => Ok(Some(i.to_string())),
            other => Err(Error::db(format!(
                "unexpected value from the server: {other:?}"
            ))),
        })
        .collect()
}

pub(super) fn key_of(table: &Table, row: &TextRow) -> Key {
    table
        .key_positions()
        .iter()
        .map(|&i| row[i].clone().unwrap_or_default())
        .collect()
}

/// Refetches the current slice rows of `table` with the given keys from the server, with
/// `COPY … TO STDOUT` (the initial sync's format: text as sent, nothing decoded twice).
pub(crate) async fn refetch(
    stx: &mut Tx,
    slice: &Slice,
    table: &Table,
    keys: &[Key],
) -> Result<Vec<TextRow>> {
    let mut out = Vec::new();
    refetch_batches(stx, slice, table, keys, |b| out.extend(b)).await?;
    Ok(out)
}

/// [`refetch`], handing the rows on in batches as the server sends them.
pub(crate) async fn refetch_batches(
    stx: &mut Tx,
    slice: &Slice,
    table: &Table,
    keys: &[Key],
    mut batch: impl FnMut(Vec<TextRow>),
) -> Result<()> {
    for chunk in keys.chunks(5000) {
        let cond = if table.key.len() == 1 {
            format!(r#"t."id" = ANY({})"#, uuid_array(chunk, 0)?)
        } else {
            format!(
                r#"(t."team_id", t."user_id") IN (SELECT a, b FROM unnest({}, {}) AS x(a, b))"#,
                uuid_array(chunk, 0)?,
                uuid_array(chunk, 1)?
            )
        };
        let sql = format!("{} AND {cond}", table.select_slice(slice));
        copy_batches(stx, &sql, table.cols.len(), &mut batch).await?;
    }
    Ok(())
}

/// The current slice rows of `table` (keyed by `"id"`) that the change feed names since the
/// cursor `w` (a checked snapshot literal): the refetch of those keys and the feed's read in one
/// statement, so that the rows start coming before the feed is read. The feed's ids are an
/// array evaluated once, so each row is still one key lookup.
pub(super) fn changed_rows_sql(slice: &Slice, table: &Table, w: &str) -> String {
    // Every table's row ids, not only this table's: a `table_name` filter here made the
    // planner scan the whole change table while its statistics were stale (after a bulk
    // load), and an id that belongs to another table matches no row of this one.
    let feed = |cond: &str| format!(r#"SELECT "row_id" FROM "SyncChange" WHERE {cond}"#);
    format!(
        r#"{} AND t."id" = ANY(ARRAY({} UNION ALL {}))"#,
        table.select_slice(slice),
        feed(&format!(r#""xid" >= pg_snapshot_xmax('{w}'::pg_snapshot)"#)),
        feed(&format!(
            r#""xid" = ANY(ARRAY(SELECT pg_snapshot_xip('{w}'::pg_snapshot)))"#
        )),
    )
}

/// Part `i` of the keys as a `uuid[]` literal; every value is checked as a UUID before it is
/// inlined.
fn uuid_array(keys: &[Key], i: usize) -> Result<String> {
    let ids = keys
        .iter()
        .map(|k| {
            let v = k.get(i).map(String::as_str).unwrap_or_default();
            Uuid::parse_str(v).map(|u| u.to_string()).map_err(|_| {
                Error::db(format!(
                    "the change feed names a row {v:?} that is not a UUID"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(format!("'{{{}}}'::uuid[]", ids.join(",")))
}

/// Fetches the slice rows of `table` whose `col` is one of `ids` (children of entered parents).
pub(super) async fn fetch_children(
    stx: &mut Tx,
    slice: &Slice,
    table: &Table,
    col: &str,
    ids: &[String],
) -> Result<Vec<TextRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        r#"{} AND t."{col}" = ANY($1::uuid[])"#,
        table.select_slice(slice)
    );
    stx.query(&sql, &[Value::TextArray(ids.to_vec())])
        .await?
        .iter()
        .map(text_row)
        .collect()
}
