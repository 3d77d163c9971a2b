//! Database health: the full report (no sampling pause) and the top-statements list on the
//! seeded synthetic database, each beside the seed's own monitoring queries (the raw
//! pg_stat_statements top 10 and the active-connections count) run in the same way.

use std::time::Duration;

use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::db::{ConnectOptions, Db, Target};
use ncy_health::{report, statements, ReportOptions};

use crate::harness::{pct_ms, sample, Bench};

const SEED_TOP: &str = "SELECT query, calls, total_exec_time, mean_exec_time, rows
                        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 10";
const SEED_ACTIVE: &str = "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active'";

/// Runs the measures on the seeded synthetic database.
pub async fn run(b: &mut Bench, url: &str) {
    let db = Db::connect(
        &Target::Postgres(url.to_owned()),
        &ConnectOptions::default(),
    )
    .await
    .expect("connect");
    db.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", &[])
        .await
        .expect("pg_stat_statements");
    ncy_core::seed::dev(&db, true).await.expect("dev seed");
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
    let iters = b.scale.upto_full(300, 20) as usize;
    let opts = ReportOptions {
        sample: Duration::ZERO,
        ..ReportOptions::default()
    };

    let seed_top = sample(iters, || async {
        db.query(SEED_TOP, &[]).await.expect("seed top");
    })
    .await;
    let ours_top = sample(iters, || async {
        statements::top(&db, &op, 10, false).await.expect("top");
    })
    .await;
    b.record(
        "health: top statements",
        "health: top 10 statements p50 (vs the seed's raw query)",
        pct_ms(&ours_top, 50.0),
        pct_ms(&seed_top, 50.0),
        "ms",
    );

    let seed_probe = sample(iters, || async {
        db.query(SEED_TOP, &[]).await.expect("seed top");
        db.query(SEED_ACTIVE, &[]).await.expect("seed active");
    })
    .await;
    let ours_report = sample(iters, || async {
        let r = report(&db, &op, &opts).await.expect("report");
        assert!(r.unavailable.is_empty(), "{:?}", r.unavailable);
    })
    .await;
    b.record(
        "health: full report",
        "health: full report p50, no sampling pause (vs the seed's 2 queries)",
        pct_ms(&ours_report, 50.0),
        pct_ms(&seed_probe, 50.0),
        "ms",
    );

    // The same once every pooled connection has prepared the sections' statements (each keeps
    // their plans: a connection serves a different section from one report to the next, so
    // that takes a few dozen reports), as in the desktop app after a while on the Health
    // screen; the line above mostly measures that warm-up.
    for _ in 0..50 {
        report(&db, &op, &opts).await.expect("report");
    }
    let ours_warm = sample(iters, || async {
        let r = report(&db, &op, &opts).await.expect("report");
        assert!(r.unavailable.is_empty(), "{:?}", r.unavailable);
    })
    .await;
    b.record(
        "health: full report warm",
        "health: full report p50, after 50 reports (vs the seed's 2 queries)",
        pct_ms(&ours_warm, 50.0),
        pct_ms(&seed_probe, 50.0),
        "ms",
    );
    db.close().await;
}
