//! Small typed rows shared by several queries (decoded with `Row::decode`).

use ncy_core::db::{Tx, Value};
use ncy_core::Result;
use serde::Deserialize;
use uuid::Uuid;

/// `SELECT count(*) AS n …`.
#[derive(Deserialize)]
pub(crate) struct Count {
    pub n: i64,
}

/// Runs `SELECT count(*) AS n …` and returns the count.
pub(crate) async fn count(tx: &mut Tx, sql: &str, params: &[Value]) -> Result<u64> {
    Ok(tx.query_one_as::<Count>(sql, params).await?.n as u64)
}

/// `SELECT "id" …`.
#[derive(Deserialize)]
pub(crate) struct Id {
    pub id: Uuid,
}

/// `SELECT pg_current_snapshot()::text AS w`: the server's snapshot, a sync watermark.
#[derive(Deserialize)]
pub(crate) struct Watermark {
    pub w: String,
}

/// The server's current snapshot as text (the watermark a cache records).
pub(crate) async fn current_snapshot(tx: &mut Tx) -> Result<String> {
    Ok(tx
        .query_one_as::<Watermark>("SELECT pg_current_snapshot()::text AS w", &[])
        .await?
        .w)
}
