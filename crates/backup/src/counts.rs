//! Exact per-table row counts (taken inside the dump's snapshot, and after a test restore) and
//! their comparison.

use std::collections::{BTreeMap, BTreeSet};

use ncy_core::{Error, Result};
use sqlx::{PgConnection, Row as _};

use crate::TableCheck;

/// Tables whose data pg_dump writes: ordinary and partition tables outside the system schemas,
/// not owned by an extension. Keys are `schema.table`.
pub(crate) async fn pg_tables(conn: &mut PgConnection) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        r#"SELECT n.nspname::text AS s, c.relname::text AS t
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r'
             AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                               AND d.deptype = 'e')
           ORDER BY 1, 2"#,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(sql_err)?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("s").map_err(sql_err)?,
                r.try_get("t").map_err(sql_err)?,
            ))
        })
        .collect()
}

fn qi(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `count(*)` of every table in one statement (one snapshot when run inside one).
pub(crate) async fn pg_counts(
    conn: &mut PgConnection,
    tables: &[(String, String)],
) -> Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    // A few hundred sub-selects per statement keeps the statement reasonable.
    for chunk in tables.chunks(200) {
        let cols: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, (s, t))| format!("(SELECT count(*) FROM {}.{}) AS c{i}", qi(s), qi(t)))
            .collect();
        let row = sqlx::query(&format!("SELECT {}", cols.join(", ")))
            .fetch_one(&mut *conn)
            .await
            .map_err(sql_err)?;
        for (i, (s, t)) in chunk.iter().enumerate() {
            let n: i64 = row.try_get(i).map_err(sql_err)?;
            out.insert(format!("{s}.{t}"), n);
        }
    }
    Ok(out)
}

/// Tables of a SQLite database (its own bookkeeping tables excluded).
pub(crate) fn sqlite_counts(conn: &rusqlite::Connection) -> Result<BTreeMap<String, i64>> {
    let err = |e: rusqlite::Error| Error::db(format!("counting rows: {e}"));
    let names: Vec<String> = {
        let mut st = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            )
            .map_err(err)?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(err)?
    };
    let mut out = BTreeMap::new();
    for n in names {
        let c: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {}", qi(&n)), [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        out.insert(n, c);
    }
    Ok(out)
}

/// Compares counts table by table (tables present on only one side fail).
pub(crate) fn compare(
    expected: Option<&BTreeMap<String, i64>>,
    actual: &BTreeMap<String, i64>,
) -> Vec<TableCheck> {
    let empty = BTreeMap::new();
    let exp = expected.unwrap_or(&empty);
    let keys: BTreeSet<&String> = exp.keys().chain(actual.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let e = exp.get(k).copied();
            let a = actual.get(k).copied();
            TableCheck {
                table: k.clone(),
                expected: e,
                actual: a,
                ok: expected.is_none() || e == a,
            }
        })
        .collect()
}

pub(crate) fn sql_err(e: sqlx::Error) -> Error {
    let message = match &e {
        sqlx::Error::Database(d) => d.message().to_owned(),
        other => other.to_string(),
    };
    Error::Database {
        message,
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_flags_differences_and_missing_tables() {
        let e: BTreeMap<String, i64> = [("a".into(), 1), ("b".into(), 2)].into();
        let a: BTreeMap<String, i64> = [("a".into(), 1), ("c".into(), 0)].into();
        let r = compare(Some(&e), &a);
        let ok: Vec<(&str, bool)> = r.iter().map(|t| (t.table.as_str(), t.ok)).collect();
        assert_eq!(ok, vec![("a", true), ("b", false), ("c", false)]);
        assert!(compare(None, &a).iter().all(|t| t.ok));
    }
}
