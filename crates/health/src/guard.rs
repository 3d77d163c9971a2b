//! Bounded transactions: every health query runs under a statement and lock timeout so that a
//! busy or stuck production server cannot hang the caller or pile up behind a lock.

use ncy_core::db::{pg_map_err, Db, PgDb, Protocol, Row, Tx};
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

/// Health statements in flight at once in this process, and the size of the health
/// [`reader`]. A report reads its dozen sections at the same time; four at a time keep two
/// cores busy, and keep the report's statements on four connections, which are soon warm for
/// every statement (BENCHMARKS.md, issue 17).
pub const IN_FLIGHT_MAX: usize = 4;

static IN_FLIGHT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(IN_FLIGHT_MAX);

/// How long an idle connection of the health reader ([`reader`]) is kept: long enough for a
/// screen that refreshes the report, short enough not to hold server connections for nothing.
pub const READER_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// The health reader of a direct connection: a pool of its own beside the store's, of at most
/// [`IN_FLIGHT_MAX`] connections (fewer if the store allows fewer), same server, role and TLS,
/// whose sessions are made read-only with the timeouts set as each connects
/// (`default_transaction_read_only`, `statement_timeout`, `lock_timeout`), closed after
/// [`READER_IDLE`] idle. Every health statement runs on it as its own implicit transaction:
/// one round trip instead of three (`BEGIN READ ONLY` with the limits, the statement,
/// `COMMIT`), and only these few connections plan and keep the statements' plans, so a report
/// from a fresh pool is soon as fast as a warm one (BENCHMARKS.md, issue 17). The settings are
/// the server's session defaults, so they hold whatever the statement is and cannot be undone
/// by it short of a `SET` (health statements are fixed catalog reads).
pub fn reader(pg: &PgDb) -> &Db {
    // Set by one message once connected (not as startup options, which a session-mode
    // PgBouncer refuses).
    static READER_SESSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SET default_transaction_read_only = on; \
             SET statement_timeout = '{STATEMENT_TIMEOUT}'; SET lock_timeout = '{LOCK_TIMEOUT}'"
        )
    });
    pg.side(|main| {
        let max = main.options().get_max_connections();
        sqlx::postgres::PgPoolOptions::new()
            .max_connections((IN_FLIGHT_MAX as u32).min(max).max(1))
            .acquire_timeout(main.options().get_acquire_timeout())
            .idle_timeout(READER_IDLE)
            .after_connect(|conn: &mut sqlx::PgConnection, _| {
                Box::pin(async move {
                    use sqlx::Executor as _;
                    conn.execute(READER_SESSION.as_str()).await.map(|_| ())
                })
            })
            .connect_lazy_with((*main.connect_options()).clone())
    })
}

/// Runs one read-only statement (no parameters) under the timeouts.
///
/// On a direct connection ([`Protocol::Prepared`]) it runs on the health [`reader`], whose
/// sessions are read-only with the timeouts set: one round trip, the statement prepared once
/// per reader connection and its plan kept (sqlx's statement cache; a statement without
/// parameters gets PostgreSQL's generic plan at once), where planning the catalog statements
/// cost more than the round trips (BENCHMARKS.md, issue 17).
///
/// Through a transaction-mode pooler ([`Protocol::Simple`]) no session setting may outlive its
/// transaction on the shared server connection: the settings and the statement go as one
/// script, one round trip and one implicit transaction (an error rolls it back whole),
/// planned each time.
pub(crate) async fn read_rows(db: &Db, sql: &str) -> Result<Vec<Row>> {
    // Closed only if the static semaphore were closed, which nothing does.
    let _permit = IN_FLIGHT
        .acquire()
        .await
        .map_err(|_| Error::db("the health reader is shutting down"))?;
    match db.pg() {
        None => db.query(sql, &[]).await,
        Some(pg) if pg.protocol() == Protocol::Prepared => reader(pg).query(sql, &[]).await,
        Some(_) => {
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
