//! The health report: every section read in its own bounded, read-only transaction (one
//! statement, its plan kept by the health reader's connection: [`crate::guard`]), the sections
//! at the same time (up to four at once, so the report takes about as long as its slowest
//! section), then judged into findings ([`judge`]).

use std::time::Duration;

use chrono::NaiveDateTime;
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db, Dialect};
use ncy_core::Result;
use serde::Serialize;

use crate::activity::{self, Activity};
use crate::findings::{bytes, Finding, Severity};
use crate::logging::{self, LoggingSettings};
use crate::objects::{self, Objects};
use crate::replication::{self, Replication};
use crate::server::{self, CacheStats, Connections, PoolUse, ServerInfo, Throughput};
use crate::sqlite::{self, SqliteInfo};
use crate::statements::{self, TopStatements};

mod judge;

pub use judge::judge;

/// What to read and the thresholds of the findings.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Time between the two samples of pg_stat_database for the rates.
    pub sample: Duration,
    /// How many statements in the top list.
    pub top_statements: i64,
    /// List statements of every database, not only the connected one.
    pub all_databases: bool,
    /// How many rows per table / index list (the unused-index and FK lists take 10×).
    pub list_limit: i64,
    /// A transaction open longer than this is a finding.
    pub long_transaction: Duration,
    /// A session idle in transaction longer than this is a finding.
    pub idle_in_transaction: Duration,
    /// An unused index or an FK without index at least this large gets its own finding.
    pub big_object_bytes: i64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            sample: Duration::from_secs(1),
            top_statements: 10,
            all_databases: false,
            list_limit: 20,
            long_transaction: Duration::from_secs(300),
            idle_in_transaction: Duration::from_secs(60),
            big_object_bytes: 1024 * 1024,
        }
    }
}

/// A section that could not be read (timeout, missing privilege, ...).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SectionError {
    pub section: String,
    pub message: String,
}

/// Overall state: the worst finding's severity, or `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Info,
    Warning,
    Critical,
}

/// The whole health picture. PostgreSQL sections are `None` on the local SQLite workspace
/// (where `sqlite` is set) or when a section could not be read (see `unavailable`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct HealthReport {
    pub generated_at: NaiveDateTime,
    #[cfg_attr(feature = "ts", ts(type = "\"postgres\" | \"sqlite\""))]
    pub dialect: Dialect,
    pub status: Status,
    pub server: Option<ServerInfo>,
    pub connections: Option<Connections>,
    pub pool: Option<PoolUse>,
    pub statements: Option<TopStatements>,
    pub logging: Option<LoggingSettings>,
    pub cache: Option<CacheStats>,
    pub throughput: Option<Throughput>,
    pub objects: Option<Objects>,
    pub activity: Option<Activity>,
    pub replication: Option<Replication>,
    pub sqlite: Option<SqliteInfo>,
    pub unavailable: Vec<SectionError>,
    /// Most severe first.
    pub findings: Vec<Finding>,
}

fn keep<T>(name: &str, r: Result<T>, errs: &mut Vec<SectionError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errs.push(SectionError {
                section: name.into(),
                message: e.to_string(),
            });
            None
        }
    }
}

/// Builds the report (`health.read`).
pub async fn report(db: &Db, op: &Operator, opts: &ReportOptions) -> Result<HealthReport> {
    report_via(db, db, op, opts).await
}

