//! `ncy-admin health`: the database health report with findings, the top statements,
//! slow-query logging, cancel / terminate a session, and Prometheus charts as sparklines.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use ncy_core::Error;
use ncy_health::activity;
use ncy_health::findings::secs;
use ncy_health::logging::{self, LogStatement, LoggingChange};
use ncy_health::prometheus::{self, MetricsQuery};
use ncy_health::statements;
use ncy_health::ReportOptions;

use crate::ctx::Ctx;
use crate::output::{emit, opt, table};

mod render;

use render::{one_line, render, render_top, who};

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
            Some(_) => Some(
                db.query_one_as("SELECT current_database()::text AS d", &[])
                    .await?,
            ),
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
