//! The most expensive statements from pg_stat_statements (PostgreSQL 13+ column names
//! `total_exec_time` / `mean_exec_time`), and the audited reset action.

use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{Db, Tx};
use ncy_core::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::guard::{one, privilege, read_rows, read_tx, write_tx};

/// One statement of the top list (times in milliseconds).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TopStatement {
    pub queryid: Option<String>,
    /// Normalised text (constants replaced by `$N`), cut to 2 000 characters.
    pub query: String,
    pub calls: i64,
    pub total_exec_time_ms: f64,
    pub mean_exec_time_ms: f64,
    pub rows: i64,
    /// Share of the total execution time of all tracked statements, in percent.
    pub percent_of_total: f64,
    pub user: Option<String>,
    pub database: Option<String>,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
}

/// The top list, or a note saying why it is unavailable and how to enable it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TopStatements {
    /// False when pg_stat_statements is not installed or not preloaded.
    pub available: bool,
    pub extension_version: Option<String>,
    /// How to enable the extension, when unavailable.
    pub note: Option<String>,
    /// True when statements of every database are listed, else the connected one only.
    pub all_databases: bool,
    pub statements: Vec<TopStatement>,
}

/// Where pg_stat_statements stands in a database: loaded by the server (it is in
/// `shared_preload_libraries`, which shows as its `pg_stat_statements.max` setting, readable
/// without privileges) and created there (`CREATE EXTENSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    pub loaded: bool,
    pub created: bool,
}

/// How to enable pg_stat_statements, for what is missing: a managed PostgreSQL usually loads it
/// and only needs `CREATE EXTENSION`, which needs no restart.
pub fn enable_note(database: &str, a: Availability) -> String {
    match (a.loaded, a.created) {
        (true, false) => format!(
            "pg_stat_statements is loaded by the server but not created in database {database}: \
             run CREATE EXTENSION pg_stat_statements; in that database (no restart needed; on a \
             managed PostgreSQL, as the database owner or from the provider's console)"
        ),
        (false, true) => format!(
            "pg_stat_statements is created in database {database} but the server has not \
             loaded it: add it to shared_preload_libraries in postgresql.conf \
             (shared_preload_libraries = 'pg_stat_statements'), then restart PostgreSQL"
        ),
        _ => format!(
            "pg_stat_statements is not available in database {database}: the server does not \
             load it. Add it to shared_preload_libraries in postgresql.conf \
             (shared_preload_libraries = 'pg_stat_statements', then restart PostgreSQL), and \
             run CREATE EXTENSION pg_stat_statements; in that database"
        ),
    }
}

/// Whether pg_stat_statements is created (its version) and loaded, in which database.
#[derive(Deserialize)]
struct Installed {
    v: Option<String>,
    db: String,
    loaded: bool,
}

async fn installed(tx: &mut Tx) -> Result<(Option<String>, String, bool)> {
    let Installed { v, db, loaded } = tx
        .query_one_as(
            "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS v,
                    current_database()::text AS db,
                    EXISTS (SELECT 1 FROM pg_settings WHERE name = 'pg_stat_statements.max') AS loaded",
            &[],
        )
        .await?;
    Ok((v, db, loaded))
}

/// The extension's version, on every row of the top-list statement (NULL: not created).
#[derive(Deserialize)]
struct Version {
    v: Option<String>,
}

/// The call count of a row of the top-list statement (NULL on the one row of the outer join
/// when no statement is tracked).
#[derive(Deserialize)]
struct Calls {
    calls: Option<i64>,
}

/// A statement of the top list.
#[derive(Deserialize)]
struct StatementRow {
    queryid: Option<String>,
    query: Option<String>,
    calls: i64,
    total_ms: Option<f64>,
    mean_ms: Option<f64>,
    rows: i64,
    pct: Option<f64>,
    usr: Option<String>,
    dbname: Option<String>,
    shared_blks_hit: i64,
    shared_blks_read: i64,
}

