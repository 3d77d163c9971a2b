//! `audit verify`: re-computes the AuditLog hash chain that PostgreSQL keeps (migration 0010).
//!
//! Each row stores `digest` (SHA-256 of what it proves: id, actor, action, target, old and new
//! values, time — not the transport details GDPR erasure removes), `prev_hash` (the link before
//! it) and `chain_hash = sha256(prev_hash || digest)`; "AuditChain" holds the head. Rows get
//! their link at insert under the head's row lock, so concurrent writers queue and never fork the
//! chain. Verification is one pass in SQL, in `seq` order: a row whose content no longer matches
//! its digest was edited; a link that does not follow the row before was rewritten or reordered;
//! a gap in `seq` (or a head past the last row) is a deletion. Retention deletes only behind a
//! recorded checkpoint, whose hash the first remaining row must follow. A redaction of proven
//! fields is recorded (`redacted_at`) and keeps the stored digest, so the chain still verifies.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{perm, Operator};
use crate::db::{Db, Dialect};
use crate::error::{Error, Result};

/// The verification statement's one row.
#[derive(Deserialize)]
struct ChainRow {
    n: i64,
    first_seq: Option<i64>,
    last_seq: Option<i64>,
    redacted: i64,
    checkpoint_seq: i64,
    head_seq: i64,
    head_hash: String,
    head_ok: Option<bool>,
    bad_id: Option<Uuid>,
    bad_seq: Option<i64>,
    bad_prev_seq: Option<i64>,
    bad_digest_ok: bool,
    bad_seq_ok: bool,
}

/// What is wrong with the first bad row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Breach {
    /// The row's proven fields were changed after it was written.
    Edited,
    /// The row's digest or link was rewritten, or rows were reordered.
    Relinked,
    /// Rows before this one are missing (deleted without a checkpoint).
    Deleted,
    /// Rows after the last one were deleted (the head is past it).
    TailDeleted,
}

/// The first row that breaks the chain.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BadRow {
    pub seq: i64,
    pub id: Option<Uuid>,
    pub breach: Breach,
    pub message: String,
}

/// The result of a verification.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ChainReport {
    pub ok: bool,
    /// Rows checked.
    pub rows: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// The head's position and hash (hex), to keep outside the database and compare later.
    pub head_seq: i64,
    pub head_hash: String,
    /// Rows whose proven fields were redacted (recorded, still linked).
    pub redacted: i64,
    /// The retention checkpoint the chain starts after (0: from the first row ever written).
    pub checkpoint_seq: i64,
    pub first_bad: Option<BadRow>,
}

const GENESIS: &str =
    r"'\x0000000000000000000000000000000000000000000000000000000000000000'::bytea";

/// Verifies the chain (needs `audit.read`). A broken chain is a report with `ok = false`, not
/// an error; the CLI turns it into exit 10.
pub async fn verify(db: &Db, op: &Operator) -> Result<ChainReport> {
    op.require(perm::AUDIT_READ)?;
    if db.dialect() != Dialect::Postgres {
        return Err(Error::invalid(
            "store",
            "the audit hash chain is kept by PostgreSQL; a local workspace has none to verify",
        ));
    }
    let mut tx = db.begin().await?;
    let sql = format!(
        r#"WITH r AS (
             SELECT a."id", a."seq",
               (a."redacted_at" IS NOT NULL OR a."digest" = ncy_audit_digest(a)) AS digest_ok,
               a."chain_hash" = sha256(a."prev_hash" || a."digest") AS link_ok,
               a."prev_hash" = coalesce(lag(a."chain_hash") OVER w,
                 CASE WHEN a."seq" = 1 THEN {GENESIS}
                      ELSE (SELECT c."chain_hash" FROM "AuditCheckpoint" c WHERE c."seq" = a."seq" - 1) END) AS prev_ok,
               coalesce(a."seq" = lag(a."seq") OVER w + 1,
                 a."seq" = 1 OR EXISTS (SELECT 1 FROM "AuditCheckpoint" c WHERE c."seq" = a."seq" - 1)) AS seq_ok,
               lag(a."seq") OVER w AS prev_seq
             FROM "AuditLog" a
             WINDOW w AS (ORDER BY a."seq"))
           SELECT
             (SELECT count(*) FROM r) AS n,
             (SELECT min("seq") FROM r) AS first_seq,
             (SELECT max("seq") FROM r) AS last_seq,
             (SELECT count(*) FROM "AuditLog" WHERE "redacted_at" IS NOT NULL) AS redacted,
             (SELECT coalesce(max("seq"), 0) FROM "AuditCheckpoint") AS checkpoint_seq,
             h."seq" AS head_seq, encode(h."head", 'hex') AS head_hash,
             h."head" = coalesce((SELECT a."chain_hash" FROM "AuditLog" a WHERE a."seq" = h."seq"),
                                 CASE WHEN h."seq" = 0 THEN {GENESIS} END) AS head_ok,
             b."id" AS bad_id, b."seq" AS bad_seq, b."prev_seq" AS bad_prev_seq,
             coalesce(b."digest_ok", false) AS bad_digest_ok, coalesce(b."seq_ok", true) AS bad_seq_ok
           FROM "AuditChain" h
           LEFT JOIN LATERAL (
             SELECT * FROM r WHERE NOT (coalesce(r."digest_ok", false) AND coalesce(r."link_ok", false)
                                        AND coalesce(r."prev_ok", false) AND r."seq_ok")
             ORDER BY r."seq" LIMIT 1) b ON true
           WHERE h."id" = 1"#
    );
    let row: ChainRow = tx.query_one_as(&sql, &[]).await?;
    tx.rollback().await?;
    let head_seq = row.head_seq;
    let last_seq = row.last_seq;
    let first_bad = match row.bad_seq {
        Some(seq) => {
            let id = row.bad_id;
            let (breach, message) = if !row.bad_seq_ok {
                let from = row.bad_prev_seq.unwrap_or(0);
                (
                    Breach::Deleted,
                    format!(
                        "rows {} to {} are missing before row {seq}: deleted without a retention checkpoint",
                        from + 1,
                        seq - 1
                    ),
                )
            } else if !row.bad_digest_ok {
                (
                    Breach::Edited,
                    format!("row {seq} was edited after it was written: its content no longer matches its digest"),
                )
            } else {
                (
                    Breach::Relinked,
                    format!("row {seq} does not follow the row before it: its link was rewritten or rows were reordered"),
                )
            };
            Some(BadRow {
                seq,
                id,
                breach,
                message,
            })
        }
        None if row.head_ok != Some(true) || last_seq.unwrap_or(0) < head_seq => Some(BadRow {
            seq: last_seq.unwrap_or(0) + 1,
            id: None,
            breach: Breach::TailDeleted,
            message: format!(
                "the chain's head is at row {head_seq} but the last row is {}: the newest rows were deleted",
                last_seq.unwrap_or(0)
            ),
        }),
        None => None,
    };
    Ok(ChainReport {
        ok: first_bad.is_none(),
        rows: row.n,
        first_seq: row.first_seq,
        last_seq,
        head_seq,
        head_hash: row.head_hash,
        redacted: row.redacted,
        checkpoint_seq: row.checkpoint_seq,
        first_bad,
    })
}
