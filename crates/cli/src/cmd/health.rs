//! `ncy-admin health`: the database health report with findings, the top statements,
//! slow-query logging, cancel / terminate a session, and Prometheus charts as sparklines.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use ncy_core::Error;
use ncy_health::activity::{self, SessionInfo};
use ncy_health::findings::{bytes, secs};
use ncy_health::logging::{self, LogStatement, LoggingChange};
use ncy_health::prometheus::{self, MetricsQuery};
use ncy_health::statements::{self, TopStatements};
use ncy_health::{HealthReport, ReportOptions};

use crate::ctx::Ctx;
use crate::output::{emit, opt, table};

/// `ncy-admin health [SUBCOMMAND]`: without a subcommand, the overall report.
#[derive(Args, Debug)]
pub struct Health {
    #[command(subcommand)]
    pub command: Option<HealthCmd>,
    /// Milliseconds between the two samples behind the per-second rates.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub sample_ms: u64,
    /// List statements of every database, not only the connected one.
    #[arg(long)]
    pub all_databases: bool,
}

#[derive(Subcommand, Debug)]
pub enum HealthCmd {
    /// The most expensive statements (pg_stat_statements), or reset them.
    Top {
        #[arg(long, default_value_t = 10)]
        limit: i64,
        #[arg(long)]
        all_databases: bool,
        /// Clear pg_stat_statements on the server (health.configure, audited).
        #[arg(long)]
        reset_statements: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Set slow-query logging with ALTER SYSTEM + pg_reload_conf() (health.configure, audited).
    SetLogging {
        /// log_min_duration_statement in milliseconds (-1 turns it off, 0 logs every statement).
        #[arg(long, value_name = "MS", allow_hyphen_values = true)]
        min_duration: Option<i64>,
        /// log_statement: none, ddl, mod or all (all is heavy on production).
        #[arg(long, value_name = "none|ddl|mod|all")]
        statement: Option<String>,
        /// Do not ask for confirmation of heavy settings.
        #[arg(long)]
        yes: bool,
    },
    /// Cancel the running statement of a session (health.configure, audited).
    Cancel {
        pid: i64,
        #[arg(long)]
        yes: bool,
    },
    /// Terminate a session; its open transaction rolls back (health.configure, audited).
    Terminate {
        pid: i64,
        #[arg(long)]
        yes: bool,
    },
    /// Connections, transactions per second and query duration from Prometheus, as sparklines.
    Metrics {
        /// Prometheus base URL (e.g. http://127.0.0.1:9090).
        #[arg(long, env = "NCY_PROMETHEUS_URL", value_name = "URL")]
        prometheus: String,
        /// Time window ending now: 90s, 15m, 1h, 2d.
        #[arg(long, default_value = "1h")]
        window: String,
        /// Resolution (default: window / 120).
        #[arg(long)]
        step: Option<String>,
        /// Only this database's series (default: the connected database, if PostgreSQL).
        #[arg(long)]
        database: Option<String>,
    },
}

pub async fn run(ctx: &mut Ctx, h: Health) -> Result<()> {
    match h.command {
        None => report(ctx, h.sample_ms, h.all_databases).await,
        Some(HealthCmd::Top {
            limit,
            all_databases,
            reset_statements,
            yes,
        }) => top(ctx, limit, all_databases, reset_statements, yes).await,
        Some(HealthCmd::SetLogging {
            min_duration,
            statement,
            yes,
        }) => set_logging(ctx, min_duration, statement, yes).await,
        Some(HealthCmd::Cancel { pid, yes }) => signal(ctx, pid, false, yes).await,
        Some(HealthCmd::Terminate { pid, yes }) => signal(ctx, pid, true, yes).await,
        Some(HealthCmd::Metrics {
            prometheus,
            window,
            step,
            database,
        }) => metrics(ctx, &prometheus, &window, step, database).await,
    }
}

/// Asks `question` on the terminal; refuses without a terminal unless `--yes`.
fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid(
            "--yes",
            format!(
                "refusing without confirmation (stdin is not a terminal): pass --yes to confirm \"{question}\""
            ),
        )
        .into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Error::Cancelled.into())
    }
}

fn pct(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{v:.2} ms")
    }
}

fn one_line(s: &str, max: usize) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

/// A chart value with its unit (durations in ms below one second).
fn value(v: f64, unit: &str) -> String {
    match unit {
        "s" if v < 1.0 => format!("{:.2} ms", v * 1000.0),
        "s" => format!("{v:.2} s"),
        "bool" => format!("{v:.0}"),
        "connections" => format!("{v:.0}"),
        u => format!("{v:.2} {u}"),
    }
}

