//! Log tables partitioned by month (`ncy-admin migrate partition-logs`, issue 14): the same
//! behaviour on every layout — AccessLog and ErrorLog plain (PostgreSQL and SQLite),
//! partitioned, and in the middle of the move (old rows still in `<Table>_unpartitioned`):
//! keyset paging and filters of the log viewers, GDPR erasure (client path, and SUPPORT's own
//! login through the database's function) and sweeps, retention (whole partitions dropped, the
//! partial month deleted row by row), `audit verify`. Then the conversion itself: online (a row
//! written after the swap lands in a partition), resumable, idempotent, the same indexes,
//! grants and foreign keys; the coming months created ahead (rows waiting in the default
//! partition moved into their month); the CLI's refusals. AuditLog is converted without moving
//! a row (one legacy partition): its chain intact, its retention behind checkpoints.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDateTime};
use ncy_core::admin::logs::{self, AccessFilter, ErrorFilter};
use ncy_core::admin::users::{self, NewUser};
use ncy_core::auth::{login, Client, LockoutPolicy, Operator};
use ncy_core::db::{now, Db, Dialect};
use ncy_core::model::LogLevel;
use ncy_core::params;
use ncy_core::partition::{self, Layout, Options};
use ncy_gdpr::erase::{self, ErasureOptions};
use ncy_gdpr::request::{self, NewRequest};
use ncy_gdpr::retention;
use ncy_gdpr::sweep;
use ncy_gdpr::RequestKind;
use ncy_tests::cli::{fails, Cli};
use uuid::Uuid;

const SUBJECT: &str = "erin.subject@example.com";

#[derive(Debug, Clone)]
struct Access {
    id: Uuid,
    ts: NaiveDateTime,
    endpoint: String,
    status: i64,
    user: Option<Uuid>,
}

#[derive(Debug, Clone)]
struct ErrorRow {
    id: Uuid,
    ts: NaiveDateTime,
    level: LogLevel,
    message: String,
}

struct Fixture {
    t: NaiveDateTime,
    access: Vec<Access>,
    errors: Vec<ErrorRow>,
}

async fn admin(db: &Db) -> Operator {
    ncy_tests::seeded_admin(db).await
}

/// 300 AccessLog rows over ~15 months and 150 ErrorLog rows over ~15 months, some naming the
/// subject's email; the subject user.
async fn fixture(db: &Db, op: &Operator) -> Fixture {
    users::create(
        db,
        op,
        &NewUser {
            email: SUBJECT.into(),
            role: None,
            status: None,
            password: Some("subject-password-1".into()),
        },
    )
    .await
    .expect("subject");
    let t = now();
    let mut access = Vec::new();
    let mut tx = db.begin().await.unwrap();
    for k in 0..300i64 {
        let a = Access {
            id: Uuid::new_v4(),
            ts: t - Duration::hours(37 * k) - Duration::milliseconds(k),
            endpoint: if k % 50 == 7 {
                format!("/api/users?email={SUBJECT}&k={k}")
            } else {
                format!("/api/v1/items/{k}")
            },
            status: [200, 201, 404, 500, 403][(k % 5) as usize],
            user: (k % 3 == 0).then_some(op.user_id),
        };
        tx.execute(
            r#"INSERT INTO "AccessLog" ("id", "user_id", "method", "endpoint", "status_code", "latency_ms", "timestamp")
               VALUES ($1, $2, 'GET', $3, $4, 12, $5)"#,
            &params![a.id, a.user, a.endpoint.as_str(), a.status, a.ts],
        )
        .await
        .unwrap();
        access.push(a);
    }
    let mut errors = Vec::new();
    for k in 0..150i64 {
        let e = ErrorRow {
            id: Uuid::new_v4(),
            ts: t - Duration::hours(73 * k) - Duration::milliseconds(k),
            level: [
                LogLevel::DEBUG,
                LogLevel::INFO,
                LogLevel::WARN,
                LogLevel::ERROR,
            ][(k % 4) as usize],
            message: if k % 40 == 3 {
                format!("lookup failed for {SUBJECT}")
            } else {
                format!("failure {k}")
            },
        };
        tx.execute(
            r#"INSERT INTO "ErrorLog" ("id", "service", "level", "message", "context", "created_at")
               VALUES ($1, 'api', $2::"LogLevel", $3, '{}', $4)"#,
            &params![e.id, e.level.as_str(), e.message.as_str(), e.ts],
        )
        .await
        .unwrap();
        errors.push(e);
    }
    tx.commit().await.unwrap();
    Fixture { t, access, errors }
}

