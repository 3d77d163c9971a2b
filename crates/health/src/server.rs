//! Server-wide figures: version, uptime, size, connections against `max_connections`, the
//! client's own pool, cache hit ratios and throughput (pgAdmin's dashboard numbers).

use std::time::Instant;

use chrono::NaiveDateTime;
use ncy_core::db::Db;
use ncy_core::Result;
use serde::{Deserialize, Serialize};

use crate::guard::{one, read_one_as, read_rows};

// Decoded from its row (the columns are named after the fields), as `DbCounters` is.
/// Version, uptime and size of the connected server and database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ServerInfo {
    /// `version()`, e.g. `PostgreSQL 15.10 (Debian ...) on x86_64 ...`.
    pub version: String,
    /// `server_version`, e.g. `15.10`.
    pub server_version: String,
    /// `server_version_num`, e.g. `150010`.
    pub version_num: i64,
    pub started_at: NaiveDateTime,
    pub uptime_seconds: f64,
    pub database: String,
    pub database_bytes: i64,
    /// True on a standby (streaming replica).
    pub in_recovery: bool,
    /// False when the connected role may not see other roles' sessions and query texts (it
    /// lacks `pg_read_all_stats`, which `pg_monitor` includes): the sessions and statements
    /// shown are then only its own in full.
    pub reads_all_stats: bool,
}

/// Reads [`ServerInfo`].
pub(crate) async fn server_info(db: &Db) -> Result<ServerInfo> {
    read_one_as(
        db,
        "SELECT version() AS version,
                    current_setting('server_version') AS server_version,
                    current_setting('server_version_num')::int8 AS version_num,
                    pg_postmaster_start_time() AS started_at,
                    coalesce(extract(epoch FROM now() - pg_postmaster_start_time())::float8, 0)
                      AS uptime_seconds,
                    current_database()::text AS database,
                    pg_database_size(current_database()) AS database_bytes,
                    pg_is_in_recovery() AS in_recovery,
                    pg_has_role('pg_read_all_stats', 'USAGE') AS reads_all_stats",
    )
    .await
}

/// Client connections in one state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct StateCount {
    /// `active`, `idle`, `idle in transaction`, ...
    pub state: String,
    /// On the whole server.
    pub count: i64,
    /// In the connected database only.
    pub this_database: i64,
}

/// Client connections by state against `max_connections`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Connections {
    pub by_state: Vec<StateCount>,
    /// All client connections on the server.
    pub total: i64,
    /// Connections running a statement (the seed's `database_connections_active`).
    pub active: i64,
    pub idle_in_transaction: i64,
    pub max_connections: i64,
    pub superuser_reserved: i64,
    /// `total / (max_connections - superuser_reserved)` in percent.
    pub usage_percent: f64,
}

/// The limits, on every row of the connections statement.
#[derive(Deserialize)]
struct Limits {
    max_connections: i64,
    reserved: i64,
}

/// The state of a row of the connections statement (NULL on the one row when there is none).
#[derive(Deserialize)]
struct State {
    state: Option<String>,
}

/// Reads [`Connections`].
pub(crate) async fn connections(db: &Db) -> Result<Connections> {
    // The limits beside the counts: one statement (one row with NULL counts if none).
    let rows = read_rows(
        db,
        "SELECT current_setting('max_connections')::int8 AS max_connections,
                    current_setting('superuser_reserved_connections')::int8 AS reserved,
                    a.state, a.n AS count, a.here AS this_database
             FROM (SELECT 1) one
             LEFT JOIN (SELECT coalesce(state, 'unknown') AS state, count(*)::int8 AS n,
                               (count(*) FILTER (WHERE datname = current_database()))::int8 AS here
                        FROM pg_stat_activity WHERE backend_type = 'client backend'
                        GROUP BY 1) a ON true
             ORDER BY a.n DESC, a.state",
    )
    .await?;
    let limits: Limits = one(&rows)?.decode()?;
    let mut by_state = Vec::with_capacity(rows.len());
    for r in &rows {
        if r.decode::<State>()?.state.is_some() {
            by_state.push(r.decode::<StateCount>()?);
        }
    }
    let count = |s: &str| {
        by_state
            .iter()
            .filter(|c| c.state.starts_with(s))
            .map(|c| c.count)
            .sum::<i64>()
    };
    let total = by_state.iter().map(|c| c.count).sum();
    let Limits {
        max_connections,
        reserved: superuser_reserved,
    } = limits;
    let usable = (max_connections - superuser_reserved).max(1);
    Ok(Connections {
        active: count("active"),
        idle_in_transaction: count("idle in transaction"),
        total,
        max_connections,
        superuser_reserved,
        usage_percent: 100.0 * total as f64 / usable as f64,
        by_state,
    })
}

/// Use of this client's own connection pool.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PoolUse {
    /// Open connections.
    pub size: u32,
    pub idle: u32,
    pub in_use: u32,
    pub max: u32,
}

/// Reads [`PoolUse`] (None for SQLite).
pub fn pool_use(db: &Db) -> Option<PoolUse> {
    let p = db.pg()?.pool();
    let size = p.size();
    let idle = p.num_idle() as u32;
    Some(PoolUse {
        size,
        idle,
        in_use: size.saturating_sub(idle),
        max: p.options().get_max_connections(),
    })
}