fn who(s: &SessionInfo) -> String {
    format!(
        "{}@{}",
        s.user.as_deref().unwrap_or("?"),
        s.database.as_deref().unwrap_or("?")
    )
}

async fn report(ctx: &mut Ctx, sample_ms: u64, all_databases: bool) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    let opts = ReportOptions {
        sample: Duration::from_millis(sample_ms.min(60_000)),
        all_databases,
        ..ReportOptions::default()
    };
    // The catalog-only lists read on the read replica when one is configured.
    let read = ctx.read_db().await?;
    let rep = ncy_health::report::report_via(&db, &read, &op, &opts).await?;
    emit(ctx, &rep, || render(&rep))
}

fn render(rep: &HealthReport) -> String {
    let mut out = Vec::new();
    let status = serde_json::to_value(rep.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_uppercase))
        .unwrap_or_default();
    if let Some(s) = &rep.sqlite {
        out.push(format!(
            "Local SQLite workspace {} · {} · {} pages of {} B, {} free · journal {}{}",
            s.path,
            bytes(s.file_bytes),
            s.page_count,
            s.page_size,
            s.freelist_count,
            s.journal_mode,
            s.wal_bytes
                .map(|w| format!(" (WAL {})", bytes(w)))
                .unwrap_or_default()
        ));
        out.push(
            "Health monitoring needs PostgreSQL: pass --database-url URL (or set DATABASE_URL)."
                .into(),
        );
    }
    if let Some(s) = &rep.server {
        out.push(format!(
            "PostgreSQL {} · up {} · database {} ({}){} · status {status}",
            s.server_version,
            secs(s.uptime_seconds),
            s.database,
            bytes(s.database_bytes),
            if s.in_recovery { " · standby" } else { "" }
        ));
    }
    if let Some(c) = &rep.connections {
        let states = c
            .by_state
            .iter()
            .map(|s| format!("{} {}", s.state, s.count))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(format!(
            "Connections: {} of {} ({:.0}%): {states}",
            c.total,
            c.max_connections - c.superuser_reserved,
            c.usage_percent
        ));
    }
    if let Some(p) = &rep.pool {
        out.push(format!(
            "This client's pool: {} open, {} in use, max {}",
            p.size, p.in_use, p.max
        ));
    }
    if let Some(c) = &rep.cache {
        out.push(format!(
            "Cache hit ratio: {} (tables {}, indexes {})",
            pct(c.database_hit_ratio),
            pct(c.table_hit_ratio),
            pct(c.index_hit_ratio)
        ));
    }
    if let Some(t) = &rep.throughput {
        out.push(format!(
            "Throughput over {:.1} s: {:.1} tx/s ({:.1} commits, {:.1} rollbacks) · tuples in {:.1}/s, out {:.1}/s · blocks read {:.1}/s, hit {:.1}/s{}",
            t.sample_seconds, t.tps, t.commits_per_sec, t.rollbacks_per_sec, t.tuples_in_per_sec,
            t.tuples_out_per_sec, t.blocks_read_per_sec, t.blocks_hit_per_sec,
            t.cumulative.stats_reset.map(|r| format!(" · counters since {}", r.format("%Y-%m-%d %H:%M"))).unwrap_or_default()
        ));
    }
    if let Some(l) = &rep.logging {
        out.push(format!(
            "Logging: log_min_duration_statement = {}, log_statement = {}",
            match l.log_min_duration_statement_ms {
                -1 => "-1 (off)".to_string(),
                n => format!("{n} ms"),
            },
            l.log_statement
        ));
    }
    if let Some(r) = &rep.replication {
        let a = &r.archiver;
        out.push(format!(
            "WAL archiving: {} · {} archived (last {}) · {} failed · replicas: {} · slots: {}",
            a.archive_mode,
            a.archived_count,
            a.last_archived_time
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "never".into()),
            a.failed_count,
            r.replicas.len(),
            r.slots.len()
        ));
    }
    for u in &rep.unavailable {
        out.push(format!("{} unavailable: {}", u.section, u.message));
    }
    out.push(String::new());
    if rep.findings.is_empty() {
        out.push("No findings: the database looks healthy.".into());
    } else {
        out.push(format!("Findings ({})", rep.findings.len()));
        out.push(table(
            &["severity", "section", "finding", "suggestion"],
            rep.findings
                .iter()
                .map(|f| {
                    vec![
                        f.severity.as_str().to_uppercase(),
                        f.section.clone(),
                        f.title.clone(),
                        f.suggestion.clone(),
                    ]
                })
                .collect(),
        ));
    }
    if let Some(s) = &rep.statements {
        out.push(String::new());
        out.push(render_top(s));
    }
    if let Some(a) = &rep.activity {
        if !a.blocked.is_empty() {
            out.push(String::new());
            out.push("Blocked sessions".into());
            out.push(table(
                &["pid", "who", "waits", "lock", "blocked by", "query"],
                a.blocked
                    .iter()
                    .map(|b| {
                        vec![
                            b.waiting.pid.to_string(),
                            who(&b.waiting),
                            secs(b.waiting.query_seconds.unwrap_or(0.0)),
                            format!(
                                "{} {}",
                                opt(&b.lock_mode),
                                b.relation.clone().unwrap_or_default()
                            ),
                            b.blockers
                                .iter()
                                .map(|s| format!("{} ({})", s.pid, opt(&s.state)))
                                .collect::<Vec<_>>()
                                .join(", "),
                            one_line(b.waiting.query.as_deref().unwrap_or(""), 60),
                        ]
                    })
                    .collect(),
            ));
        }
        if !a.sessions.is_empty() {
            out.push(String::new());
            out.push("Sessions (not idle)".into());
            out.push(table(
                &["pid", "who", "state", "xact age", "in state", "query"],
                a.sessions
                    .iter()
                    .take(20)
                    .map(|s| {
                        vec![
                            s.pid.to_string(),
                            who(s),
                            opt(&s.state),
                            s.xact_seconds.map(secs).unwrap_or_else(|| "-".into()),
                            s.state_seconds.map(secs).unwrap_or_else(|| "-".into()),
                            one_line(s.query.as_deref().unwrap_or(""), 60),
                        ]
                    })
                    .collect(),
            ));
        }
    }
    if let Some(o) = &rep.objects {
        out.push(String::new());
        out.push("Largest tables".into());
        out.push(table(
            &[
                "table",
                "total",
                "table",
                "indexes",
                "rows (est.)",
                "dead",
                "last vacuum",
                "last analyze",
            ],
            o.tables
                .iter()
                .take(10)
                .map(|t| {
                    let vac = [t.last_vacuum, t.last_autovacuum]
                        .into_iter()
                        .flatten()
                        .max();
                    let ana = [t.last_analyze, t.last_autoanalyze]
                        .into_iter()
                        .flatten()
                        .max();
                    vec![
                        format!("{}.{}", t.schema, t.name),
                        bytes(t.total_bytes),
                        bytes(t.table_bytes),
                        bytes(t.index_bytes),
                        t.row_estimate
                            .map(|r| format!("{r:.0}"))
                            .unwrap_or_else(|| "-".into()),
                        t.dead_tuples.to_string(),
                        vac.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_else(|| "never".into()),
                        ana.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_else(|| "never".into()),
                    ]
                })
                .collect(),
        ));
    }
    out.join("\n")
}