async fn all_access(db: &Db, op: &Operator, f: &AccessFilter, lim: u32) -> Vec<Uuid> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let p = logs::access(db, op, f, lim, after.as_deref())
            .await
            .expect("access page");
        assert!(p.items.len() <= lim as usize);
        out.extend(p.items.iter().map(|e| e.id));
        match p.next_cursor {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

async fn all_errors(db: &Db, op: &Operator, f: &ErrorFilter, lim: u32) -> Vec<Uuid> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let p = logs::errors(db, op, f, lim, after.as_deref())
            .await
            .expect("error page");
        out.extend(p.items.iter().map(|e| e.id));
        match p.next_cursor {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

fn newest_first_access(rows: impl Iterator<Item = Access>) -> Vec<Uuid> {
    let mut v: Vec<Access> = rows.collect();
    v.sort_by_key(|a| std::cmp::Reverse((a.ts, a.id)));
    v.into_iter().map(|a| a.id).collect()
}

fn newest_first_errors(rows: impl Iterator<Item = ErrorRow>) -> Vec<Uuid> {
    let mut v: Vec<ErrorRow> = rows.collect();
    v.sort_by_key(|a| std::cmp::Reverse((a.ts, a.id)));
    v.into_iter().map(|a| a.id).collect()
}

/// The viewers: every row once, newest first, through small keyset pages; filters.
async fn viewers(db: &Db, op: &Operator, fx: &Fixture) {
    let all = newest_first_access(fx.access.iter().cloned());
    assert_eq!(all_access(db, op, &AccessFilter::default(), 7).await, all);
    let f = AccessFilter {
        status: Some(400),
        status_class: true,
        endpoint: Some("items".into()),
        ..Default::default()
    };
    let want = newest_first_access(
        fx.access
            .iter()
            .filter(|a| a.status / 100 == 4 && a.endpoint.contains("items"))
            .cloned(),
    );
    assert!(want.len() > 50);
    assert_eq!(all_access(db, op, &f, 5).await, want);
    // A window across month boundaries.
    let (since, until) = (fx.t - Duration::days(200), fx.t - Duration::days(40));
    let f = AccessFilter {
        user_id: Some(op.user_id),
        since: Some(since),
        until: Some(until),
        ..Default::default()
    };
    let want = newest_first_access(
        fx.access
            .iter()
            .filter(|a| a.user == Some(op.user_id) && a.ts >= since && a.ts < until)
            .cloned(),
    );
    assert!(want.len() > 10);
    assert_eq!(all_access(db, op, &f, 4).await, want);

    let errs = newest_first_errors(fx.errors.iter().cloned());
    assert_eq!(all_errors(db, op, &ErrorFilter::default(), 9).await, errs);
    let f = ErrorFilter {
        min_level: Some(LogLevel::WARN),
        search: Some("failure".into()),
        ..Default::default()
    };
    let want = newest_first_errors(
        fx.errors
            .iter()
            .filter(|e| e.level >= LogLevel::WARN && e.message.contains("failure"))
            .cloned(),
    );
    assert_eq!(all_errors(db, op, &f, 6).await, want);
}

/// Every log row's text (both tables of a move under way).
async fn texts(db: &Db) -> Vec<(Uuid, String)> {
    let mut v: Vec<(Uuid, String)> = Vec::new();
    for (table, col) in [("AccessLog", "endpoint"), ("ErrorLog", "message")] {
        let mut tx = db.begin().await.unwrap();
        let cols = format!(r#""id", "{col}""#);
        let from = partition::source(&mut tx, table, &cols).await.unwrap();
        for r in tx
            .query(&format!(r#"SELECT "id", "{col}" AS x FROM {from}"#), &[])
            .await
            .unwrap()
        {
            v.push((r.uuid("id").unwrap(), r.text("x").unwrap()));
        }
        tx.rollback().await.unwrap();
    }
    v.sort();
    v
}

async fn count(db: &Db, sql: &str) -> i64 {
    db.query(sql, &[]).await.unwrap()[0].int("n").unwrap()
}

/// GDPR erasure of the subject (by `eraser`, through its own connection `edb`): its email
/// leaves every log row, and no other row changes.
async fn erasure(db: &Db, op: &Operator, edb: &Db, eraser: &Operator) {
    let before = texts(db).await;
    let id = request::create(
        db,
        op,
        NewRequest {
            user: SUBJECT.into(),
            kind: RequestKind::Erasure,
            notes: None,
        },
    )
    .await
    .expect("request")
    .id;
    request::verify_identity(db, op, id, "id card")
        .await
        .expect("verify");
    let out = erase::erase(
        edb,
        eraser,
        id,
        SUBJECT,
        &ErasureOptions::default(),
        ncy_core::Work::none(),
    )
    .await
    .expect("erase");
    assert!(out.receipt.sweep.clean, "{:?}", out.receipt.sweep.hits);
    let after = texts(db).await;
    assert_eq!(before.len(), after.len());
    let mut redacted = 0;
    for ((ia, a), (ib, b)) in before.iter().zip(&after) {
        assert_eq!(ia, ib);
        if a.contains(SUBJECT) {
            assert!(!b.contains(SUBJECT), "{b}");
            redacted += 1;
        } else {
            assert_eq!(a, b, "a row without the subject's email is untouched");
        }
    }
    assert_eq!(redacted, 6 + 4, "every row naming the subject");
    let s = sweep::sweep_for(db, op, Some(SUBJECT), &[]).await.unwrap();
    assert!(s.clean, "{:?}", s.hits);
    // One AccessLog table for the sweep, whatever the layout.
    if db.dialect() == Dialect::Postgres {
        let names: Vec<String> = db
            .query(
                "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'AccessLog%' ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.text("t").unwrap())
            .collect();
        assert!(names[0] == "AccessLog" && names.len() <= 2, "{names:?}");
    }
}

/// Retention: a dry run counts and changes nothing; the run removes exactly the rows past the
/// windows (90 days), whole months as partitions when partitioned.
async fn retention_run(db: &Db, op: &Operator, fx: &Fixture) {
    let layout = {
        let mut tx = db.begin().await.unwrap();
        let l = partition::layout(&mut tx, "AccessLog").await.unwrap();
        tx.rollback().await.unwrap();
        l
    };
    let cutoff = fx.t - Duration::days(90);
    let want_access = fx.access.iter().filter(|a| a.ts < cutoff).count() as u64;
    let want_errors = fx.errors.iter().filter(|e| e.ts < cutoff).count() as u64;
    let n = |r: &retention::RetentionReport, t: &str, a: &str| {
        r.items
            .iter()
            .filter(|i| i.table == t && i.action == a)
            .map(|i| i.rows)
            .sum::<u64>()
    };
    let before_parts = if db.dialect() == Dialect::Postgres {
        count(
            db,
            "SELECT count(*) AS n FROM pg_inherits WHERE inhparent = '\"AccessLog\"'::regclass",
        )
        .await
    } else {
        0
    };
    let dry = retention::run(db, op, None, true, Some(fx.t), ncy_core::Work::none())
        .await
        .unwrap();
    assert_eq!(n(&dry, "AccessLog", "deleted"), want_access);
    assert_eq!(n(&dry, "ErrorLog", "deleted"), want_errors);
    assert_eq!(
        all_access(db, op, &AccessFilter::default(), 1000)
            .await
            .len(),
        fx.access.len(),
        "a dry run changes nothing"
    );
    let run = retention::run(db, op, None, false, Some(fx.t), ncy_core::Work::none())
        .await
        .unwrap();
    assert_eq!(n(&run, "AccessLog", "deleted"), want_access);
    assert_eq!(n(&run, "ErrorLog", "deleted"), want_errors);
    let dropped: Vec<&retention::RetentionItem> =
        run.items.iter().filter(|i| i.action == "dropped").collect();
    if layout == Layout::Plain {
        assert!(dropped.is_empty());
    } else {
        // ~11 whole months of AccessLog (15 months of rows, 3 in the window) and of ErrorLog.
        let access_parts = dropped
            .iter()
            .filter(|i| i.table.starts_with("AccessLog_p"))
            .count();
        assert!(access_parts >= 9, "{dropped:?}");
        let in_parts: u64 = dropped
            .iter()
            .filter(|i| i.table.starts_with("AccessLog_p"))
            .map(|i| i.rows)
            .sum();
        if layout == Layout::Moving {
            assert_eq!(
                in_parts, 0,
                "the old rows wait in the old table: deleted row by row"
            );
        } else {
            assert!(
                in_parts > 0 && in_parts < want_access,
                "the partial month row by row"
            );
        }
        let after_parts = count(
            db,
            "SELECT count(*) AS n FROM pg_inherits WHERE inhparent = '\"AccessLog\"'::regclass",
        )
        .await;
        assert!(
            after_parts < before_parts,
            "{before_parts} -> {after_parts}"
        );
        // The month the cutoff falls in is kept.
        let mut tx = db.begin().await.unwrap();
        let parts = partition::partitions(&mut tx, "AccessLog").await.unwrap();
        tx.rollback().await.unwrap();
        assert!(parts
            .iter()
            .any(|p| p.from.is_some_and(|f| f <= cutoff) && p.to.is_some_and(|t| t > cutoff)));
        assert!(parts.iter().all(|p| p.to.is_none_or(|t| t > cutoff)));
    }
    let keep = newest_first_access(fx.access.iter().filter(|a| a.ts >= cutoff).cloned());
    assert_eq!(all_access(db, op, &AccessFilter::default(), 50).await, keep);
    let keep = newest_first_errors(fx.errors.iter().filter(|e| e.ts >= cutoff).cloned());
    assert_eq!(all_errors(db, op, &ErrorFilter::default(), 50).await, keep);
    let again = retention::run(db, op, None, true, Some(fx.t), ncy_core::Work::none())
        .await
        .unwrap();
    assert_eq!(n(&again, "AccessLog", "deleted"), 0);
    if db.dialect() == Dialect::Postgres {
        let v = ncy_core::audit::verify::verify(db, op).await.unwrap();
        assert!(v.ok, "{:?}", v.first_bad);
    }
}

/// A GDPR export of the operator finds every access row about them, wherever it is stored.
async fn export_check(db: &Db, op: &Operator, fx: &Fixture) {
    let id = request::create(
        db,
        op,
        NewRequest {
            user: op.email.clone(),
            kind: RequestKind::Export,
            notes: None,
        },
    )
    .await
    .expect("request")
    .id;
    request::verify_identity(db, op, id, "id card")
        .await
        .expect("verify");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ncy_gdpr::export::export(
        db,
        op,
        id,
        &dir.path().join("bundle"),
        ncy_core::Work::none(),
    )
    .await
    .expect("export");
    let expected = fx
        .access
        .iter()
        .filter(|a| a.user == Some(op.user_id))
        .count() as u64;
    assert!(expected > 0);
    assert_eq!(out.manifest.row_counts.get("AccessLog"), Some(&expected));
}

/// The whole behaviour on one store (`erase_db`/`eraser`: who performs the erasure).
async fn behaviour(db: &Db, op: &Operator, fx: &Fixture, edb: &Db, eraser: &Operator) {
    viewers(db, op, fx).await;
    export_check(db, op, fx).await;
    erasure(db, op, edb, eraser).await;
    retention_run(db, op, fx).await;
}

async fn convert(db: &Db, batch: u32, swap_only: bool) -> Vec<partition::Report> {
    partition::partition_logs(
        db,
        &Options {
            batch,
            swap_only,
            ..Default::default()
        },
        ncy_core::Work::none(),
    )
    .await
    .expect("partition-logs")
}

async fn layout_of(db: &Db, t: &str) -> Layout {
    let mut tx = db.begin().await.unwrap();
    let l = partition::layout(&mut tx, t).await.unwrap();
    tx.rollback().await.unwrap();
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_postgres() {
    let (db, _) = ncy_tests::fresh_pg().await;
    let op = admin(&db).await;
    let fx = fixture(&db, &op).await;
    assert_eq!(layout_of(&db, "AccessLog").await, Layout::Plain);
    behaviour(&db, &op, &fx, &db, &op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_sqlite() {
    let (db, _dir) = ncy_tests::fresh_sqlite().await;
    let op = admin(&db).await;
    let fx = fixture(&db, &op).await;
    assert_eq!(layout_of(&db, "AccessLog").await, Layout::Plain);
    behaviour(&db, &op, &fx, &db, &op).await;
    let e = partition::partition_logs(&db, &Options::default(), ncy_core::Work::none())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("PostgreSQL"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_postgres() {
    let (db, _) = ncy_tests::fresh_pg().await;
    let op = admin(&db).await;
    let fx = fixture(&db, &op).await;
    let r = convert(&db, 23, false).await;
    assert_eq!(r[0].rows_moved, 300);
    assert_eq!(r[1].rows_moved, 150);
    assert_eq!(layout_of(&db, "AccessLog").await, Layout::Partitioned);
    assert_eq!(layout_of(&db, "ErrorLog").await, Layout::Partitioned);
    behaviour(&db, &op, &fx, &db, &op).await;
}

/// The move interrupted after the swap: the viewers, erasure and retention see both tables;
/// the next run finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_postgres() {
    let (db, _) = ncy_tests::fresh_pg().await;
    let op = admin(&db).await;
    let fx = fixture(&db, &op).await;
    let r = convert(&db, 1000, true).await;
    assert_eq!(r[0].rows_moved, 0);
    assert_eq!(layout_of(&db, "AccessLog").await, Layout::Moving);
    behaviour(&db, &op, &fx, &db, &op).await;
    let r = convert(&db, 7, false).await;
    assert_eq!(r[0].action, "resumed");
    let kept = fx
        .access
        .iter()
        .filter(|a| a.ts >= fx.t - Duration::days(90))
        .count() as u64;
    assert_eq!(r[0].rows_moved, kept);
    assert_eq!(layout_of(&db, "AccessLog").await, Layout::Partitioned);
    assert_eq!(
        all_access(&db, &op, &AccessFilter::default(), 13).await,
        newest_first_access(
            fx.access
                .iter()
                .filter(|a| a.ts >= fx.t - Duration::days(90))
                .cloned()
        )
    );
}

/// SUPPORT erases through its own PostgreSQL login (the database's ncy_gdpr_erase) on the
/// partitioned layout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_erasure_by_support_login() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let conns = ncy_tests::logins::conns(&db, &url).await;
    let op = login(
        &db,
        "admin@ncy-8.com",
        "admin123",
        Client::Cli,
        &LockoutPolicy::default(),
    )
    .await
    .unwrap()
    .operator;
    let fx = fixture(&db, &op).await;
    convert(&db, 50, false).await;
    let support = conns.iter().find(|c| c.role == "SUPPORT").unwrap();
    erasure(&db, &op, &support.db, &support.op).await;
    // Operators read the partitioned logs through the table, never the partitions.
    let admin = conns.iter().find(|c| c.role == "ADMIN").unwrap();
    viewers_count(&admin.db, &admin.op, fx.access.len()).await;
    let e = ncy_tests::logins::sql(
        &admin.db,
        r#"SELECT 1 FROM ncy_partitions."AccessLog_default""#,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("permission denied"), "{e}");
    let v = ncy_core::audit::verify::verify(&db, &op).await.unwrap();
    assert!(v.ok, "{:?}", v.first_bad);
}

async fn viewers_count(db: &Db, op: &Operator, n: usize) {
    assert_eq!(
        all_access(db, op, &AccessFilter::default(), 100)
            .await
            .len(),
        n
    );
}

async fn catalog(db: &Db, t: &str) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let q = |sql: String| async move {
        db.query(&sql, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.text("x").unwrap())
            .collect::<BTreeSet<String>>()
    };
    let idx = q(format!(
        r#"SELECT c.relname::text || ' ' || regexp_replace(pg_get_indexdef(c.oid), '.* USING ', '') AS x
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = '"{t}"'::regclass AND NOT i.indisprimary"#
    ))
    .await;
    let grants = q(format!(
        r#"SELECT pg_get_userbyid(a.grantee) || ':' || a.privilege_type AS x
           FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = '"{t}"'::regclass"#
    ))
    .await;
    let fks = q(format!(
        r#"SELECT conname::text || ' ' || pg_get_constraintdef(oid) AS x FROM pg_constraint
           WHERE conrelid = '"{t}"'::regclass AND contype = 'f'"#
    ))
    .await;
    (idx, grants, fks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_logs_is_online_resumable_and_idempotent() {
    let (db, _) = ncy_tests::fresh_pg().await;
    let op = admin(&db).await;
    let fx = fixture(&db, &op).await;
    // A row older than the monthly partitions go back (it waits in the default partition).
    let ancient = Uuid::new_v4();
    db.query(
        r#"INSERT INTO "AccessLog" ("id", "method", "endpoint", "status_code", "timestamp")
           VALUES ($1, 'GET', '/old', 200, $2) RETURNING "id""#,
        &params![ancient, fx.t - Duration::days(11 * 366)],
    )
    .await
    .unwrap();
    let before = catalog(&db, "AccessLog").await;
    assert!(!before.0.is_empty() && !before.1.is_empty() && !before.2.is_empty());

    let r = convert(&db, 1000, true).await;
    assert_eq!(r[0].found, Layout::Plain);
    assert_eq!(r[0].action, "partitioned");
    assert!(r[0].partitions_created >= 16, "{r:?}");
    assert_eq!(
        catalog(&db, "AccessLog").await,
        before,
        "same indexes, grants, keys"
    );
    // Online: a row written now goes to its month's partition at once.
    let fresh = Uuid::new_v4();
    let rel = db
        .query(
            r#"INSERT INTO "AccessLog" ("id", "method", "endpoint", "status_code")
               VALUES ($1, 'POST', '/new', 201) RETURNING tableoid::regclass::text AS rel"#,
            &params![fresh],
        )
        .await
        .unwrap()[0]
        .text("rel")
        .unwrap();
    assert!(rel.starts_with("ncy_partitions.\"AccessLog_p"), "{rel}");
    // The viewer sees old and new rows while they are in two tables.
    viewers_count(&db, &op, fx.access.len() + 2).await;

    let r = convert(&db, 17, false).await;
    assert_eq!(
        (r[0].found, r[0].action.as_str()),
        (Layout::Moving, "resumed")
    );
    assert_eq!(r[0].rows_moved, fx.access.len() as u64 + 1);
    assert_eq!(layout_of(&db, "AccessLog").await, Layout::Partitioned);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM pg_class WHERE relname = 'AccessLog_unpartitioned'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) AS n FROM ncy_partitions."AccessLog_default""#
        )
        .await,
        1,
        "the ancient row"
    );
    viewers_count(&db, &op, fx.access.len() + 2).await;
    assert_eq!(catalog(&db, "AccessLog").await, before);
    let pk = db
        .query(
            r#"SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conrelid = '"AccessLog"'::regclass AND contype = 'p'"#,
            &[],
        )
        .await
        .unwrap()[0]
        .text("d")
        .unwrap();
    assert_eq!(pk, r#"PRIMARY KEY (id, "timestamp")"#);

    let r = convert(&db, 17, false).await;
    assert_eq!(r[0].action, "already partitioned");
    assert_eq!((r[0].rows_moved, r[0].partitions_created), (0, 0));

    // Months ahead: 3 after the current one exist; a row further ahead waits in the default
    // partition and moves into its month when that month is created.
    let mut tx = db.begin().await.unwrap();
    let parts = partition::partitions(&mut tx, "AccessLog").await.unwrap();
    tx.rollback().await.unwrap();
    let ahead = fx.t.checked_add_months(chrono::Months::new(3)).unwrap();
    assert!(parts
        .iter()
        .any(|p| p.from.is_some_and(|f| f <= ahead) && p.to.is_some_and(|t| t > ahead)));
    let far = fx.t.checked_add_months(chrono::Months::new(5)).unwrap();
    db.query(
        r#"INSERT INTO "AccessLog" ("id", "method", "endpoint", "status_code", "timestamp")
           VALUES ($1, 'GET', '/future', 200, $2) RETURNING "id""#,
        &params![Uuid::new_v4(), far],
    )
    .await
    .unwrap();
    let mut tx = db.begin().await.unwrap();
    let n = partition::ensure_months(
        &mut tx,
        &partition::ACCESS_LOG,
        fx.t,
        fx.t.checked_add_months(chrono::Months::new(2)).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 2);
    let rel = db
        .query(
            r#"SELECT tableoid::regclass::text AS rel FROM "AccessLog" WHERE "endpoint" = '/future'"#,
            &[],
        )
        .await
        .unwrap()[0]
        .text("rel")
        .unwrap();
    assert!(rel.contains("AccessLog_p"), "{rel}");
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) AS n FROM ncy_partitions."AccessLog_default""#
        )
        .await,
        1
    );

    // Retention empties the default partition's expired rows too.
    let run = retention::run(&db, &op, None, false, None, ncy_core::Work::none())
        .await
        .unwrap();
    assert!(run.items.iter().any(|i| i.action == "dropped"));
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) AS n FROM ncy_partitions."AccessLog_default""#
        )
        .await,
        0
    );
    assert_eq!(partition::table("auditlog").unwrap(), partition::AUDIT_LOG);
    assert!(partition::table("Session").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_partition_logs() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let op = admin(&db).await;
    fixture(&db, &op).await;
    let cli = Cli::new(vec!["--database-url".into(), url.clone()]);
    let out = cli.ok(&[
        "--json",
        "migrate",
        "partition-logs",
        "--table",
        "AccessLog",
        "--batch",
        "40",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v[0]["table"], "AccessLog");
    assert_eq!(v[0]["action"], "partitioned");
    assert_eq!(v[0]["rows_moved"], 300);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(layout_of(&db, "ErrorLog").await, Layout::Plain);
    let out = cli.ok(&["migrate", "partition-logs"]);
    assert!(out.contains("already partitioned"), "{out}");
    fails(
        &cli.run(&["migrate", "partition-logs", "--table", "Session"]),
        2,
        "expected AccessLog, ErrorLog or AuditLog",
    );
    let pooled = Cli::new(vec![
        "--database-url".into(),
        format!("{url}?pgbouncer=true"),
    ]);
    fails(&pooled.run(&["migrate", "partition-logs"]), 7, "direct URL");
    let (_ldb, dir) = ncy_tests::fresh_sqlite().await;
    let local = Cli::new(vec![
        "--local".into(),
        dir.path().join("workspace.db").display().to_string(),
    ]);
    fails(&local.run(&["migrate", "partition-logs"]), 2, "PostgreSQL");
}

/// History written after the conversion of an empty table waits in the default partition; the
/// next run gives its months their partitions (moving those rows), one month at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_gives_rows_in_the_default_partition_their_months() {
    let (db, _) = ncy_tests::fresh_pg().await;
    let op = admin(&db).await;
    let r = convert(&db, 100, false).await;
    assert_eq!(r[0].partitions_created, 4, "this month and 3 ahead");
    let t = now();
    let fx = fixture(&db, &op).await;
    // Every row before this month waits in the default partition.
    let month = |x: NaiveDateTime| (x.year(), x.month());
    let waiting = fx.access.iter().filter(|a| month(a.ts) != month(t)).count();
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) AS n FROM ncy_partitions."AccessLog_default""#
        )
        .await,
        waiting as i64
    );
    let r = convert(&db, 100, false).await;
    assert_eq!(r[0].action, "already partitioned");
    assert!(r[0].partitions_created >= 14, "{r:?}");
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) AS n FROM ncy_partitions."AccessLog_default""#
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) AS n FROM ncy_partitions."ErrorLog_default""#
        )
        .await,
        0
    );
    viewers(&db, &op, &fx).await;
}