/// Buffer cache hit ratios (1.0 = every block came from shared buffers).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CacheStats {
    /// Whole database (`pg_stat_database.blks_hit / (blks_hit + blks_read)`).
    pub database_hit_ratio: Option<f64>,
    /// User tables' heap blocks.
    pub table_hit_ratio: Option<f64>,
    /// User indexes' blocks.
    pub index_hit_ratio: Option<f64>,
    pub blocks_hit: i64,
    pub blocks_read: i64,
}

fn ratio(hit: i64, read: i64) -> Option<f64> {
    (hit + read > 0).then(|| hit as f64 / (hit + read) as f64)
}

/// The row of the cache statement: block counters of the database, then of its user tables.
#[derive(Deserialize)]
struct CacheRow {
    blks_hit: i64,
    blks_read: i64,
    heap_hit: i64,
    heap_read: i64,
    idx_hit: i64,
    idx_read: i64,
}

/// Reads [`CacheStats`].
pub(crate) async fn cache(db: &Db) -> Result<CacheStats> {
    let c: CacheRow = read_one_as(
        db,
        "SELECT d.blks_hit, d.blks_read, t.*
             FROM (SELECT blks_hit, blks_read FROM pg_stat_database
                   WHERE datname = current_database()) d,
                  (SELECT coalesce(sum(heap_blks_hit), 0)::int8 AS heap_hit,
                          coalesce(sum(heap_blks_read), 0)::int8 AS heap_read,
                          coalesce(sum(idx_blks_hit), 0)::int8 AS idx_hit,
                          coalesce(sum(idx_blks_read), 0)::int8 AS idx_read
                   FROM pg_statio_user_tables) t",
    )
    .await?;
    Ok(CacheStats {
        database_hit_ratio: ratio(c.blks_hit, c.blks_read),
        table_hit_ratio: ratio(c.heap_hit, c.heap_read),
        index_hit_ratio: ratio(c.idx_hit, c.idx_read),
        blocks_hit: c.blks_hit,
        blocks_read: c.blks_read,
    })
}

/// Cumulative counters of the connected database since `stats_reset`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DbCounters {
    pub xact_commit: i64,
    pub xact_rollback: i64,
    pub tup_returned: i64,
    pub tup_fetched: i64,
    pub tup_inserted: i64,
    pub tup_updated: i64,
    pub tup_deleted: i64,
    pub blks_read: i64,
    pub blks_hit: i64,
    pub deadlocks: i64,
    pub temp_bytes: i64,
    /// When these counters started (None: since the cluster was created).
    pub stats_reset: Option<NaiveDateTime>,
}

/// Rates per second between two samples of [`DbCounters`] (pgAdmin's dashboard).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Throughput {
    pub sample_seconds: f64,
    /// Transactions per second (commits + rollbacks).
    pub tps: f64,
    pub commits_per_sec: f64,
    pub rollbacks_per_sec: f64,
    /// Tuples in: inserted + updated + deleted per second.
    pub tuples_in_per_sec: f64,
    /// Tuples out: returned + fetched per second.
    pub tuples_out_per_sec: f64,
    pub tuples_inserted_per_sec: f64,
    pub tuples_updated_per_sec: f64,
    pub tuples_deleted_per_sec: f64,
    pub tuples_returned_per_sec: f64,
    pub tuples_fetched_per_sec: f64,
    /// Block I/O: reads from disk (or the OS cache) per second.
    pub blocks_read_per_sec: f64,
    /// Block I/O: hits in shared buffers per second.
    pub blocks_hit_per_sec: f64,
    /// The counters at the second sample.
    pub cumulative: DbCounters,
}

/// One timed sample of the counters.
pub struct Sample {
    at: Instant,
    c: DbCounters,
}

async fn read_counters(db: &Db) -> Result<DbCounters> {
    read_one_as(
        db,
        "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted,
                    tup_updated, tup_deleted, blks_read, blks_hit, deadlocks, temp_bytes, stats_reset
             FROM pg_stat_database WHERE datname = current_database()",
    )
    .await
}

/// Takes one sample (its own transaction: statistics are frozen inside one).
pub(crate) async fn sample(db: &Db) -> Result<Sample> {
    let c = read_counters(db).await?;
    Ok(Sample {
        at: Instant::now(),
        c,
    })
}

/// Rates between two samples.
pub fn rates(a: &Sample, b: &Sample) -> Throughput {
    let dt = b.at.duration_since(a.at).as_secs_f64().max(0.001);
    let d = |f: fn(&DbCounters) -> i64| (f(&b.c) - f(&a.c)).max(0) as f64 / dt;
    let commits = d(|c| c.xact_commit);
    let rollbacks = d(|c| c.xact_rollback);
    let ins = d(|c| c.tup_inserted);
    let upd = d(|c| c.tup_updated);
    let del = d(|c| c.tup_deleted);
    let ret = d(|c| c.tup_returned);
    let fet = d(|c| c.tup_fetched);
    Throughput {
        sample_seconds: dt,
        tps: commits + rollbacks,
        commits_per_sec: commits,
        rollbacks_per_sec: rollbacks,
        tuples_in_per_sec: ins + upd + del,
        tuples_out_per_sec: ret + fet,
        tuples_inserted_per_sec: ins,
        tuples_updated_per_sec: upd,
        tuples_deleted_per_sec: del,
        tuples_returned_per_sec: ret,
        tuples_fetched_per_sec: fet,
        blocks_read_per_sec: d(|c| c.blks_read),
        blocks_hit_per_sec: d(|c| c.blks_hit),
        cumulative: b.c.clone(),
    }
}
