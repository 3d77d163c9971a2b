//! Reading the slice's current rows from the server (in the pull's snapshot).

use ncy_core::db::{Row, Tx, Value};
use ncy_core::{Error, Result};

use super::Key;
use crate::copy::TextRow;
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

/// Refetches the current slice rows of `table` with the given keys from the server.
pub(crate) async fn refetch(
    stx: &mut Tx,
    slice: &Slice,
    table: &Table,
    keys: &[Key],
) -> Result<Vec<TextRow>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(5000) {
        let (cond, params) = if table.key.len() == 1 {
            (
                r#"t."id" = ANY($1::uuid[])"#.to_owned(),
                vec![Value::TextArray(
                    chunk.iter().map(|k| k[0].clone()).collect(),
                )],
            )
        } else {
            (
                r#"(t."team_id", t."user_id") IN (SELECT a, b FROM unnest($1::uuid[], $2::uuid[]) AS x(a, b))"#
                    .to_owned(),
                vec![
                    Value::TextArray(chunk.iter().map(|k| k[0].clone()).collect()),
                    Value::TextArray(chunk.iter().map(|k| k[1].clone()).collect()),
                ],
            )
        };
        let sql = format!("{} AND {cond}", table.select_slice(slice));
        for r in stx.query(&sql, &params).await? {
            out.push(text_row(&r)?);
        }
    }
    Ok(out)
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
