//! Reading the slice's current rows from the server (in the pull's snapshot).

use ncy_core::db::{Row, Tx, Value};
use ncy_core::{Error, Result};
use uuid::Uuid;

use super::Key;
use crate::copy::{copy_rows, TextRow};
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
        out.extend(copy_rows(stx, &sql, table.cols.len()).await?);
    }
    Ok(out)
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
