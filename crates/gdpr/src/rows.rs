//! Small typed rows shared by several queries (decoded with `Row::decode`), and how a checked
//! entry point of the database is told apart and its refusals read.

use ncy_core::db::{Dialect, Tx, Value};
use ncy_core::{Error, Result};
use serde::Deserialize;
use uuid::Uuid;

/// `SELECT "id" …`.
#[derive(Deserialize)]
pub(crate) struct Id {
    pub id: Uuid,
}

/// `SELECT count(*) AS n …`.
#[derive(Deserialize)]
pub(crate) struct Count {
    pub n: i64,
}

/// Runs `SELECT count(*) AS n …` and returns the count.
pub(crate) async fn count(tx: &mut Tx, sql: &str, params: &[Value]) -> Result<u64> {
    Ok(tx.query_one_as::<Count>(sql, params).await?.n as u64)
}

/// True when this connection is an operator's own PostgreSQL login role (migration 0010):
/// such a role erases and exports through the checked entry points of migrations 0018 and
/// 0023, as it may not read or write every table they reach.
pub(crate) async fn operator_login(tx: &mut Tx) -> Result<bool> {
    if tx.dialect() != Dialect::Postgres {
        return Ok(false);
    }
    #[derive(Deserialize)]
    struct IsOperator {
        op: bool,
    }
    Ok(tx
        .query_one_as::<IsOperator>("SELECT ncy_is_operator() AS op", &[])
        .await?
        .op)
}

/// The SQLSTATEs the checked entry points raise (NCE01 not found, NCE02 refused, NCE03 a
/// confirmation that does not match), as the errors the client path returns for the same
/// refusal; `field` names what was refused, `function` the entry point.
pub(crate) fn definer_error(e: Error, field: &str, function: &str) -> Error {
    let Error::Database { message, .. } = &e else {
        return e;
    };
    if let Some(m) = message.strip_suffix(" (SQLSTATE NCE01)") {
        return match m.split_once(" not found: ") {
            Some((what, id)) => Error::not_found(what, id),
            None => Error::not_found("GDPR request", m),
        };
    }
    if let Some(m) = message.strip_suffix(" (SQLSTATE NCE02)") {
        return Error::conflict(field, m);
    }
    if let Some(m) = message.strip_suffix(" (SQLSTATE NCE03)") {
        return Error::invalid("confirm", m);
    }
    // gdpr.handle from a role that is not ADMIN, SYSTEM or SUPPORT: the function is theirs.
    if message.ends_with("(SQLSTATE 42501)") && message.contains(function) {
        return Error::Forbidden {
            permission: format!("a database privilege ({message})"),
        };
    }
    e
}
