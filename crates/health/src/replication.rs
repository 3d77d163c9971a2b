//! Replication and WAL archiving: `pg_stat_replication`, replication slots, `pg_stat_archiver`.

use chrono::NaiveDateTime;
use ncy_core::db::Db;
use ncy_core::Result;
use serde::{Deserialize, Serialize};

use crate::guard::read_rows;
use crate::sql::Part;

// Decoded from its row (the columns are named after the fields), as `Slot` and `Archiver` are.
/// One standby streaming from this server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Replica {
    pub application: Option<String>,
    pub client_addr: Option<String>,
    pub state: Option<String>,
    pub sync_state: Option<String>,
    pub sent_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    pub replay_lag_seconds: Option<f64>,
    pub replay_lag_bytes: Option<f64>,
}

/// One replication slot.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Slot {
    pub name: String,
    pub slot_type: String,
    pub active: bool,
    /// WAL kept on disk for this slot.
    pub retained_bytes: Option<f64>,
}

/// WAL archiving state (`pg_stat_archiver`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Archiver {
    /// `archive_mode`: `on`, `off` or `always`.
    pub archive_mode: String,
    pub wal_level: String,
    pub archived_count: i64,
    pub last_archived_wal: Option<String>,
    pub last_archived_time: Option<NaiveDateTime>,
    pub failed_count: i64,
    pub last_failed_wal: Option<String>,
    pub last_failed_time: Option<NaiveDateTime>,
    pub stats_reset: Option<NaiveDateTime>,
}

impl Archiver {
    /// True when the last archiving attempt failed.
    pub fn failing(&self) -> bool {
        match (self.last_failed_time, self.last_archived_time) {
            (Some(f), Some(a)) => f > a,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// Replication and archiving.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Replication {
    /// True on a standby.
    pub in_recovery: bool,
    pub replicas: Vec<Replica>,
    pub slots: Vec<Slot>,
    pub archiver: Archiver,
}

/// The recovery state, on every row of the replication statement.
#[derive(Deserialize)]
struct Recovery {
    in_recovery: bool,
}

/// Reads [`Replication`] in one statement: the archiver's row (part 0), then the standbys
/// (part 1) and the slots (part 2), each row with the recovery state. WAL positions are
/// measured from the last received position on a standby, the current one on a primary.
pub(crate) async fn read(db: &Db) -> Result<Replication> {
    let rows = read_rows(
        db,
        "WITH cur AS MATERIALIZED (
                 SELECT pg_is_in_recovery() AS rec,
                        CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                             ELSE pg_current_wal_lsn() END AS lsn)
             SELECT 0 AS part, cur.rec AS in_recovery, NULL::text AS app_sort, NULL::name AS slot_sort,
                    current_setting('archive_mode') AS archive_mode,
                    current_setting('wal_level') AS wal_level,
                    a.archived_count, a.last_archived_wal, a.last_archived_time,
                    a.failed_count, a.last_failed_wal, a.last_failed_time, a.stats_reset,
                    NULL::text AS application, NULL::text AS client_addr, NULL::text AS state,
                    NULL::text AS sync_state, NULL::text AS sent_lsn, NULL::text AS replay_lsn,
                    NULL::float8 AS replay_lag_seconds, NULL::float8 AS replay_lag_bytes,
                    NULL::text AS name, NULL::text AS slot_type, NULL::bool AS active,
                    NULL::float8 AS retained_bytes
             FROM pg_stat_archiver a, cur
             UNION ALL
             SELECT 1, cur.rec, r.application_name, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL, NULL, r.application_name, r.client_addr::text, r.state, r.sync_state,
                    r.sent_lsn::text, r.replay_lsn::text,
                    extract(epoch FROM r.replay_lag)::float8,
                    pg_wal_lsn_diff(cur.lsn, r.replay_lsn)::float8,
                    NULL, NULL, NULL, NULL
             FROM pg_stat_replication r, cur
             UNION ALL
             SELECT 2, cur.rec, NULL, s.slot_name, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    s.slot_name::text, s.slot_type, s.active,
                    pg_wal_lsn_diff(cur.lsn, s.restart_lsn)::float8
             FROM pg_replication_slots s, cur
             ORDER BY 1, 3, 4",
    )
    .await?;
    let a = rows
        .first()
        .filter(|r| matches!(r.decode(), Ok(Part { part: 0 })))
        .ok_or_else(|| ncy_core::Error::db("pg_stat_archiver returned no row"))?;
    let mut replicas = Vec::new();
    let mut slots = Vec::new();
    for r in &rows[1..] {
        if r.decode::<Part>()?.part == 1 {
            replicas.push(r.decode()?);
        } else {
            slots.push(r.decode()?);
        }
    }
    Ok(Replication {
        in_recovery: a.decode::<Recovery>()?.in_recovery,
        replicas,
        slots,
        archiver: a.decode()?,
    })
}
