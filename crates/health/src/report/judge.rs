//! Judging a report: its sections turned into findings, each with a severity and one line
//! saying what to do.

use crate::activity::{self, Activity};
use crate::findings::{bytes, secs, Finding, Severity};
use crate::objects::Objects;
use crate::replication::Replication;

use super::{HealthReport, ReportOptions};

/// What to do about a section that could not be read, from the server's error.
fn unavailable_fix(message: &str) -> &'static str {
    if message.contains("55P03") || message.contains("lock timeout") {
        // The section's 1 s lock wait ran out: a session holds a lock on what it reads.
        "a transaction holds a lock on a table this section reads (see the blocked locks under Sessions): retry once it ends, or end that session"
    } else if message.contains("57014") || message.contains("statement timeout") {
        "the server took longer than the section's 5 s limit: retry when it is less busy"
    } else if message.contains("42501") || message.contains("permission denied") {
        "grant the monitoring role pg_monitor (GRANT pg_monitor TO <role>) and retry"
    } else {
        "retry; if it keeps failing, check the server log for this error"
    }
}

/// Turns the sections into findings, most severe first.
pub fn judge(rep: &HealthReport, opts: &ReportOptions) -> Vec<Finding> {
    let mut f = Vec::new();
    for e in &rep.unavailable {
        f.push(Finding::new(
            Severity::Warning,
            &e.section,
            format!("the {} section could not be read: {}", e.section, e.message),
            unavailable_fix(&e.message),
        ));
    }
    if let Some(s) = rep.server.as_ref().filter(|s| !s.reads_all_stats) {
        f.push(Finding::new(
            Severity::Info,
            "activity",
            format!(
                "this login may not see other roles' sessions and query texts (no pg_read_all_stats on {}): sessions and statements show only its own in full",
                s.database
            ),
            "grant the monitoring role pg_monitor (GRANT pg_monitor TO <role>) to see them all",
        ));
    }
    if let Some(c) = &rep.connections {
        let sev = if c.usage_percent >= 95.0 {
            Some(Severity::Critical)
        } else if c.usage_percent >= 80.0 {
            Some(Severity::Warning)
        } else {
            None
        };
        if let Some(sev) = sev {
            f.push(Finding::new(
                sev,
                "connections",
                format!(
                    "{} of {} connections in use ({:.0}%)",
                    c.total,
                    c.max_connections - c.superuser_reserved,
                    c.usage_percent
                ),
                "put a pooler (PgBouncer) in front of the server, lower the applications' pool sizes, or raise max_connections",
            ));
        }
    }
    if let Some(p) = &rep.pool {
        if p.max > 0 && p.in_use >= p.max {
            f.push(Finding::new(
                Severity::Warning,
                "pool",
                format!(
                    "this client's pool is exhausted ({} of {} in use)",
                    p.in_use, p.max
                ),
                "raise connection_limit= in the database URL or look for long-held connections",
            ));
        }
    }
    if let Some(s) = &rep.statements {
        if let Some(note) = &s.note {
            f.push(Finding::new(
                Severity::Warning,
                "statements",
                "pg_stat_statements is not available: the most expensive statements cannot be shown",
                note.clone(),
            ));
        }
    }
    if let Some(l) = &rep.logging {
        if l.log_statement == "all" {
            f.push(
                Finding::new(
                    Severity::Warning,
                    "logging",
                    "log_statement = 'all': every statement is logged",
                    "heavy on production: set it to 'ddl' or 'mod'",
                )
                .about("log_statement", "all"),
            );
        }
        if l.log_min_duration_statement_ms < 0 {
            f.push(
                Finding::new(
                    Severity::Info,
                    "logging",
                    "slow queries are not logged (log_min_duration_statement = -1)",
                    "log statements slower than 1 s (a minimum duration of 1000 ms)",
                )
                .about("log_min_duration_statement", -1),
            );
        } else if l.log_min_duration_statement_ms == 0 {
            f.push(
                Finding::new(
                    Severity::Warning,
                    "logging",
                    "log_min_duration_statement = 0: the duration of every statement is logged",
                    "heavy on production: use a threshold, e.g. a minimum duration of 1000 ms",
                )
                .about("log_min_duration_statement", 0),
            );
        }
    }
    if let Some(c) = &rep.cache {
        if let Some(r) = c.database_hit_ratio {
            if c.blocks_hit + c.blocks_read >= 10_000 && r < 0.99 {
                f.push(Finding::new(
                    if r < 0.90 { Severity::Critical } else { Severity::Warning },
                    "cache",
                    format!("cache hit ratio {:.1}% (below 99%)", r * 100.0),
                    "the working set does not fit in shared_buffers: raise shared_buffers (about 25% of RAM) or add memory",
                ));
            }
        }
    }
    if let Some(o) = &rep.objects {
        objects_findings(o, opts, &mut f);
    }
    if let Some(a) = &rep.activity {
        activity_findings(a, opts, &mut f);
    }
    if let Some(r) = &rep.replication {
        replication_findings(r, &mut f);
    }
    f.sort_by_key(|x| std::cmp::Reverse(x.severity));
    f
}