fn render_top(s: &TopStatements) -> String {
    if let Some(note) = &s.note {
        return format!("Top statements: {note}");
    }
    if s.statements.is_empty() {
        return "Top statements: none recorded yet".into();
    }
    format!(
        "Top statements by total execution time (pg_stat_statements {})\n{}",
        s.extension_version.as_deref().unwrap_or(""),
        table(
            &["calls", "total", "mean", "rows", "% time", "db", "query"],
            s.statements
                .iter()
                .map(|t| {
                    vec![
                        t.calls.to_string(),
                        ms(t.total_exec_time_ms),
                        ms(t.mean_exec_time_ms),
                        t.rows.to_string(),
                        format!("{:.1}", t.percent_of_total),
                        opt(&t.database),
                        one_line(&t.query, 80),
                    ]
                })
                .collect(),
        )
    )
}

async fn top(ctx: &mut Ctx, limit: i64, all: bool, reset: bool, yes: bool) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    if reset {
        op.require(ncy_core::auth::perm::HEALTH_CONFIGURE)?;
        confirm(
            "Reset pg_stat_statements for the whole server (every database's statistics)?",
            yes,
        )?;
        let r = statements::reset(&db, &op).await?;
        return emit(ctx, &r, || {
            format!(
                "pg_stat_statements reset: {} statements cleared (audited)",
                r.statements_cleared
            )
        });
    }
    let t = statements::top(&db, &op, limit, all).await?;
    emit(ctx, &t, || render_top(&t))
}

