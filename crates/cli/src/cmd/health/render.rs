//! The health report and the top-statements list as text.

use ncy_health::activity::SessionInfo;
use ncy_health::findings::{bytes, secs, Finding};
use ncy_health::statements::TopStatements;
use ncy_health::HealthReport;

use crate::output::{opt, table};

pub(super) fn pct(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

pub(super) fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{v:.2} ms")
    }
}

pub(super) fn one_line(s: &str, max: usize) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

pub(super) fn who(s: &SessionInfo) -> String {
    format!(
        "{}@{}",
        s.user.as_deref().unwrap_or("?"),
        s.database.as_deref().unwrap_or("?")
    )
}

/// The report as text: one line per section, then the findings.
/// A finding's suggestion with the command that acts on it (the report names none: the
/// window has its own buttons), chosen by the finding's stable `about` key.
pub(super) fn suggestion(f: &Finding) -> String {
    let (kind, object) = f
        .about
        .as_deref()
        .and_then(|a| a.split_once(':'))
        .unwrap_or_default();
    let command = match (kind, object) {
        ("idle_in_transaction", pid) => format!("ncy-admin health terminate {pid}"),
        ("long_transaction", pid) => {
            format!("ncy-admin health cancel {pid} / ncy-admin health terminate {pid}")
        }
        ("blocked", _) => "ncy-admin health cancel <blocking pid>".into(),
        ("log_statement", _) => "ncy-admin health set-logging --statement ddl".into(),
        ("log_min_duration_statement", _) => {
            "ncy-admin health set-logging --min-duration 1000".into()
        }
        ("backup_age", _) => {
            "ncy-admin backup create, then ncy-admin backup verify ID; schedule ncy-admin backup check"
                .into()
        }
        _ => return f.suggestion.clone(),
    };
    format!("{} (`{command}`)", f.suggestion)
}

pub(super) fn render(rep: &HealthReport) -> String {
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
                        suggestion(f),
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

/// The top-statements list as a table.
pub(super) fn render_top(s: &TopStatements) -> String {
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

#[cfg(test)]
mod suggestion_tests {
    use super::suggestion;
    use ncy_health::findings::{Finding, Severity};

    #[test]
    fn the_cli_adds_its_command_to_findings_that_name_none() {
        let f = Finding::new(Severity::Warning, "activity", "idle", "end session 42")
            .about("idle_in_transaction", 42);
        assert_eq!(
            suggestion(&f),
            "end session 42 (`ncy-admin health terminate 42`)"
        );
        let f = Finding::new(Severity::Info, "logging", "slow", "log them")
            .about("log_min_duration_statement", -1);
        assert!(suggestion(&f).contains("set-logging --min-duration 1000"));
        let f = Finding::new(Severity::Warning, "backups", "old", "take one")
            .about("backup_age", "newest_verified");
        assert!(suggestion(&f).contains("ncy-admin backup check"));
        let f = Finding::new(Severity::Info, "indexes", "unused", "drop it")
            .about("unused_index", "public.i");
        assert_eq!(suggestion(&f), "drop it");
    }
}
