//! Replication and WAL archiving: `pg_stat_replication`, replication slots, `pg_stat_archiver`.

use chrono::NaiveDateTime;
use ncy_core::db::PgDb;
use ncy_core::Result;
use serde::Serialize;

use crate::guard::read_tx;

/// One standby streaming from this server.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Slot {
    pub name: String,
    pub slot_type: String,
    pub active: bool,
    /// WAL kept on disk for this slot.
    pub retained_bytes: Option<f64>,
}

/// WAL archiving state (`pg_stat_archiver`).
#[derive(Debug, Clone, Serialize)]
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

/// Reads [`Replication`].
pub(crate) async fn read(db: &PgDb) -> Result<Replication> {
    let mut tx = read_tx(db).await?;
    let in_recovery = tx
        .query_one("SELECT pg_is_in_recovery() AS r", &[])
        .await?
        .bool("r")?;
    let current = if in_recovery {
        "pg_last_wal_receive_lsn()"
    } else {
        "pg_current_wal_lsn()"
    };
    let replicas = tx
        .query(
            &format!(
                "SELECT application_name AS app, client_addr::text AS client_addr, state, sync_state,
                        sent_lsn::text AS sent_lsn, replay_lsn::text AS replay_lsn,
                        extract(epoch FROM replay_lag)::float8 AS lag_s,
                        pg_wal_lsn_diff({current}, replay_lsn)::float8 AS lag_b
                 FROM pg_stat_replication ORDER BY application_name"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Replica {
                application: r.opt_text("app")?,
                client_addr: r.opt_text("client_addr")?,
                state: r.opt_text("state")?,
                sync_state: r.opt_text("sync_state")?,
                sent_lsn: r.opt_text("sent_lsn")?,
                replay_lsn: r.opt_text("replay_lsn")?,
                replay_lag_seconds: r.opt_float("lag_s")?,
                replay_lag_bytes: r.opt_float("lag_b")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let slots = tx
        .query(
            &format!(
                "SELECT slot_name::text AS name, slot_type, active,
                        pg_wal_lsn_diff({current}, restart_lsn)::float8 AS retained
                 FROM pg_replication_slots ORDER BY slot_name"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Slot {
                name: r.text("name")?,
                slot_type: r.text("slot_type")?,
                active: r.bool("active")?,
                retained_bytes: r.opt_float("retained")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let a = tx
        .query_one(
            "SELECT current_setting('archive_mode') AS archive_mode,
                    current_setting('wal_level') AS wal_level,
                    archived_count, last_archived_wal, last_archived_time,
                    failed_count, last_failed_wal, last_failed_time, stats_reset
             FROM pg_stat_archiver",
            &[],
        )
        .await?;
    tx.commit().await?;
    Ok(Replication {
        in_recovery,
        replicas,
        slots,
        archiver: Archiver {
            archive_mode: a.text("archive_mode")?,
            wal_level: a.text("wal_level")?,
            archived_count: a.int("archived_count")?,
            last_archived_wal: a.opt_text("last_archived_wal")?,
            last_archived_time: a.opt_ts("last_archived_time")?,
            failed_count: a.int("failed_count")?,
            last_failed_wal: a.opt_text("last_failed_wal")?,
            last_failed_time: a.opt_ts("last_failed_time")?,
            stats_reset: a.opt_ts("stats_reset")?,
        },
    })
}