fn since_reset(o: &Objects) -> String {
    match o.stats_reset {
        Some(t) => format!("since {}", t.format("%Y-%m-%d %H:%M")),
        None => "since statistics began".into(),
    }
}

fn objects_findings(o: &Objects, opts: &ReportOptions, f: &mut Vec<Finding>) {
    let mut small = (0, 0i64);
    for i in &o.unused_indexes {
        if i.bytes >= opts.big_object_bytes {
            f.push(
                Finding::new(
                    Severity::Warning,
                    "indexes",
                    format!(
                        "index {}.{} on {} unused ({} scans {}), {}",
                        i.schema,
                        i.name,
                        i.table,
                        i.scans,
                        since_reset(o),
                        bytes(i.bytes)
                    ),
                    format!(
                        "consider dropping it: DROP INDEX CONCURRENTLY \"{}\".\"{}\";",
                        i.schema, i.name
                    ),
                )
                .about("unused_index", format_args!("{}.{}", i.schema, i.name)),
            );
        } else {
            small.0 += 1;
            small.1 += i.bytes;
        }
    }
    if small.0 > 0 {
        f.push(Finding::new(
            Severity::Info,
            "indexes",
            format!("{} small indexes unused {} ({} together)", small.0, since_reset(o), bytes(small.1)),
            "review them once the statistics cover a full business cycle; drop the ones no query needs",
        ));
    }
    for d in &o.duplicate_indexes {
        f.push(
            Finding::new(
                Severity::Warning,
                "indexes",
                format!(
                    "identical indexes on {}.{}: {} ({})",
                    d.schema,
                    d.table,
                    d.indexes.join(", "),
                    bytes(d.bytes)
                ),
                "keep one (the one backing a constraint, if any) and drop the others",
            )
            .about(
                "duplicate_indexes",
                format_args!("{}.{}:{}", d.schema, d.table, d.indexes.join(",")),
            ),
        );
    }
    for i in &o.invalid_indexes {
        f.push(
            Finding::new(
                Severity::Warning,
                "indexes",
                format!(
                    "index {}.{} is INVALID (a failed concurrent build)",
                    i.schema, i.name
                ),
                format!(
                    "drop and re-create it: DROP INDEX CONCURRENTLY \"{}\".\"{}\"; then {}",
                    i.schema, i.name, i.definition
                ),
            )
            .about("invalid_index", format_args!("{}.{}", i.schema, i.name)),
        );
    }
    let mut small_fk = 0;
    for m in &o.missing_fk_indexes {
        if m.table_bytes >= opts.big_object_bytes {
            f.push(Finding::new(
                Severity::Warning,
                "indexes",
                format!(
                    "foreign key {} on {}.{} ({}) has no supporting index ({}, ~{} rows)",
                    m.constraint, m.schema, m.table, m.columns.join(", "), bytes(m.table_bytes),
                    m.row_estimate.map(|r| format!("{r:.0}")).unwrap_or_else(|| "?".into())
                ),
                format!(
                    "deletes and updates on {} scan the whole table: CREATE INDEX CONCURRENTLY ON \"{}\".\"{}\" ({});",
                    m.referenced_table, m.schema, m.table,
                    m.columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
                ),
            )
            .about("fk_without_index", format_args!("{}.{}.{}", m.schema, m.table, m.constraint)));
        } else {
            small_fk += 1;
        }
    }
    if small_fk > 0 {
        f.push(Finding::new(
            Severity::Info,
            "indexes",
            format!("{small_fk} foreign keys on small tables have no supporting index"),
            "fine while the tables are small; index them before they grow",
        ));
    }
    for t in &o.dead_tuples {
        if t.dead_tuples >= 10_000 && t.dead_ratio >= 0.2 {
            let last = [t.last_vacuum, t.last_autovacuum]
                .into_iter()
                .flatten()
                .max();
            f.push(Finding::new(
                if t.dead_ratio >= 0.5 { Severity::Critical } else { Severity::Warning },
                "vacuum",
                format!(
                    "table {}.{} has {} dead tuples ({:.0}%), last vacuum {}",
                    t.schema, t.name, t.dead_tuples, t.dead_ratio * 100.0,
                    last.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "never".into())
                ),
                format!(
                    "run VACUUM (ANALYZE) \"{}\".\"{}\"; and check autovacuum is keeping up (long transactions block it)",
                    t.schema, t.name
                ),
            )
            .about("dead_tuples", format_args!("{}.{}", t.schema, t.name)));
        }
    }
}

fn who(s: &activity::SessionInfo) -> String {
    format!(
        "{}@{}{}",
        s.user.as_deref().unwrap_or("?"),
        s.database.as_deref().unwrap_or("?"),
        s.application
            .as_deref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default()
    )
}