/// Reads the top `limit` statements by total execution time (no permission check: used by
/// the report, which checks `health.read`). One statement when the extension is there; only
/// when it fails is the extension's state looked up, for the note saying how to enable it.
pub(crate) async fn read_top(db: &Db, limit: i64, all_databases: bool) -> Result<TopStatements> {
    let unavailable = |note: String| TopStatements {
        available: false,
        extension_version: None,
        note: Some(note),
        all_databases,
        statements: vec![],
    };
    let sql = |total: &str, mean: &str| {
        format!(
            "SELECT i.v, i.db, top.*
             FROM (SELECT (SELECT extversion FROM pg_extension
                           WHERE extname = 'pg_stat_statements') AS v,
                          current_database()::text AS db) i
             LEFT JOIN LATERAL (
                 SELECT s.queryid::text AS queryid, left(s.query, 2000) AS query, s.calls,
                        {total}::float8 AS total_ms, {mean}::float8 AS mean_ms, s.rows,
                        (100 * {total} / nullif(sum({total}) OVER (), 0))::float8 AS pct,
                        r.rolname::text AS usr, d.datname::text AS dbname,
                        s.shared_blks_hit, s.shared_blks_read
                 FROM pg_stat_statements s
                 LEFT JOIN pg_roles r ON r.oid = s.userid
                 LEFT JOIN pg_database d ON d.oid = s.dbid
                 WHERE {all_databases}
                    OR s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                 ORDER BY {total} DESC
                 LIMIT {limit}) top ON true
             ORDER BY top.total_ms DESC NULLS LAST"
        )
    };
    let mut read = read_rows(db, &sql("s.total_exec_time", "s.mean_exec_time")).await;
    // Before PostgreSQL 13 the columns were total_time / mean_time (the seed's names).
    if matches!(&read, Err(e) if e.to_string().contains("total_exec_time")) {
        read = read_rows(db, &sql("s.total_time", "s.mean_time")).await;
    }
    let rows = match read {
        Ok(r) => r,
        // Not created here (no such relation), installed but not preloaded ("pg_stat_statements
        // must be loaded via shared_preload_libraries"), or another failure: the extension's
        // state, read afresh, decides which.
        Err(e) => {
            let mut tx = read_tx(db).await?;
            let (version, database, loaded) = installed(&mut tx).await?;
            tx.commit().await?;
            let a = if e.to_string().contains("shared_preload_libraries") {
                Availability {
                    loaded: false,
                    created: true,
                }
            } else if version.is_none() {
                Availability {
                    loaded,
                    created: false,
                }
            } else {
                return Err(e);
            };
            return Ok(unavailable(enable_note(&database, a)));
        }
    };
    let Some(version) = one(&rows)?.decode::<Version>()?.v else {
        // A relation of that name, but not the extension.
        let mut tx = read_tx(db).await?;
        let (_, database, loaded) = installed(&mut tx).await?;
        tx.commit().await?;
        return Ok(unavailable(enable_note(
            &database,
            Availability {
                loaded,
                created: false,
            },
        )));
    };
    let mut statements = Vec::with_capacity(rows.len());
    // No statement: the one row of the outer join, without a call count.
    for r in &rows {
        if r.decode::<Calls>()?.calls.is_none() {
            continue;
        }
        let s: StatementRow = r.decode()?;
        statements.push(TopStatement {
            queryid: s.queryid,
            query: s.query.unwrap_or_default(),
            calls: s.calls,
            total_exec_time_ms: s.total_ms.unwrap_or(0.0),
            mean_exec_time_ms: s.mean_ms.unwrap_or(0.0),
            rows: s.rows,
            percent_of_total: s.pct.unwrap_or(0.0),
            user: s.usr,
            database: s.dbname,
            shared_blks_hit: s.shared_blks_hit,
            shared_blks_read: s.shared_blks_read,
        });
    }
    Ok(TopStatements {
        available: true,
        extension_version: Some(version),
        note: None,
        all_databases,
        statements,
    })
}

/// The top `limit` statements by total execution time (`health.read`).
pub async fn top(db: &Db, op: &Operator, limit: i64, all_databases: bool) -> Result<TopStatements> {
    op.require(perm::HEALTH_READ)?;
    db.as_pg("pg_stat_statements")?;
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "give a number from 1 to 1000"));
    }
    read_top(db, limit, all_databases).await
}

/// What a reset cleared.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ResetResult {
    /// Statements tracked (server-wide) before the reset.
    pub statements_cleared: i64,
}

/// Clears pg_stat_statements on the server (`health.configure`, audited in the same
/// transaction: the audit row is written first, so a failed reset leaves no audit row).
pub async fn reset(db: &Db, op: &Operator) -> Result<ResetResult> {
    op.require(perm::HEALTH_CONFIGURE)?;
    db.as_pg("resetting pg_stat_statements")?;
    let mut tx = write_tx(db).await?;
    let (version, database, loaded) = installed(&mut tx).await?;
    if version.is_none() {
        return Err(Error::invalid(
            "pg_stat_statements",
            enable_note(
                &database,
                Availability {
                    loaded,
                    created: false,
                },
            ),
        ));
    }
    #[derive(Deserialize)]
    struct Tracked {
        n: i64,
    }
    let Tracked { n } = tx
        .query_one_as("SELECT count(*)::int8 AS n FROM pg_stat_statements", &[])
        .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "health.statements_reset",
            table: "pg_stat_statements",
            target_id: None,
            old: Some(json!({ "statements": n })),
            new: Some(json!({ "statements": 0 })),
        },
    )
    .await?;
    tx.execute("SELECT pg_stat_statements_reset()", &[])
        .await
        .map_err(|e| {
            privilege(
                e,
                "reset pg_stat_statements",
                "connect as a superuser or GRANT EXECUTE ON FUNCTION pg_stat_statements_reset TO the role",
            )
        })?;
    tx.commit().await?;
    Ok(ResetResult {
        statements_cleared: n,
    })
}