/// [`report`] with the catalog-only lists (invalid and duplicate indexes, FKs without an
/// index) read on `read`, a read replica (hot standby) of `db`'s server. Everything measured
/// by the server's own statistics (connections, statements, activity, dead tuples, unused
/// indexes, replication and its lag per standby) is read on `db`.
pub async fn report_via(
    db: &Db,
    read: &Db,
    op: &Operator,
    opts: &ReportOptions,
) -> Result<HealthReport> {
    op.require(perm::HEALTH_READ)?;
    let mut rep = HealthReport {
        generated_at: now(),
        dialect: db.dialect(),
        status: Status::Ok,
        server: None,
        connections: None,
        pool: server::pool_use(db),
        statements: None,
        logging: None,
        cache: None,
        throughput: None,
        objects: None,
        activity: None,
        replication: None,
        sqlite: None,
        unavailable: vec![],
        findings: vec![],
    };
    if db.dialect() == Dialect::Sqlite {
        rep.sqlite = sqlite::read(db).await?;
        rep.findings = sqlite_findings(rep.sqlite.as_ref());
        rep.status = status(&rep.findings);
        return Ok(rep);
    }
    // Every section in its own bounded read-only transaction, all at once (on the health
    // reader's connections, up to four at a time; one statement each, objects three): the
    // report takes about as long as its slowest section.
    // The rates' interval starts when the first sample is read; the second is taken by the
    // same task once the interval is over, while the other sections are read.
    let throughput = async {
        let first = timed("throughput", server::sample(db)).await;
        let sampled_at = std::time::Instant::now();
        if first.is_err() {
            return (first, None);
        }
        if let Some(rest) = opts.sample.checked_sub(sampled_at.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        (first, Some(server::sample(db).await))
    };
    let (
        (first, second),
        server_info,
        connections,
        statements,
        logging,
        cache,
        objects,
        activity,
        replication,
        backups,
    ) = tokio::join!(
        throughput,
        timed("server", server::server_info(db)),
        timed("connections", server::connections(db)),
        timed(
            "statements",
            statements::read_top(db, opts.top_statements, opts.all_databases)
        ),
        timed("logging", logging::read(db)),
        timed("cache", server::cache(db)),
        timed("objects", objects::read(db, read, opts.list_limit)),
        timed("activity", activity::read(db, 100)),
        timed("replication", replication::read(db)),
        timed("backups", crate::backups::read(db)),
    );
    let errs = &mut rep.unavailable;
    let first = keep("throughput", first, errs);
    rep.server = keep("server", server_info, errs);
    rep.connections = keep("connections", connections, errs);
    rep.statements = keep("statements", statements, errs);
    rep.logging = keep("logging", logging, errs);
    rep.cache = keep("cache", cache, errs);
    rep.objects = keep("objects", objects, errs);
    rep.activity = keep("activity", activity, errs);
    rep.replication = keep("replication", replication, errs);
    if let (Some(first), Some(second)) = (first, second) {
        rep.throughput =
            keep("throughput", second, errs).map(|second| server::rates(&first, &second));
    }
    let backups = keep("backups", backups, &mut rep.unavailable);
    rep.findings = judge(&rep, opts);
    rep.findings
        .extend(backups.as_ref().and_then(crate::backups::finding));
    rep.findings.sort_by_key(|x| std::cmp::Reverse(x.severity));
    rep.status = status(&rep.findings);
    Ok(rep)
}

/// Awaits one section, logging how long it took (`NCY_LOG=ncy_health=debug`).
pub(crate) async fn timed<T>(
    section: &'static str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let t = std::time::Instant::now();
    let r = f.await;
    tracing::debug!(
        section,
        ms = t.elapsed().as_secs_f64() * 1000.0,
        ok = r.is_ok(),
        "health section read"
    );
    r
}

fn status(f: &[Finding]) -> Status {
    match f.iter().map(|f| f.severity).max() {
        None => Status::Ok,
        Some(Severity::Info) => Status::Info,
        Some(Severity::Warning) => Status::Warning,
        Some(Severity::Critical) => Status::Critical,
    }
}

fn sqlite_findings(info: Option<&SqliteInfo>) -> Vec<Finding> {
    let mut f = vec![Finding::new(
        Severity::Info,
        "server",
        "database health monitoring needs PostgreSQL: this is the local SQLite workspace",
        "connect to the platform's server to see connections, statements, locks, vacuum and \
         replication",
    )];
    if let Some(i) = info {
        if i.page_count > 1000 && i.freelist_count * 4 > i.page_count {
            f.push(Finding::new(
                Severity::Info,
                "sqlite",
                format!(
                    "{} of {} pages of the workspace are free ({})",
                    i.freelist_count,
                    i.page_count,
                    bytes(i.freelist_count * i.page_size)
                ),
                "run VACUUM on the workspace to give the space back to the file system",
            ));
        }
    }
    f
}
