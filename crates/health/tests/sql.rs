//! Health checks against the real test PostgreSQL (throwaway cluster with pg_stat_statements
//! preloaded): workloads, locks and sessions created here must show up in the report.

#![allow(clippy::useless_vec)]

mod common;

use std::time::Duration;

use common::exec;
use ncy_core::Error;
use ncy_health::activity;
use ncy_health::logging::{self, LogStatement, LoggingChange};
use ncy_health::prometheus::{self, MetricsQuery};
use ncy_health::{report, statements, ReportOptions, Severity};
use sqlx::Connection;

fn quick() -> ReportOptions {
    ReportOptions {
        sample: Duration::from_millis(200),
        ..ReportOptions::default()
    }
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn audit_count(db: &ncy_core::db::Db, action: &str) -> i64 {
    db.query(
        r#"SELECT count(*)::int8 AS n FROM "AuditLog" WHERE "action" = $1"#,
        &ncy_core::params![action],
    )
    .await
    .unwrap()[0]
        .int("n")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_statement_tops_the_list_and_reset_clears_it() {
    let (db, _url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    exec(&db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await;
    exec(&db, "CREATE TABLE health_workload_marker (id int); INSERT INTO health_workload_marker SELECT generate_series(1, 1000)").await;
    let pool = db.pg().unwrap().pool();
    for i in 0..25 {
        sqlx::query("SELECT pg_sleep(0.01), count(*) FROM health_workload_marker WHERE id > $1")
            .bind(i)
            .execute(pool)
            .await
            .unwrap();
    }
    let top = statements::top(&db, &op, 10, false).await.unwrap();
    assert!(top.available, "{:?}", top.note);
    assert!(top.statements.len() <= 10);
    let s = top
        .statements
        .iter()
        .find(|s| s.query.contains("health_workload_marker WHERE id >"))
        .unwrap_or_else(|| panic!("workload not in the top list: {:#?}", top.statements));
    assert!(s.calls >= 25, "{s:?}");
    assert!(s.mean_exec_time_ms >= 10.0, "{s:?}");
    assert!(s.total_exec_time_ms >= 250.0, "{s:?}");
    // Ordered by total execution time.
    assert!(top
        .statements
        .windows(2)
        .all(|w| w[0].total_exec_time_ms >= w[1].total_exec_time_ms));
    // The report carries the same list.
    let rep = report(&db, &op, &quick()).await.unwrap();
    assert!(rep
        .statements
        .as_ref()
        .unwrap()
        .statements
        .iter()
        .any(|s| s.query.contains("health_workload_marker")));

    let before = audit_count(&db, "health.statements_reset").await;
    let r = statements::reset(&db, &op).await.unwrap();
    assert!(r.statements_cleared > 0);
    assert_eq!(
        audit_count(&db, "health.statements_reset").await,
        before + 1
    );
    let top = statements::top(&db, &op, 10, false).await.unwrap();
    assert!(!top
        .statements
        .iter()
        .any(|s| s.query.contains("health_workload_marker WHERE id >")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_load_it_is_told_apart_from_a_missing_extension() {
    use ncy_core::db::{ConnectOptions, Db, Dialect, Target};
    use ncy_core::migrate::{self, MigrationSet};
    use ncy_tests::cluster::{Cluster, Options};
    let c = Cluster::start(Options {
        stat_statements: false,
        archive: false,
        fast: true,
    })
    .expect("a cluster without shared_preload_libraries");
    let result = async {
        let admin_db = Db::connect(
            &Target::Postgres(c.url("postgres")),
            &ConnectOptions::default(),
        )
        .await
        .expect("connect");
        exec(&admin_db, "CREATE DATABASE ncy").await;
        admin_db.close().await;
        let db = Db::connect(&Target::Postgres(c.url("ncy")), &ConnectOptions::default())
            .await
            .expect("connect");
        let set = MigrationSet::embedded(Dialect::Postgres).expect("migrations");
        migrate::up(&db, &set).await.expect("migrate");
        let op = ncy_tests::seeded_admin(&db).await;
        exec(&db, "DROP EXTENSION IF EXISTS pg_stat_statements").await;
        let neither = statements::top(&db, &op, 10, false).await.expect("top");
        exec(&db, "CREATE EXTENSION pg_stat_statements").await;
        let created = statements::top(&db, &op, 10, false).await.expect("top");
        db.close().await;
        (neither, created)
    }
    .await;
    c.stop();
    let (neither, created) = result;
    let n = neither.note.expect("note");
    assert!(
        n.contains("does not load it") && n.contains("restart") && n.contains("CREATE EXTENSION"),
        "{n}"
    );
    assert!(!created.available);
    let n = created.note.expect("note");
    assert!(
        n.contains("created in database ncy")
            && n.contains("restart")
            && !n.contains("CREATE EXTENSION"),
        "{n}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_extension_says_how_to_enable_it() {
    let (db, _url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    exec(&db, "DROP EXTENSION IF EXISTS pg_stat_statements").await;
    let top = statements::top(&db, &op, 10, false).await.unwrap();
    assert!(!top.available);
    let note = top.note.unwrap();
    // The harness cluster preloads it: only CREATE EXTENSION is missing, no restart.
    assert!(
        note.contains("loaded by the server")
            && note.contains("CREATE EXTENSION")
            && !note.contains("shared_preload_libraries"),
        "{note}"
    );
    let rep = report(&db, &op, &quick()).await.unwrap();
    assert!(rep
        .findings
        .iter()
        .any(|f| f.section == "statements" && f.suggestion.contains("CREATE EXTENSION")));
    let e = statements::reset(&db, &op).await.unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_duplicate_and_fk_indexes_locks_and_idle_sessions_are_found() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    exec(
        &db,
        "CREATE TABLE health_parent (id int PRIMARY KEY, v int);
         INSERT INTO health_parent SELECT g, g FROM generate_series(1, 2000) g;
         CREATE INDEX health_parent_v_unused ON health_parent (v);
         CREATE INDEX health_parent_v_twin ON health_parent (v);
         CREATE TABLE health_child (id int PRIMARY KEY, parent_id int REFERENCES health_parent (id));
         INSERT INTO health_child VALUES (1, 2);
         ANALYZE health_parent;",
    )
    .await;

    // Session A holds a row lock and goes idle in transaction; session B waits for it.
    let mut a = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("SET application_name = 'health-holder'; BEGIN; UPDATE health_parent SET v = v + 1 WHERE id = 1")
        .execute(&mut a)
        .await
        .unwrap();
    let a_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut a)
        .await
        .unwrap();
    let mut b = sqlx::PgConnection::connect(&url).await.unwrap();
    let b_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut b)
        .await
        .unwrap();
    let waiter = tokio::spawn(async move {
        let r = sqlx::query("UPDATE health_parent SET v = v + 2 WHERE id = 1")
            .execute(&mut b)
            .await;
        (r.map(|r| r.rows_affected()), b)
    });
    let pool = db.pg().unwrap().pool().clone();
    wait_until("session B to wait for the lock", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock')",
            )
            .bind(b_pid)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    })
    .await;

    let opts = ReportOptions {
        idle_in_transaction: Duration::ZERO,
        big_object_bytes: 1,
        ..quick()
    };
    let rep = report(&db, &op, &opts).await.unwrap();
    assert!(rep.unavailable.is_empty(), "{:?}", rep.unavailable);
    let objects = rep.objects.as_ref().unwrap();
    assert!(
        objects
            .unused_indexes
            .iter()
            .any(|i| i.name == "health_parent_v_unused"),
        "{:#?}",
        objects.unused_indexes
    );
    assert!(!objects
        .unused_indexes
        .iter()
        .any(|i| i.name == "health_parent_pkey"));
    assert!(objects
        .duplicate_indexes
        .iter()
        .any(|d| d.indexes == vec!["health_parent_v_twin", "health_parent_v_unused"]));
    assert!(objects
        .missing_fk_indexes
        .iter()
        .any(|m| m.table == "health_child" && m.columns == vec!["parent_id"]));
    let parent = objects
        .tables
        .iter()
        .find(|t| t.name == "health_parent")
        .unwrap();
    assert_eq!(parent.row_estimate, Some(2000.0));
    assert!(
        parent.index_bytes > 0 && parent.total_bytes >= parent.table_bytes + parent.index_bytes
    );

    let act = rep.activity.as_ref().unwrap();
    let holder = act
        .sessions
        .iter()
        .find(|s| s.pid == a_pid as i64)
        .expect("holder listed");
    assert!(holder.idle_in_transaction(), "{holder:?}");
    assert_eq!(holder.application.as_deref(), Some("health-holder"));
    let blocked = act
        .blocked
        .iter()
        .find(|x| x.waiting.pid == b_pid as i64)
        .expect("blocked session listed");
    assert_eq!(blocked.waiting.blocked_by, vec![a_pid as i64]);
    assert_eq!(blocked.blockers.len(), 1);
    assert_eq!(blocked.blockers[0].pid, a_pid as i64);

    let has = |sev: Severity, needle: &str| {
        rep.findings
            .iter()
            .any(|f| f.severity == sev && f.title.contains(needle) && !f.suggestion.is_empty())
    };
    assert!(
        has(Severity::Warning, "health_parent_v_unused"),
        "{:#?}",
        rep.findings
    );
    assert!(
        has(Severity::Warning, "identical indexes"),
        "{:#?}",
        rep.findings
    );
    assert!(
        has(Severity::Warning, &format!("session {a_pid} ")),
        "{:#?}",
        rep.findings
    );
    assert!(
        has(Severity::Warning, &format!("session {b_pid} waits")),
        "{:#?}",
        rep.findings
    );
    // Each finding about one object names it by a stable key (the screen's rows use it).
    let about = |key: &str| rep.findings.iter().any(|f| f.about.as_deref() == Some(key));
    for key in [
        "unused_index:public.health_parent_v_unused".to_string(),
        "duplicate_indexes:public.health_parent:health_parent_v_twin,health_parent_v_unused".into(),
        "fk_without_index:public.health_child.health_child_parent_id_fkey".into(),
        format!("idle_in_transaction:{a_pid}"),
        format!("blocked:{b_pid}"),
    ] {
        assert!(about(&key), "{key}: {:#?}", rep.findings);
    }
    assert!(rep
        .findings
        .iter()
        .filter(|f| f.title.contains("small indexes unused"))
        .all(|f| f.about.is_none()));
    // Most severe first.
    assert!(rep
        .findings
        .windows(2)
        .all(|w| w[0].severity >= w[1].severity));

    // The other sections are there too.
    let server = rep.server.as_ref().unwrap();
    assert!(
        server.version_num >= 130000 && server.database_bytes > 0 && server.uptime_seconds > 0.0
    );
    let conns = rep.connections.as_ref().unwrap();
    assert!(conns.total >= 3 && conns.max_connections > 0 && conns.idle_in_transaction >= 1);
    assert!(rep.pool.as_ref().unwrap().max == 5);
    assert!(rep.cache.is_some() && rep.logging.is_some());
    let tp = rep.throughput.as_ref().unwrap();
    assert!(tp.sample_seconds >= 0.2 && tp.cumulative.xact_commit > 0);
    let repl = rep.replication.as_ref().unwrap();
    assert_eq!(repl.archiver.archive_mode, "on");

    // Terminating the holder releases the waiter; the action is audited.
    let before = audit_count(&db, "health.terminate_session").await;
    let done = activity::terminate(&db, &op, a_pid as i64).await.unwrap();
    assert_eq!(done.session.pid, a_pid as i64);
    let (updated, _b) = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("waiter released")
        .unwrap();
    assert_eq!(updated.unwrap(), 1);
    assert_eq!(
        audit_count(&db, "health.terminate_session").await,
        before + 1
    );
    drop(a);
    // Unknown pid: not found; own session: refused.
    let e = activity::cancel(&db, &op, 999_999).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_statement_and_is_audited() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let sleeper = tokio::spawn(async move {
        sqlx::query("SELECT pg_sleep(30)")
            .execute(&mut c)
            .await
            .map(|_| ())
    });
    let pool = db.pg().unwrap().pool().clone();
    wait_until("the sleeper to run", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active')",
            )
            .bind(pid)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    })
    .await;
    activity::cancel(&db, &op, pid as i64).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), sleeper)
        .await
        .expect("cancelled in time")
        .unwrap();
    let e = r.unwrap_err().to_string();
    assert!(e.contains("canceling statement"), "{e}");
    assert_eq!(audit_count(&db, "health.cancel_query").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_logging_applies_warns_and_audits() {
    let (db, _url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    let original = logging::current(&db, &op).await.unwrap();
    let change = LoggingChange {
        min_duration_ms: Some(1234),
        statement: Some(LogStatement::All),
    };
    let up = logging::set(&db, &op, &change).await.unwrap();
    assert_eq!(up.before, original);
    assert_eq!(up.after.log_min_duration_statement_ms, 1234);
    assert!(
        up.warnings.iter().any(|w| w.contains("heavy")),
        "{:?}",
        up.warnings
    );
    wait_until("the reloaded settings", || {
        let (db, op) = (db.clone(), op.clone());
        async move {
            let s = logging::current(&db, &op).await.unwrap();
            s.log_min_duration_statement_ms == 1234 && s.log_statement == "all"
        }
    })
    .await;
    // Each backend takes the reload when the postmaster's signal reaches it: one pooled
    // connection seeing the new settings does not mean another one already does (the postmaster
    // signals its children one after the other, and a loaded machine may pause it in between),
    // and the report reads on other connections.
    wait_until("the report's log_statement finding", || {
        let (db, op) = (db.clone(), op.clone());
        async move {
            let rep = report(&db, &op, &quick()).await.unwrap();
            rep.findings
                .iter()
                .any(|f| f.title.contains("log_statement = 'all'"))
        }
    })
    .await;
    let rows = ncy_tests::audit_values(&db, "health.set_logging").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].1.as_ref().unwrap()["log_min_duration_statement"],
        1234
    );
    // Bad input: nothing given, out of range.
    assert!(matches!(
        logging::set(&db, &op, &LoggingChange::default())
            .await
            .unwrap_err(),
        Error::Invalid { .. }
    ));
    assert!(matches!(
        logging::set(
            &db,
            &op,
            &LoggingChange {
                min_duration_ms: Some(-5),
                statement: None
            }
        )
        .await
        .unwrap_err(),
        Error::Invalid { .. }
    ));
    assert!(LogStatement::parse("everything").is_err());
    // Restore the cluster's settings.
    logging::set(
        &db,
        &op,
        &LoggingChange {
            min_duration_ms: Some(original.log_min_duration_statement_ms),
            statement: Some(LogStatement::parse(&original.log_statement).unwrap()),
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_is_forbidden_everywhere() {
    let (db, _url) = ncy_tests::fresh_pg().await;
    ncy_core::seed::dev(&db, false).await.expect("dev seed");
    let op = ncy_tests::login_as(&db, "employee@test-org.com", "employee123").await;
    let forbidden = |e: Error, p: &str| match e {
        Error::Forbidden { permission } => assert_eq!(permission, p),
        other => panic!("expected Forbidden({p}), got {other}"),
    };
    forbidden(report(&db, &op, &quick()).await.unwrap_err(), "health.read");
    forbidden(
        statements::top(&db, &op, 10, false).await.unwrap_err(),
        "health.read",
    );
    forbidden(
        statements::reset(&db, &op).await.unwrap_err(),
        "health.configure",
    );
    forbidden(
        logging::set(
            &db,
            &op,
            &LoggingChange {
                min_duration_ms: Some(1000),
                statement: None,
            },
        )
        .await
        .unwrap_err(),
        "health.configure",
    );
    forbidden(
        activity::cancel(&db, &op, 1).await.unwrap_err(),
        "health.configure",
    );
    forbidden(
        activity::terminate(&db, &op, 1).await.unwrap_err(),
        "health.configure",
    );
    let q = MetricsQuery {
        window: Duration::from_secs(60),
        step: None,
        database: None,
    };
    forbidden(
        prometheus::metrics(&op, "http://127.0.0.1:9", &q)
            .await
            .unwrap_err(),
        "health.read",
    );
    assert_eq!(audit_count(&db, "health.set_logging").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_schema_passes_the_foreign_key_index_check() {
    // Every foreign key of the migrated schema has an index to serve it (migration 0009), so
    // deletes of referenced rows and lookups by owner never scan a whole table.
    let (db, _) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    let rep = report(&db, &op, &quick()).await.unwrap();
    let missing = &rep.objects.as_ref().expect("objects").missing_fk_indexes;
    assert!(missing.is_empty(), "{missing:#?}");
    assert!(!rep
        .findings
        .iter()
        .any(|f| f.title.contains("no supporting index")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_table_costs_one_section_not_the_report() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    exec(&db, "CREATE TABLE health_locked (id int)").await;
    // Another session holds an ACCESS EXCLUSIVE lock: reading the table's size waits for it.
    let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE health_locked IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let rep = report(&db, &op, &quick()).await.unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "bounded by the lock timeout"
    );
    let objects = rep
        .unavailable
        .iter()
        .find(|u| u.section == "objects")
        .expect("the objects section gives up");
    assert!(objects.message.contains("lock timeout"), "{objects:?}");
    let f = rep
        .findings
        .iter()
        .find(|f| f.section == "objects")
        .expect("a finding says why");
    assert!(f.suggestion.contains("holds a lock"), "{f:?}");
    // Every other section still answers.
    assert!(rep.server.is_some() && rep.connections.is_some() && rep.activity.is_some());
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_workspace_says_it_needs_postgresql() {
    let (db, _dir) = ncy_tests::fresh_sqlite().await;
    let op = ncy_tests::seeded_admin(&db).await;
    let rep = report(&db, &op, &quick()).await.unwrap();
    let info = rep.sqlite.as_ref().expect("sqlite stats");
    assert!(info.file_bytes > 0 && info.page_count > 0 && info.page_size > 0);
    assert!(rep.server.is_none() && rep.activity.is_none());
    assert!(
        rep.findings[0].title.contains("needs PostgreSQL"),
        "{:?}",
        rep.findings
    );
    let e = statements::top(&db, &op, 10, false).await.unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { .. }) && e.to_string().contains("PostgreSQL"),
        "{e}"
    );
    let e = activity::terminate(&db, &op, 42).await.unwrap_err();
    assert!(e.to_string().contains("needs a PostgreSQL database"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_server_privileges_gets_the_grant_to_ask_for() {
    let (db, url) = ncy_tests::fresh_pg().await;
    ncy_core::seed::dev(&db, false).await.unwrap();
    exec(&db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await;
    let role = format!("health_plain_{}", uuid_suffix());
    exec(
        &db,
        &format!(
            "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA public TO {role};
             GRANT ALL ON ALL TABLES IN SCHEMA public TO {role};"
        ),
    )
    .await;
    let plain_url = url.replacen("postgres@", &format!("{role}@"), 1);
    let plain = ncy_core::db::Db::connect(
        &ncy_core::db::Target::Postgres(plain_url),
        &ncy_tests::small_pool(),
    )
    .await
    .unwrap();
    let op = ncy_tests::seeded_admin(&plain).await;

    // Viewing works without superuser, and says what such a role cannot see.
    let rep = report(&plain, &op, &quick()).await.unwrap();
    assert!(rep.unavailable.is_empty(), "{:?}", rep.unavailable);
    assert!(rep.server.is_some() && rep.activity.is_some());
    let hidden = |r: &ncy_health::HealthReport| {
        r.findings
            .iter()
            .any(|f| f.title.contains("pg_read_all_stats") && f.suggestion.contains("pg_monitor"))
    };
    assert!(!rep.server.as_ref().unwrap().reads_all_stats);
    assert!(hidden(&rep), "{:?}", rep.findings);
    let full = report(&db, &op, &quick()).await.unwrap();
    assert!(full.server.as_ref().unwrap().reads_all_stats && !hidden(&full));
    exec(&db, &format!("GRANT pg_monitor TO {role}")).await;
    let granted = report(&plain, &op, &quick()).await.unwrap();
    assert!(granted.server.as_ref().unwrap().reads_all_stats && !hidden(&granted));

    let config = |e: Error, needle: &str| match e {
        e @ Error::Privilege { .. } => {
            let m = e.to_string();
            assert!(m.contains(needle), "{needle:?} not in {m}");
            assert!(
                m.starts_with("configuration error: the connected database role may not"),
                "{m}"
            );
            assert_eq!(e.code(), "config", "{m}");
            assert!(
                std::error::Error::source(&e).is_some(),
                "the server's refusal is kept as the source: {m}"
            );
        }
        other => panic!("expected a privilege error naming {needle:?}, got {other}"),
    };
    config(
        logging::set(
            &plain,
            &op,
            &LoggingChange {
                min_duration_ms: Some(1000),
                statement: None,
            },
        )
        .await
        .unwrap_err(),
        "GRANT ALTER SYSTEM",
    );
    config(
        statements::reset(&plain, &op).await.unwrap_err(),
        "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset",
    );
    // A superuser's session cannot be terminated by a plain role; nothing is audited.
    let su = db.pg().unwrap().pool();
    let mut conn = su.acquire().await.unwrap();
    let su_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    config(
        activity::terminate(&plain, &op, su_pid as i64)
            .await
            .unwrap_err(),
        "pg_signal_backend",
    );
    assert_eq!(audit_count(&db, "health.terminate_session").await, 0);
    assert_eq!(audit_count(&db, "health.statements_reset").await, 0);
    assert_eq!(audit_count(&db, "health.set_logging").await, 0);
    drop(conn);
    plain.close().await;
}

fn uuid_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_tuples_and_long_transactions_become_findings() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    exec(
        &db,
        "CREATE TABLE health_dead (id int, pad text) WITH (autovacuum_enabled = false);
         INSERT INTO health_dead SELECT g, repeat('x', 20) FROM generate_series(1, 20000) g;
         DELETE FROM health_dead WHERE id <= 15000;",
    )
    .await;
    // A transaction kept busy in another session.
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let busy = tokio::spawn(async move {
        let r = async {
            let mut tx = c.begin().await?;
            sqlx::query("SELECT pg_sleep(30)").execute(&mut *tx).await?;
            tx.commit().await
        }
        .await;
        (r, c)
    });
    let opts = ReportOptions {
        long_transaction: Duration::ZERO,
        idle_in_transaction: Duration::from_secs(3600),
        ..quick()
    };
    let mut last = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // Statistics reach pg_stat_user_tables within about a second of the DELETE.
    while std::time::Instant::now() < deadline {
        let rep = report(&db, &op, &opts).await.unwrap();
        let dead = rep
            .objects
            .as_ref()
            .unwrap()
            .dead_tuples
            .iter()
            .any(|t| t.name == "health_dead" && t.dead_tuples >= 15000);
        let long = rep
            .activity
            .as_ref()
            .unwrap()
            .sessions
            .iter()
            .any(|s| s.pid == pid as i64 && s.state.as_deref() == Some("active"));
        last = Some(rep);
        if dead && long {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rep = last.unwrap();
    let t = rep
        .objects
        .as_ref()
        .unwrap()
        .dead_tuples
        .iter()
        .find(|t| t.name == "health_dead")
        .expect("dead tuples listed")
        .clone();
    assert!(t.dead_ratio > 0.7 && t.last_autovacuum.is_none(), "{t:?}");
    assert!(
        rep.findings.iter().any(|f| f.severity == Severity::Critical
            && f.title.contains("health_dead")
            && f.suggestion.contains("VACUUM")
            && f.about.as_deref() == Some("dead_tuples:public.health_dead")),
        "{:#?}",
        rep.findings
    );
    assert!(
        rep.findings.iter().any(|f| f.section == "activity"
            && f.title.contains(&format!("transaction of session {pid} "))
            && f.about == Some(format!("long_transaction:{pid}"))),
        "{:#?}",
        rep.findings
    );
    activity::cancel(&db, &op, pid as i64).await.unwrap();
    let (r, _c) = tokio::time::timeout(Duration::from_secs(10), busy)
        .await
        .unwrap()
        .unwrap();
    assert!(r.is_err(), "the sleep was cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_slots_and_the_archiver_are_read() {
    let (db, _url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    // Slots are the cluster's: a unique name, dropped at the end. A physical slot reserving
    // WAL retains a few bytes only, far below the finding's 1 GiB.
    let kept = format!("health_kept_{}", uuid_suffix());
    let lazy = format!("health_lazy_{}", uuid_suffix());
    exec(
        &db,
        &format!(
            "SELECT pg_create_physical_replication_slot('{kept}', true);
             SELECT pg_create_physical_replication_slot('{lazy}', false);"
        ),
    )
    .await;
    let rep = report(&db, &op, &quick()).await;
    exec(
        &db,
        &format!(
            "SELECT pg_drop_replication_slot('{kept}'); SELECT pg_drop_replication_slot('{lazy}');"
        ),
    )
    .await;
    let rep = rep.unwrap();
    let r = rep.replication.as_ref().expect("replication");
    assert!(!r.in_recovery);
    let slot = |name: &str| {
        r.slots
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} not in {:?}", r.slots))
    };
    let k = slot(&kept);
    assert!(k.slot_type == "physical" && !k.active, "{k:?}");
    assert!(k.retained_bytes.is_some_and(|b| b >= 0.0), "{k:?}");
    // Not reserving WAL: no restart position, nothing retained.
    assert_eq!(slot(&lazy).retained_bytes, None, "{:?}", slot(&lazy));
    assert!(r.replicas.is_empty(), "{:?}", r.replicas);
    assert!(!r.archiver.archive_mode.is_empty() && !r.archiver.wal_level.is_empty());
    assert!(r.archiver.failed_count >= 0 && !r.archiver.failing());
    assert!(!rep.findings.iter().any(|f| f.title.contains(&kept)));
}

/// The report through a transaction-mode PgBouncer (`pgbouncer=true`), one server connection
/// shared by every client connection: every section reads, twice, and no statement stays
/// prepared on the server connection (which another client would meet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_reads_through_pgbouncer_in_transaction_mode() {
    use ncy_core::db::{ConnectOptions, Db, Target};
    use ncy_tests::pooler::{Pooler, PoolerOptions};

    let (db, url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    let (_pooler, purl) = Pooler::in_front_of(
        &url,
        &PoolerOptions {
            pool_size: 1,
            ..PoolerOptions::default()
        },
    );
    let pdb = Db::connect(
        &Target::Postgres(format!("{purl}?pgbouncer=true")),
        &ConnectOptions {
            max_connections: 8,
            ..ConnectOptions::default()
        },
    )
    .await
    .expect("connect through pgbouncer");
    assert!(pdb.pooled());
    for _ in 0..2 {
        let rep = report(&pdb, &op, &quick()).await.unwrap();
        assert!(rep.unavailable.is_empty(), "{:?}", rep.unavailable);
        assert!(rep.objects.is_some() && rep.activity.is_some() && rep.replication.is_some());
    }
    let left = pdb
        .query(
            "SELECT count(*)::int8 AS n FROM pg_prepared_statements",
            &[],
        )
        .await
        .unwrap()[0]
        .int("n")
        .unwrap();
    assert_eq!(
        left, 0,
        "statements left prepared on the shared server connection"
    );
    pdb.close().await;
}

/// On a direct connection the sections' statements are prepared once per pooled connection
/// and their plans kept (planning the catalog statements cost more than their round trips).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_connection_keeps_the_sections_statements_prepared() {
    use ncy_core::db::{ConnectOptions, Db, Target};

    let (db, url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    // One connection: every section, and the count below, run on it.
    let one = Db::connect(
        &Target::Postgres(url),
        &ConnectOptions {
            max_connections: 1,
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap();
    for _ in 0..2 {
        let rep = report(&one, &op, &quick()).await.unwrap();
        assert!(rep.unavailable.is_empty(), "{:?}", rep.unavailable);
    }
    // The statements run on the health reader, here of one connection too (no more than the
    // store allows).
    let reader = ncy_health::guard::reader(one.pg().unwrap());
    let kept = reader
        .query(
            "SELECT count(*)::int8 AS n FROM pg_prepared_statements
             WHERE statement LIKE 'WITH t AS MATERIALIZED%' OR statement LIKE 'WITH ix AS%'",
            &[],
        )
        .await
        .unwrap()[0]
        .int("n")
        .unwrap();
    assert_eq!(kept, 2, "the objects statements, prepared once each");
    // Its session is read-only, with the health timeouts, whatever the statement.
    let settings = reader
        .query(
            "SELECT current_setting('transaction_read_only') AS ro,
                    current_setting('statement_timeout') AS st,
                    current_setting('lock_timeout') AS lt",
            &[],
        )
        .await
        .unwrap();
    let s = |k: &str| settings[0].text(k).unwrap();
    assert_eq!(
        (s("ro"), s("st"), s("lt")),
        ("on".into(), "5s".into(), "1s".into())
    );
    let write = reader
        .query("CREATE TABLE health_reader_writes (id int)", &[])
        .await;
    assert!(
        write
            .unwrap_err()
            .to_string()
            .contains("read-only transaction"),
        "the reader cannot write"
    );
    one.close().await;
}
