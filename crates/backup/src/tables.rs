//! Per-table restore (`backup restore ID --table Task --into DB`): the backup is restored into
//! a new temporary database as usual, every table not asked for is then dropped there (with
//! the foreign keys pointing at them), and the database is renamed to DB only once complete.
//! The live database is never touched table by table; the plan says beforehand what will be
//! created or replaced and how many rows each table brings.

use std::collections::BTreeMap;

use ncy_core::{Error, Result};
use serde::Serialize;
use sqlx::{Connection as _, PgConnection, PgPool};

use crate::counts::{self, sql_err};
use crate::snapshot::Snapshot;

/// One table a restore brings, with its rows at backup time.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlannedTable {
    /// `schema.table`.
    pub table: String,
    pub rows: Option<i64>,
}

/// What a restore will do, shown before it runs.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RestorePlan {
    /// The database (or file) restored into.
    pub into: String,
    /// `create` (new) or `replace` (exists; needs force; dropped once the restore succeeded).
    pub action: String,
    /// The tables the target will hold, with their rows at backup time.
    pub tables: Vec<PlannedTable>,
    /// Tables of the backup left out (per-table restore).
    pub left_out: u64,
    /// Total rows at backup time of the tables restored.
    pub rows: i64,
    /// Whether the restore can run as asked: a target that exists needs `force`, and the
    /// login must be able to create databases.
    pub allowed: bool,
    /// What else to know (left-out tables' foreign keys, a missing force).
    pub notes: Vec<String>,
}

/// Resolves `--table` names against the backup's tables: `schema.table` exactly, or a bare
/// name in any schema when unambiguous. Returns `schema.table` keys.
pub(crate) fn resolve(counts: &BTreeMap<String, i64>, asked: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = vec![];
    for a in asked {
        let a = a.trim();
        let hits: Vec<&String> = if counts.contains_key(a) {
            counts.keys().filter(|k| k.as_str() == a).collect()
        } else {
            counts
                .keys()
                .filter(|k| k.split_once('.').map(|(_, t)| t) == Some(a))
                .collect()
        };
        match hits.as_slice() {
            [one] => {
                if !out.contains(one) {
                    out.push((*one).clone());
                }
            }
            [] => {
                let names: Vec<&str> = counts
                    .keys()
                    .map(|k| k.split_once('.').map_or(k.as_str(), |(_, t)| t))
                    .collect();
                return Err(Error::invalid(
                    "table",
                    format!(
                        "{a:?} is not a table of this backup; its tables are: {}",
                        names.join(", ")
                    ),
                ));
            }
            many => {
                let names: Vec<&str> = many.iter().map(|k| k.as_str()).collect();
                return Err(Error::invalid(
                    "table",
                    format!(
                        "{a:?} is ambiguous: name one of {} with its schema",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The plan of restoring `snap` (its recorded counts) into `into`.
pub(crate) fn plan(
    snap: Option<&Snapshot>,
    asked: &[String],
    into: &str,
    exists: bool,
    force: bool,
) -> Result<RestorePlan> {
    let empty = BTreeMap::new();
    let counts = snap.and_then(|s| s.table_counts.as_ref());
    if !asked.is_empty() && counts.is_none() {
        return Err(Error::invalid(
            "table",
            "this backup has no recorded table list, so it can only be restored whole",
        ));
    }
    let all = counts.unwrap_or(&empty);
    let chosen = if asked.is_empty() {
        all.keys().cloned().collect()
    } else {
        resolve(all, asked)?
    };
    let tables: Vec<PlannedTable> = chosen
        .iter()
        .map(|t| PlannedTable {
            table: t.clone(),
            rows: all.get(t).copied(),
        })
        .collect();
    let mut notes = vec![];
    if !asked.is_empty() {
        notes.push("only these tables are kept: the others are restored then dropped in the new database, with the foreign keys pointing at them".into());
    }
    if exists && !force {
        notes.push(format!(
            "{into} exists: it is replaced only when asked to (force), and dropped only once the restore has succeeded"
        ));
    }
    Ok(RestorePlan {
        into: into.to_owned(),
        action: if exists { "replace" } else { "create" }.into(),
        rows: tables.iter().filter_map(|t| t.rows).sum(),
        left_out: (all.len().saturating_sub(tables.len())) as u64,
        tables,
        allowed: !exists || force,
        notes,
    })
}

/// Drops every table of database `name` that is not in `keep` (CASCADE: foreign keys of kept
/// tables pointing at them go too), in one transaction.
pub(crate) async fn keep_only(pool: &PgPool, name: &str, keep: &[String]) -> Result<()> {
    let opts = (*pool.connect_options()).clone().database(name);
    let mut c = PgConnection::connect_with(&opts).await.map_err(sql_err)?;
    let r = async {
        let tables = counts::pg_tables(&mut c).await?;
        let drop: Vec<String> = tables
            .iter()
            .filter(|(s, t)| !keep.contains(&format!("{s}.{t}")))
            .map(|(s, t)| format!("{}.{}", qi(s), qi(t)))
            .collect();
        if drop.is_empty() {
            return Ok(());
        }
        let mut tx = c.begin().await.map_err(sql_err)?;
        sqlx::query(&format!("DROP TABLE {} CASCADE", drop.join(", ")))
            .execute(&mut *tx)
            .await
            .map_err(sql_err)?;
        tx.commit().await.map_err(sql_err)
    }
    .await;
    let _ = c.close().await;
    r
}

fn qi(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_resolve_or_say_what_exists() {
        let counts: BTreeMap<String, i64> = [
            ("public.Task".to_string(), 5),
            ("public.User".to_string(), 3),
            ("audit.User".to_string(), 1),
        ]
        .into();
        assert_eq!(
            resolve(&counts, &["Task".into(), "public.Task".into()]).unwrap(),
            vec!["public.Task"]
        );
        assert_eq!(
            resolve(&counts, &["audit.User".into()]).unwrap(),
            vec!["audit.User"]
        );
        let e = resolve(&counts, &["User".into()]).unwrap_err();
        assert!(e.to_string().contains("ambiguous"), "{e}");
        let e = resolve(&counts, &["Nope".into()]).unwrap_err();
        assert!(
            e.to_string().contains("its tables are: User, Task, User"),
            "{e}"
        );
    }
}