/// A backup of a partitioned database (partitions in their own schema) restores with every
/// table's rows, partitions included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_a_partitioned_database_verifies() {
    use ncy_backup::{BackupRef, Backups, CreateOptions, Work};
    let (db, url) = ncy_tests::fresh_pg().await;
    let op = admin(&db).await;
    fixture(&db, &op).await;
    convert(&db, 100, false).await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let snap = b
        .create(&op, &CreateOptions::new(dir.path()), Work::none())
        .await
        .unwrap();
    let counts = snap.table_counts.clone().unwrap();
    let in_partitions: i64 = counts
        .iter()
        .filter(|(k, _)| k.starts_with("ncy_partitions.AccessLog_"))
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(in_partitions, 300, "{counts:?}");
    let v = b
        .verify(&op, &BackupRef::Id(snap.id), Work::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
}

/// Every migration rolls back and applies again over partitioned logs (the down scripts drop
/// their indexes and tables through the partitioned parents).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_roll_back_and_apply_over_partitioned_logs() {
    use ncy_core::migrate::{self, MigrationSet};
    let (db, _) = ncy_tests::fresh_pg().await;
    let op = admin(&db).await;
    fixture(&db, &op).await;
    convert(&db, 100, false).await;
    let set = MigrationSet::embedded(Dialect::Postgres).unwrap();
    let down = migrate::down(&db, &set, set.migrations.len())
        .await
        .unwrap();
    assert_eq!(down.rolled_back.len(), set.migrations.len());
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'ncy_partitions'"
        )
        .await,
        0,
        "the partitions went with their tables"
    );
    migrate::up(&db, &set).await.unwrap();
    assert_eq!(layout_of(&db, "AccessLog").await, Layout::Plain);
}

