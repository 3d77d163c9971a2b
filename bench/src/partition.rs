//! Partitioned logs (issue 14): the same AccessLog (rows spread over 12 months) in two
//! databases, one plain and one range-partitioned by month (`migrate partition-logs`); a keyset
//! page (the newest, and one 80 % back in time) through the log viewer, and a retention run
//! (90 days: ~9 whole months) on each. `ours` is the partitioned table, `baseline` the plain
//! one. Rows: smoke 20k, quick 1M, full 10M (`NCY_BENCH_LOG_ROWS` overrides).
//!
//! The partitioned database is converted with its rows in place, so the move (swap + batches
//! of 10 000) is measured too, against loading the same rows into the plain table. Above 2M
//! rows the partitioned table is converted holding one row a year old (so it has the year's
//! months) and the rows are loaded straight into the partitions (the move would dominate the
//! run); the move's line is then not recorded.

use std::time::Instant;

use ncy_core::admin::logs::{self, AccessFilter};
use ncy_core::admin::Cursor;
use ncy_core::auth::{login, Client, LockoutPolicy, Operator};
use ncy_core::db::{now, Db, Value};
use ncy_core::migrate::{self, MigrationSet};
use ncy_core::partition;
use ncy_gdpr::retention::{self, RetentionPolicy};

use crate::harness::{pct_ms, sample, Bench, Scale};

const PAGE: u32 = 50;
const SPAN_DAYS: i64 = 365;
const MOVE_MAX: u64 = 2_000_000;

async fn prepare(b: &Bench, name: &str) -> (Db, Operator) {
    let (db, _) = b.database(name).await;
    migrate::up(
        &db,
        &MigrationSet::embedded(db.dialect()).expect("migrations"),
    )
    .await
    .expect("migrate");
    ncy_core::seed::dev(&db, false).await.expect("dev seed");
    let op = login(
        &db,
        "admin@ncy-8.com",
        "admin123",
        Client::Cli,
        &LockoutPolicy::default(),
    )
    .await
    .expect("login")
    .operator;
    (db, op)
}

/// Loads `rows` AccessLog rows, newest at `t`, evenly over [`SPAN_DAYS`]; returns seconds.
async fn load(db: &Db, rows: u64, t: &Value) -> f64 {
    let started = Instant::now();
    let step_ms = SPAN_DAYS * 86_400_000 / rows as i64;
    // In chunks, so one statement never holds millions of rows' worth of memory.
    let chunk = 500_000u64;
    let mut from = 0u64;
    while from < rows {
        let to = (from + chunk).min(rows);
        db.query(
            &format!(
                r#"INSERT INTO "AccessLog" ("id", "method", "endpoint", "status_code", "latency_ms", "timestamp")
                   SELECT gen_random_uuid(), 'GET', '/api/v1/items/' || g, 200 + (g % 5) * 100, g % 100,
                          $1::timestamp - make_interval(secs => g::bigint * {step_ms} / 1000.0)
                   FROM generate_series({from}, {}) g"#,
                to - 1
            ),
            std::slice::from_ref(t),
        )
        .await
        .expect("load AccessLog");
        from = to;
    }
    started.elapsed().as_secs_f64()
}