async fn set_logging(
    ctx: &mut Ctx,
    min_duration: Option<i64>,
    statement: Option<String>,
    yes: bool,
) -> Result<()> {
    let change = LoggingChange {
        min_duration_ms: min_duration,
        statement: statement.as_deref().map(LogStatement::parse).transpose()?,
    };
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    op.require(ncy_core::auth::perm::HEALTH_CONFIGURE)?;
    let warnings = logging::warnings(&change);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if !warnings.is_empty() {
        confirm("Apply this server-wide logging setting?", yes)?;
    }
    let up = logging::set(&db, &op, &change).await?;
    emit(ctx, &up, || {
        format!(
            "logging set (ALTER SYSTEM + pg_reload_conf(), audited): log_min_duration_statement {} → {} ms, log_statement {} → {}",
            up.before.log_min_duration_statement_ms,
            up.after.log_min_duration_statement_ms,
            up.before.log_statement,
            up.after.log_statement
        )
    })
}

async fn signal(ctx: &mut Ctx, pid: i64, terminate: bool, yes: bool) -> Result<()> {
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    op.require(ncy_core::auth::perm::HEALTH_CONFIGURE)?;
    if !yes {
        let act = activity::sessions(&db, &op).await?;
        let desc = act
            .sessions
            .iter()
            .find(|s| s.pid == pid)
            .map(|s| {
                format!(
                    " ({}, {}, {})",
                    who(s),
                    opt(&s.state),
                    one_line(s.query.as_deref().unwrap_or(""), 60)
                )
            })
            .unwrap_or_default();
        let q = if terminate {
            format!("Terminate session {pid}{desc}? Its open transaction rolls back")
        } else {
            format!("Cancel the running statement of session {pid}{desc}?")
        };
        confirm(&q, yes)?;
    }
    let r = if terminate {
        activity::terminate(&db, &op, pid).await?
    } else {
        activity::cancel(&db, &op, pid).await?
    };
    emit(ctx, &r, || {
        format!(
            "{} session {pid} ({}) (audited)",
            if terminate {
                "terminated"
            } else {
                "cancelled the statement of"
            },
            who(&r.session)
        )
    })
}

async fn metrics(
    ctx: &mut Ctx,
    url: &str,
    window: &str,
    step: Option<String>,
    database: Option<String>,
) -> Result<()> {
    let window = prometheus::parse_window(window)?;
    let step = step.as_deref().map(prometheus::parse_window).transpose()?;
    let db = ctx.db().await?;
    let op = ctx.operator().await?;
    let database = match database {
        Some(d) => Some(d),
        None => match db.pg() {
            Some(_) => db
                .query("SELECT current_database()::text AS d", &[])
                .await?
                .first()
                .and_then(|r| r.text("d").ok()),
            None => None,
        },
    };
    let q = MetricsQuery {
        window,
        step,
        database,
    };
    let m = prometheus::metrics(&op, url, &q).await?;
    emit(ctx, &m, || {
        let mut rows = Vec::new();
        let mut notes = Vec::new();
        for c in &m.charts {
            for s in &c.series {
                let vals: Vec<f64> = s.points.iter().map(|p| p.v).collect();
                let (lo, hi) = vals
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                        (l.min(*v), h.max(*v))
                    });
                rows.push(vec![
                    c.title.clone(),
                    s.name.clone(),
                    prometheus::sparkline(&vals, 40),
                    if vals.is_empty() {
                        "-".into()
                    } else {
                        format!("{} – {}", value(lo, &c.unit), value(hi, &c.unit))
                    },
                    s.last()
                        .map(|v| value(v, &c.unit))
                        .unwrap_or_else(|| "-".into()),
                ]);
            }
            for miss in &c.missing {
                notes.push(format!("{}: {miss}", c.title));
            }
        }
        let mut out = format!(
            "Prometheus {} · window {} · step {:.0} s\n{}",
            m.prometheus,
            secs(m.end - m.start),
            m.step_seconds,
            table(&["chart", "series", "trend", "min – max", "last"], rows)
        );
        for f in &m.findings {
            out.push_str(&format!(
                "\n{}: {} ({})",
                f.severity.as_str().to_uppercase(),
                f.title,
                f.suggestion
            ));
        }
        for n in notes {
            out.push_str(&format!("\nmissing: {n}"));
        }
        out
    })
}