fn activity_findings(a: &Activity, opts: &ReportOptions, f: &mut Vec<Finding>) {
    let idle_limit = opts.idle_in_transaction.as_secs_f64();
    let long_limit = opts.long_transaction.as_secs_f64();
    for s in &a.sessions {
        let xact = s.xact_seconds.unwrap_or(0.0);
        if s.idle_in_transaction() && s.state_seconds.unwrap_or(0.0) >= idle_limit {
            f.push(Finding::new(
                Severity::Warning,
                "activity",
                format!(
                    "session {} ({}) idle in transaction for {}",
                    s.pid, who(s), secs(s.state_seconds.unwrap_or(0.0))
                ),
                format!(
                    "it holds locks and blocks vacuum: fix the application to commit, set idle_in_transaction_session_timeout, or terminate session {}",
                    s.pid
                ),
            )
            .about("idle_in_transaction", s.pid));
        } else if xact >= long_limit {
            f.push(Finding::new(
                Severity::Warning,
                "activity",
                format!("transaction of session {} ({}) open for {}", s.pid, who(s), secs(xact)),
                format!(
                    "long transactions block vacuum and hold locks: check it, or cancel or terminate session {}",
                    s.pid
                ),
            )
            .about("long_transaction", s.pid));
        }
    }
    for b in &a.blocked {
        let wait = b.waiting.query_seconds.unwrap_or(0.0);
        let blockers = b
            .blockers
            .iter()
            .map(|s| format!("{} ({})", s.pid, who(s)))
            .collect::<Vec<_>>();
        let pids = b
            .waiting
            .blocked_by
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>();
        f.push(Finding::new(
            if wait >= 60.0 { Severity::Critical } else { Severity::Warning },
            "locks",
            format!(
                "session {} waits {} for a {}{} held by {}",
                b.waiting.pid,
                secs(wait),
                b.lock_mode.as_deref().unwrap_or("lock"),
                match (b.relation.as_deref(), b.lock_type.as_deref()) {
                    (Some(r), _) => format!(" on {r}"),
                    (None, Some("transactionid")) => " (a row the other transaction changed)".into(),
                    (None, Some(t)) => format!(" ({t})"),
                    _ => String::new(),
                },
                if blockers.is_empty() { pids.join(", ") } else { blockers.join(", ") }
            ),
            format!(
                "finish the blocking transaction, or cancel session {} (terminate it if it is idle in transaction)",
                pids.join(" / ")
            ),
        )
            .about("blocked", b.waiting.pid));
    }
}

fn replication_findings(r: &Replication, f: &mut Vec<Finding>) {
    let a = &r.archiver;
    if a.archive_mode == "off" {
        f.push(Finding::new(
            Severity::Info,
            "replication",
            "WAL archiving is off: point-in-time recovery is not possible",
            "set archive_mode = on and an archive_command (or use pgBackRest / WAL-G), then restart",
        ));
    } else if a.failing() {
        f.push(Finding::new(
            Severity::Critical,
            "replication",
            format!(
                "WAL archiving is failing ({} failures, last {} at {})",
                a.failed_count,
                a.last_failed_wal.as_deref().unwrap_or("?"),
                a.last_failed_time
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default()
            ),
            "check archive_command in the server log; WAL piles up in pg_wal until it succeeds",
        ));
    }
    for rep in &r.replicas {
        if rep.replay_lag_seconds.unwrap_or(0.0) >= 60.0 {
            f.push(
                Finding::new(
                    Severity::Warning,
                    "replication",
                    format!(
                        "replica {} is {} behind",
                        rep.application.as_deref().unwrap_or("?"),
                        secs(rep.replay_lag_seconds.unwrap_or(0.0))
                    ),
                    "check the replica's load, network and hot_standby_feedback conflicts",
                )
                .about("replica_lag", rep.application.as_deref().unwrap_or("?")),
            );
        }
    }
    for s in &r.slots {
        let kept = s.retained_bytes.unwrap_or(0.0);
        if !s.active && kept >= 1024.0 * 1024.0 * 1024.0 {
            f.push(
                Finding::new(
                    Severity::Warning,
                    "replication",
                    format!(
                        "inactive replication slot {} retains {} of WAL",
                        s.name,
                        bytes(kept as i64)
                    ),
                    format!(
                        "reconnect its consumer or drop it: SELECT pg_drop_replication_slot('{}');",
                        s.name
                    ),
                )
                .about("inactive_slot", &s.name),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unavailable_fix;

    #[test]
    fn an_unreadable_section_gets_the_fix_for_its_error() {
        let lock = unavailable_fix(
            "database error: canceling statement due to lock timeout (SQLSTATE 55P03)",
        );
        assert!(lock.contains("holds a lock"), "{lock}");
        let slow = unavailable_fix("canceling statement due to statement timeout (SQLSTATE 57014)");
        assert!(slow.contains("5 s"), "{slow}");
        let denied =
            unavailable_fix("permission denied for view pg_stat_replication (SQLSTATE 42501)");
        assert!(denied.contains("pg_monitor"), "{denied}");
        assert!(unavailable_fix("connection reset").contains("server log"));
    }
}
