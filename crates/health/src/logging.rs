//! Slow-query logging: the current `log_min_duration_statement` / `log_statement`, and the
//! audited action that sets them with `ALTER SYSTEM` + `pg_reload_conf()`.

use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::Db;
use ncy_core::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::guard::{read_one_as, write_tx, LOCK_TIMEOUT, STATEMENT_TIMEOUT};

/// Values of `log_statement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum LogStatement {
    None,
    Ddl,
    Mod,
    All,
}

impl LogStatement {
    /// The server's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatement::None => "none",
            LogStatement::Ddl => "ddl",
            LogStatement::Mod => "mod",
            LogStatement::All => "all",
        }
    }

    /// Parses `none|ddl|mod|all`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(LogStatement::None),
            "ddl" => Ok(LogStatement::Ddl),
            "mod" => Ok(LogStatement::Mod),
            "all" => Ok(LogStatement::All),
            _ => Err(Error::invalid(
                "log_statement",
                format!("`{s}` is not one of none, ddl, mod, all"),
            )),
        }
    }
}

/// The current logging settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LoggingSettings {
    /// Statements running at least this long are logged; -1 = off, 0 = every statement.
    pub log_min_duration_statement_ms: i64,
    pub log_statement: String,
    /// Where `log_min_duration_statement` comes from (`default`, `configuration file`, ...).
    pub source: String,
    pub logging_collector: bool,
    pub log_destination: String,
}

/// The row of the logging statement.
#[derive(Deserialize)]
struct LoggingRow {
    min_ms: String,
    source: String,
    log_statement: String,
    collector: String,
    destination: String,
}

/// Reads [`LoggingSettings`].
pub(crate) async fn read(db: &Db) -> Result<LoggingSettings> {
    let r: LoggingRow = read_one_as(
        db,
        "SELECT s.setting AS min_ms, s.source,
                    current_setting('log_statement') AS log_statement,
                    current_setting('logging_collector') AS collector,
                    current_setting('log_destination') AS destination
             FROM pg_settings s WHERE s.name = 'log_min_duration_statement'",
    )
    .await?;
    let min = r.min_ms;
    Ok(LoggingSettings {
        log_min_duration_statement_ms: min
            .parse()
            .map_err(|_| Error::db(format!("log_min_duration_statement is `{min}`")))?,
        log_statement: r.log_statement,
        source: r.source,
        logging_collector: r.collector == "on",
        log_destination: r.destination,
    })
}

/// The current logging settings (`health.read`).
pub async fn current(db: &Db, op: &Operator) -> Result<LoggingSettings> {
    op.require(perm::HEALTH_READ)?;
    db.as_pg("slow-query logging")?;
    read(db).await
}

/// A requested change; `None` leaves a setting alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LoggingChange {
    pub min_duration_ms: Option<i64>,
    pub statement: Option<LogStatement>,
}

/// The outcome of [`set`].
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LoggingUpdate {
    pub before: LoggingSettings,
    pub after: LoggingSettings,
    /// Cost warnings (e.g. `log_statement = 'all'` on production).
    pub warnings: Vec<String>,
}

/// Warnings for a change that makes the server log a lot.
pub fn warnings(change: &LoggingChange) -> Vec<String> {
    let mut w = vec![];
    if change.statement == Some(LogStatement::All) {
        w.push(
            "log_statement = 'all' logs every statement: heavy on a busy production server \
             (log volume, disk I/O, secrets in statement text); prefer 'ddl' or 'mod' with \
             log_min_duration_statement, and switch it back soon"
                .into(),
        );
    }
    if change.min_duration_ms == Some(0) {
        w.push(
            "log_min_duration_statement = 0 logs the duration of every statement: as heavy as \
             log_statement = 'all'; use a threshold such as 1000 ms"
                .into(),
        );
    }
    w
}

