//! Bounded transactions: every health query runs under a statement and lock timeout so that a
//! busy or stuck production server cannot hang the caller or pile up behind a lock.

use ncy_core::db::{pg_map_err, Db, Protocol, Row, Tx};
use ncy_core::{Error, Result};
use serde::de::DeserializeOwned;

/// Upper bound of any single health query.
pub const STATEMENT_TIMEOUT: &str = "5s";
/// Upper bound of any lock wait in a health query.
pub const LOCK_TIMEOUT: &str = "1s";

// The transaction starts with its limits in one round trip: sqlx sends a custom BEGIN as one
// simple-protocol message, which may hold several statements (also through a transaction-mode
// pooler: they form one transaction).
fn begin_sql(read_only: bool) -> String {
    format!(
        "BEGIN{}; SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'; \
         SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'",
        if read_only { " READ ONLY" } else { "" }
    )
}

async fn bounded(db: &Db, read_only: bool) -> Result<Tx> {
    match db.pg() {
        Some(pg) => Ok(Tx::from_pg(
            pg.pool()
                .begin_with(begin_sql(read_only))
                .await
                .map_err(pg_map_err)?,
            pg.protocol(),
        )),
        None => db.begin().await,
    }
}

/// A read-only transaction with the timeouts set (SQLite: a plain transaction).
pub async fn read_tx(db: &Db) -> Result<Tx> {
    bounded(db, true).await
}

/// Health statements in flight at once in this process. A report reads its dozen sections at
/// the same time; each on a pooled connection of its own, a report touched a dozen backends, and
/// the pool hands a section a different one from one report to the next, so for the first dozen
/// reports most sections ran on a backend that had yet to fill its catalog caches and plan that
/// statement. Four at a time keep the report on about four connections (two cores are busy with
/// four statements), which are soon warm for every statement (BENCHMARKS.md, issue 17).
pub const IN_FLIGHT_MAX: usize = 4;

static IN_FLIGHT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(IN_FLIGHT_MAX);

/// Runs one read-only statement (no parameters) under the timeouts.
///
/// On a direct connection ([`Protocol::Prepared`]) the statement is prepared once per pooled
/// connection and its plan kept (sqlx's statement cache; a statement without parameters gets
/// PostgreSQL's generic plan at once): three round trips (`BEGIN READ ONLY` with the limits,
/// the statement, `COMMIT`) and no planning, where planning the catalog statements cost more
/// than the round trips (BENCHMARKS.md, issue 17). An error drops the transaction, which sqlx
/// rolls back before the connection goes back to the pool.
///
/// Through a transaction-mode pooler ([`Protocol::Simple`]) no statement may outlive its
/// transaction on the shared server connection: the settings and the statement go as one
/// script, one round trip and one implicit transaction (an error rolls it back whole),
/// planned each time.
pub(crate) async fn read_rows(db: &Db, sql: &str) -> Result<Vec<Row>> {
    // Closed only if the static semaphore were closed, which nothing does.
    let _permit = IN_FLIGHT
        .acquire()
        .await
        .map_err(|_| Error::db("the health reader is shutting down"))?;
    match db.pg().map(|pg| pg.protocol()) {
        None => db.query(sql, &[]).await,
        Some(Protocol::Prepared) => {
            let mut tx = read_tx(db).await?;
            let rows = tx.query(sql, &[]).await?;
            tx.commit().await?;
            Ok(rows)
        }
        Some(Protocol::Simple) => {
            db.query_script(&format!(
                "SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'; \
                 SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; {sql}"
            ))
            .await
        }
    }
}

/// The one row a statement returns ("query returned no row" when none).
pub(crate) fn one(rows: &[Row]) -> Result<&Row> {
    rows.first()
        .ok_or_else(|| Error::db("query returned no row"))
}

/// [`read_rows`], the one row it returns decoded into `T` (see `Row::decode`).
pub(crate) async fn read_one_as<T: DeserializeOwned>(db: &Db, sql: &str) -> Result<T> {
    one(&read_rows(db, sql).await?)?.decode()
}

/// A read-write transaction with the timeouts set, for the audited actions.
pub async fn write_tx(db: &Db) -> Result<Tx> {
    bounded(db, false).await
}

/// Turns the server's "permission denied" (SQLSTATE 42501) into [`Error::Privilege`], which
/// names what the connected database role may not do and how to grant it, and keeps the
/// server's refusal as its source.
pub fn privilege(e: Error, what: &str, fix: &str) -> Error {
    match e {
        Error::Database { message, source } if message.contains("SQLSTATE 42501") => {
            Error::Privilege {
                what: what.into(),
                reason: message,
                fix: fix.into(),
                source,
            }
        }
        e => e,
    }
}