async fn vacuum(db: &Db) {
    let pool = db.pg().expect("pg").pool();
    sqlx::query(r#"VACUUM ANALYZE "AccessLog""#)
        .execute(pool)
        .await
        .expect("vacuum");
}

async fn convert(db: &Db) -> f64 {
    let started = Instant::now();
    partition::partition_logs(
        db,
        &partition::Options {
            tables: vec![partition::ACCESS_LOG],
            ..Default::default()
        },
        ncy_core::Work::none(),
    )
    .await
    .expect("partition-logs");
    started.elapsed().as_secs_f64()
}

pub async fn run(b: &mut Bench) {
    let rows = std::env::var("NCY_BENCH_LOG_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| b.scale.upto_full(10_000_000, 20_000));
    let t = now();
    let tv = Value::from(t);
    let (plain, pop) = prepare(b, "bench_logs_plain").await;
    let (part, qop) = prepare(b, "bench_logs_partitioned").await;
    let load_plain = load(&plain, rows, &tv).await;
    let moved = rows <= MOVE_MAX;
    let move_s = if moved {
        load(&part, rows, &tv).await;
        convert(&part).await
    } else {
        // One row a year back, so the conversion creates the year's months; the rows are then
        // loaded straight into their partitions.
        part.query(
            r#"INSERT INTO "AccessLog" ("method", "endpoint", "status_code", "timestamp")
               VALUES ('GET', '/first', 200, $1::timestamp - make_interval(days => $2::int)) RETURNING "id""#,
            &ncy_core::params![t, SPAN_DAYS],
        )
        .await
        .expect("oldest row");
        convert(&part).await;
        part.query(
            r#"DELETE FROM "AccessLog" WHERE "endpoint" = '/first' RETURNING "id""#,
            &[],
        )
        .await
        .expect("oldest row");
        load(&part, rows, &tv).await;
        0.0
    };
    vacuum(&plain).await;
    vacuum(&part).await;
    if moved {
        b.record(
            "partition: online move",
            &format!("partition-logs: online move of {rows} AccessLog rows vs loading them (s)"),
            move_s,
            load_plain,
            "s",
        );
    }

    let iters = match b.scale {
        Scale::Smoke => 20,
        _ => 100,
    };
    let f = AccessFilter::default();
    let first = |db: Db, op: Operator| {
        let f = f.clone();
        async move {
            sample(iters, || async {
                let p = logs::access(&db, &op, &f, PAGE, None).await.expect("page");
                assert_eq!(p.items.len(), PAGE as usize);
            })
            .await
        }
    };
    let p_plain = first(plain.clone(), pop.clone()).await;
    let p_part = first(part.clone(), qop.clone()).await;
    b.record(
        "logs: newest page",
        &format!("logs: AccessLog newest keyset page ({rows} rows), partitioned vs plain, p50"),
        pct_ms(&p_part, 50.0),
        pct_ms(&p_plain, 50.0),
        "ms",
    );
    // A page 80 % back in time: its cursor is the key just before that instant.
    let back_days = SPAN_DAYS * 8 / 10;
    let cursor = |db: Db| async move {
        let r = db
            .query(
                r#"SELECT "timestamp", "id" FROM "AccessLog" WHERE "timestamp" < $1::timestamp - make_interval(days => $2::int)
                   ORDER BY "timestamp" DESC, "id" DESC LIMIT 1"#,
                &ncy_core::params![t, back_days],
            )
            .await
            .expect("cursor row");
        Cursor {
            ts: r[0].ts("timestamp").expect("ts"),
            id: r[0].uuid("id").expect("id"),
        }
        .encode()
    };
    let deep = |db: Db, op: Operator, c: String| {
        let f = f.clone();
        async move {
            sample(iters, || async {
                let p = logs::access(&db, &op, &f, PAGE, Some(&c))
                    .await
                    .expect("page");
                assert_eq!(p.items.len(), PAGE as usize);
            })
            .await
        }
    };
    let c_plain = cursor(plain.clone()).await;
    let c_part = cursor(part.clone()).await;
    let d_plain = deep(plain.clone(), pop.clone(), c_plain).await;
    let d_part = deep(part.clone(), qop.clone(), c_part).await;
    b.record(
        "logs: deep page p50",
        &format!("logs: AccessLog keyset page 80% back ({rows} rows), partitioned vs plain, p50"),
        pct_ms(&d_part, 50.0),
        pct_ms(&d_plain, 50.0),
        "ms",
    );
    b.record(
        "logs: deep page p95",
        &format!("logs: AccessLog keyset page 80% back ({rows} rows), partitioned vs plain, p95"),
        pct_ms(&d_part, 95.0),
        pct_ms(&d_plain, 95.0),
        "ms",
    );

    // Retention, 90 days of AccessLog: ~3/4 of the rows go.
    let policy = RetentionPolicy {
        access_log_days: 90,
        ..Default::default()
    };
    let mut secs = Vec::new();
    let mut removed = 0;
    for (db, op) in [(&plain, &pop), (&part, &qop)] {
        let started = Instant::now();
        let r = retention::run(
            db,
            op,
            Some(policy.clone()),
            false,
            Some(t),
            ncy_core::Work::none(),
        )
        .await
        .expect("retention");
        secs.push(started.elapsed().as_secs_f64());
        removed = r
            .items
            .iter()
            .find(|i| i.table == "AccessLog" && i.action == "deleted")
            .map(|i| i.rows)
            .unwrap_or(0);
    }
    b.record(
        "retention: drop vs delete",
        &format!("retention: AccessLog 90 days ({removed} of {rows} rows), partitioned (drop) vs plain (delete)"),
        secs[1],
        secs[0],
        "s",
    );
    // A DELETE only marks rows: the plain table pays in the VACUUM that follows, and keeps its
    // size; dropped partitions give their space back at once.
    let mut vac = Vec::new();
    let mut size = Vec::new();
    for db in [&plain, &part] {
        let started = Instant::now();
        vacuum(db).await;
        vac.push(started.elapsed().as_secs_f64());
        let r = db
            .query(
                r#"SELECT (coalesce((SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i
                           WHERE i.inhparent = '"AccessLog"'::regclass), 0)
                         + pg_total_relation_size('"AccessLog"'))::float8 / 1048576 AS mib"#,
                &[],
            )
            .await
            .expect("size");
        size.push(r[0].opt_float("mib").expect("mib").unwrap_or(0.0));
    }
    b.record(
        "retention: with vacuum",
        &format!("retention: AccessLog 90 days ({rows} rows) + VACUUM, partitioned vs plain"),
        secs[1] + vac[1],
        secs[0] + vac[0],
        "s",
    );
    b.record(
        "retention: size",
        &format!("retention: AccessLog size after retention + VACUUM ({rows} rows), partitioned vs plain"),
        size[1],
        size[0],
        "MiB",
    );
    crate::partition_audit::run(b, (&plain, &pop), (&part, &qop)).await;
    plain.close().await;
    part.close().await;
}