/// Sets slow-query logging server-wide (`health.configure`, audited).
///
/// `ALTER SYSTEM` cannot run inside a transaction block, so it runs on its own connection
/// (bounded by the same timeouts), followed by `pg_reload_conf()`; the AuditLog row is written
/// right after success, in its own transaction. If that audit write failed, the error is
/// returned (naming the applied change) so the operator knows the change is unaudited.
pub async fn set(db: &Db, op: &Operator, change: &LoggingChange) -> Result<LoggingUpdate> {
    op.require(perm::HEALTH_CONFIGURE)?;
    let pool = db.as_pg("setting slow-query logging")?.pool();
    if change.min_duration_ms.is_none() && change.statement.is_none() {
        return Err(Error::invalid(
            "logging",
            "nothing to change: give a minimum duration (ms) and/or a statement level (none, ddl, mod, all)",
        ));
    }
    if let Some(ms) = change.min_duration_ms {
        if !(-1..=i32::MAX as i64).contains(&ms) {
            return Err(Error::invalid(
                "min_duration",
                "give milliseconds from 0 (log every statement) up, or -1 to turn it off",
            ));
        }
    }
    if db.pooled() {
        return Err(Error::Config(
            "changing the server's logging runs ALTER SYSTEM outside a transaction, which a \
             transaction-mode pooler (pgbouncer=true) cannot carry; use the server's direct URL"
                .into(),
        ));
    }
    let before = read(db).await?;
    let mut conn = pool.acquire().await.map_err(map_sqlx)?;
    let applied = async {
        for sql in [
            format!("SET statement_timeout = '{STATEMENT_TIMEOUT}'"),
            format!("SET lock_timeout = '{LOCK_TIMEOUT}'"),
        ] {
            sqlx::query(&sql)
                .execute(&mut *conn)
                .await
                .map_err(map_sqlx)?;
        }
        // Values are validated above (an integer, an enum): safe to inline; ALTER SYSTEM
        // accepts no bind parameters.
        if let Some(ms) = change.min_duration_ms {
            sqlx::query(&format!(
                "ALTER SYSTEM SET log_min_duration_statement = {ms}"
            ))
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        }
        if let Some(s) = change.statement {
            sqlx::query(&format!(
                "ALTER SYSTEM SET log_statement = '{}'",
                s.as_str()
            ))
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        }
        sqlx::query("SELECT pg_reload_conf()")
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        Ok::<_, Error>(())
    }
    .await;
    // Leave the pooled connection as we found it.
    for sql in ["RESET statement_timeout", "RESET lock_timeout"] {
        if sqlx::query(sql).execute(&mut *conn).await.is_err() {
            conn.close_on_drop();
        }
    }
    applied?;
    let after = LoggingSettings {
        log_min_duration_statement_ms: change
            .min_duration_ms
            .unwrap_or(before.log_min_duration_statement_ms),
        log_statement: change
            .statement
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| before.log_statement.clone()),
        source: "configuration file".into(),
        ..before.clone()
    };
    let old = json!({
        "log_min_duration_statement": before.log_min_duration_statement_ms,
        "log_statement": before.log_statement,
    });
    let new = json!({
        "log_min_duration_statement": after.log_min_duration_statement_ms,
        "log_statement": after.log_statement,
    });
    let (old, new) = audit::diff(&old, &new);
    let audited = async {
        let mut tx = write_tx(db).await?;
        audit::record(
            &mut tx,
            op,
            Entry {
                action: "health.set_logging",
                table: "pg_settings",
                target_id: None,
                old: Some(old),
                new: Some(new),
            },
        )
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = audited {
        return Err(Error::db(format!(
            "logging was changed (log_min_duration_statement = {}, log_statement = {}) but \
             the audit row could not be written: {e}",
            after.log_min_duration_statement_ms, after.log_statement
        )));
    }
    Ok(LoggingUpdate {
        before,
        after,
        warnings: warnings(change),
    })
}

fn map_sqlx(e: sqlx::Error) -> Error {
    let refused = match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("42501") => {
            Some(d.message().to_owned())
        }
        _ => None,
    };
    if let Some(reason) = refused {
        return Error::Privilege {
            what: "change server settings".into(),
            reason,
            fix: "connect as a superuser, or GRANT ALTER SYSTEM ON PARAMETER \
                  log_min_duration_statement, log_statement TO the role and GRANT EXECUTE ON \
                  FUNCTION pg_reload_conf() TO the role"
                .into(),
            source: Some(Box::new(e)),
        };
    }
    match &e {
        sqlx::Error::Database(d) => Error::db(format!(
            "{} (SQLSTATE {})",
            d.message(),
            d.code().unwrap_or_default()
        )),
        _ => Error::db(e.to_string()),
    }
}
