//! Small typed rows shared by several queries (decoded with `Row::decode`).

use ncy_core::db::{Tx, Value};
use ncy_core::Result;
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
