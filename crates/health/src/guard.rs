//! Bounded transactions: every health query runs under a statement and lock timeout so that a
//! busy or stuck production server cannot hang the caller or pile up behind a lock.

use ncy_core::db::{Db, Dialect, Tx};
use ncy_core::{Error, Result};

/// Upper bound of any single health query.
pub const STATEMENT_TIMEOUT: &str = "5s";
/// Upper bound of any lock wait in a health query.
pub const LOCK_TIMEOUT: &str = "1s";

// One statement per call (sqlx's multi-statement `raw_sql`, Tx::batch, makes futures !Send,
// and the desktop runs these on a multi-threaded runtime): the settings go in one SELECT of
// set_config calls, one round trip.
async fn set_timeouts(tx: &mut Tx, read_only: bool) -> Result<()> {
    let ro = if read_only {
        ", set_config('transaction_read_only', 'on', true)"
    } else {
        ""
    };
    tx.execute(
        &format!(
            "SELECT set_config('statement_timeout', '{STATEMENT_TIMEOUT}', true), \
                    set_config('lock_timeout', '{LOCK_TIMEOUT}', true){ro}"
        ),
        &[],
    )
    .await?;
    Ok(())
}

/// A read-only transaction with the timeouts set (SQLite: a plain transaction).
pub async fn read_tx(db: &Db) -> Result<Tx> {
    let mut tx = db.begin().await?;
    if tx.dialect() == Dialect::Postgres {
        set_timeouts(&mut tx, true).await?;
    }
    Ok(tx)
}

/// A read-write transaction with the timeouts set, for the audited actions.
pub async fn write_tx(db: &Db) -> Result<Tx> {
    let mut tx = db.begin().await?;
    if tx.dialect() == Dialect::Postgres {
        set_timeouts(&mut tx, false).await?;
    }
    Ok(tx)
}

/// Turns the server's "permission denied" (SQLSTATE 42501) into a configuration error that
/// names what the connected database role may not do and how to grant it.
pub fn privilege(e: Error, what: &str, fix: &str) -> Error {
    match &e {
        Error::Database { message, .. } if message.contains("SQLSTATE 42501") => Error::Config(
            format!("the database role in DATABASE_URL may not {what} ({message}); {fix}"),
        ),
        _ => e,
    }
}