/// Every audit entry about `target`, newest first, through the audit search's pages.
async fn audit_about(db: &Db, op: &Operator, target: Uuid) -> Vec<Uuid> {
    let f = ncy_core::audit::query::AuditFilter {
        target: Some(target),
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let p = ncy_core::audit::query::list(db, op, &f, 7, after.as_deref())
            .await
            .unwrap();
        out.extend(p.items.iter().map(|e| e.id));
        match p.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    out
}

/// AuditLog's conversion: its rows stay where they are (one legacy partition), the hash chain
/// goes on across the swap, a later month lands in its own partition, the append-only guard
/// holds on every partition, the audit search finds the same entries; retention drops a whole
/// expired partition only behind a checkpoint, and `audit verify` accepts the chain after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_is_partitioned_without_moving_its_chain() {
    let (db, _) = ncy_tests::fresh_pg().await;
    let t = now();
    // 14 to 24 months of history, written oldest first; then the dev seed's entries (now).
    let target = Uuid::new_v4();
    let mut tx = db.begin().await.unwrap();
    for k in (0..120i64).rev() {
        tx.execute(
            r#"INSERT INTO "AuditLog" ("action", "target_table", "target_id", "created_at")
               VALUES ('UPDATE', 'Task', $1, $2)"#,
            &params![
                (k % 2 == 0).then_some(target),
                t - Duration::days(420 + 2 * k)
            ],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let op = admin(&db).await;
    let about = audit_about(&db, &op, target).await;
    assert_eq!(about.len(), 60);
    let before = catalog(&db, "AuditLog").await;
    let rows = count(&db, r#"SELECT count(*) AS n FROM "AuditLog""#).await;

    let r = partition::partition_logs(
        &db,
        &Options {
            tables: vec![partition::AUDIT_LOG],
            ..Default::default()
        },
        ncy_core::Work::none(),
    )
    .await
    .expect("partition-logs --table AuditLog");
    assert_eq!((r[0].action.as_str(), r[0].rows_moved), ("partitioned", 0));
    assert_eq!(layout_of(&db, "AuditLog").await, Layout::Partitioned);
    let after = catalog(&db, "AuditLog").await;
    let names = |s: &BTreeSet<String>| {
        s.iter()
            .map(|x| x.split(' ').next().unwrap_or_default().to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(names(&after.0), names(&before.0), "the same indexes");
    assert_eq!((&after.1, &after.2), (&before.1, &before.2), "grants, keys");
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) AS n FROM ncy_partitions."AuditLog_legacy""#
        )
        .await,
        rows,
        "no row moved"
    );
    let v = ncy_core::audit::verify::verify(&db, &op).await.unwrap();
    assert!(v.ok && v.rows == rows, "{v:?}");
    assert_eq!(audit_about(&db, &op, target).await, about);

    // The chain goes on: an operation's entry, and one dated in a partitioned month.
    users::create(
        &db,
        &op,
        &NewUser {
            email: "after.swap@example.com".into(),
            role: None,
            status: None,
            password: Some("after-swap-password-1".into()),
        },
    )
    .await
    .unwrap();
    let mut tx = db.begin().await.unwrap();
    let parts = partition::partitions(&mut tx, "AuditLog").await.unwrap();
    tx.rollback().await.unwrap();
    let first = parts
        .iter()
        .find(|p| p.from.is_some() && !p.default)
        .and_then(|p| p.from)
        .expect("a monthly partition");
    assert_eq!(parts[0].name, partition::LEGACY);
    assert_eq!(parts[0].to, Some(first));
    let rel = db
        .query(
            r#"INSERT INTO "AuditLog" ("action", "target_table", "target_id", "created_at")
               VALUES ('UPDATE', 'Task', $1, $2) RETURNING tableoid::regclass::text AS rel"#,
            &params![target, first + Duration::days(3)],
        )
        .await
        .unwrap()[0]
        .text("rel")
        .unwrap();
    assert!(rel.starts_with("ncy_partitions.\"AuditLog_p"), "{rel}");
    assert_eq!(
        count(
            &db,
            r#"SELECT (count(DISTINCT "seq") = count(*) AND max("seq") - min("seq") + 1 = count(*))::int AS n FROM "AuditLog""#
        )
        .await,
        1,
        "seq unique and unbroken"
    );
    let v = ncy_core::audit::verify::verify(&db, &op).await.unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(audit_about(&db, &op, target).await.len(), 61);

    // No fork from a stale snapshot: a REPEATABLE READ writer that took its snapshot before
    // another entry committed fails rather than reuse its seq in another partition.
    let mut stale = db.begin().await.unwrap();
    stale
        .batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    stale.query("SELECT 1 AS x", &[]).await.unwrap();
    db.query(
        r#"INSERT INTO "AuditLog" ("action", "target_table") VALUES ('UPDATE', 'Task') RETURNING "seq""#,
        &[],
    )
    .await
    .unwrap();
    let e = stale
        .query(
            r#"INSERT INTO "AuditLog" ("action", "target_table", "created_at") VALUES ('UPDATE', 'Task', $1) RETURNING "seq""#,
            &params![first + Duration::days(4)],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("serialize"), "{e}");
    drop(stale);

    // The guard is on every partition.
    let e = db
        .query(
            r#"UPDATE "AuditLog" SET "action" = 'FORGED' WHERE "seq" = 1"#,
            &[],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = db
        .query(
            r#"DELETE FROM "AuditLog" WHERE "created_at" > $1"#,
            &params![first],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("checkpoint"), "{e}");

    // Years later (simulated): the legacy partition holds only the history, a later partition
    // the rest. Retention (365 days) drops the legacy partition whole, behind a checkpoint.
    let m = (t - Duration::days(400)).date();
    let m = chrono::NaiveDate::from_ymd_opt(m.year(), m.month(), 1)
        .unwrap()
        .checked_add_months(chrono::Months::new(1))
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.batch(&format!(
        r#"ALTER TABLE "AuditLog" DETACH PARTITION ncy_partitions."AuditLog_legacy";
           CREATE TABLE ncy_partitions."AuditLog_recent" (LIKE "AuditLog" INCLUDING DEFAULTS);
           ALTER TABLE ncy_partitions."AuditLog_legacy" DISABLE TRIGGER USER;
           WITH d AS (DELETE FROM ncy_partitions."AuditLog_legacy" WHERE "created_at" >= '{m}' RETURNING *)
             INSERT INTO ncy_partitions."AuditLog_recent" SELECT * FROM d;
           ALTER TABLE ncy_partitions."AuditLog_legacy" ENABLE TRIGGER USER;
           ALTER TABLE "AuditLog" ATTACH PARTITION ncy_partitions."AuditLog_legacy" FOR VALUES FROM (MINVALUE) TO ('{m}');
           ALTER TABLE "AuditLog" ATTACH PARTITION ncy_partitions."AuditLog_recent" FOR VALUES FROM ('{m}') TO ('{first}');"#
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let policy = retention::RetentionPolicy {
        audit_log_days: 365,
        ..Default::default()
    };
    let dry = retention::run(
        &db,
        &op,
        Some(policy.clone()),
        true,
        None,
        ncy_core::Work::none(),
    )
    .await
    .unwrap();
    let deleted = |r: &retention::RetentionReport| {
        r.items
            .iter()
            .filter(|i| i.table == "AuditLog" && i.action == "deleted")
            .map(|i| i.rows)
            .sum::<u64>()
    };
    assert_eq!(deleted(&dry), 120);
    let run = retention::run(&db, &op, Some(policy), false, None, ncy_core::Work::none())
        .await
        .unwrap();
    assert_eq!(deleted(&run), 120);
    let dropped: Vec<_> = run.items.iter().filter(|i| i.action == "dropped").collect();
    assert!(
        dropped
            .iter()
            .any(|i| i.table == partition::LEGACY && i.rows == 120),
        "{dropped:?}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM pg_class WHERE relname = 'AuditLog_legacy'"
        )
        .await,
        0
    );
    let v = ncy_core::audit::verify::verify(&db, &op).await.unwrap();
    assert!(v.ok && v.checkpoint_seq >= 120, "{v:?}");
    assert_eq!(audit_about(&db, &op, target).await.len(), 1);
}
