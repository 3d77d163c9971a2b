//! Synthetic data generator vs raw COPY of the same rows.

use std::time::Instant;

use futures_util::StreamExt;
use ncy_core::migrate::{self, MigrationSet};
use ncy_core::seed::{self, SyntheticSpec};
use sqlx::Connection;

use crate::harness::Bench;

/// Generates the synthetic data set used by later measures; returns its database URL.
pub async fn run(b: &mut Bench) -> String {
    let tasks = b.scale.n(1_000_000, 2_000);
    let users = b.scale.n(1_000_000, 1_000);
    let audit = b.scale.n(5_000_000, 5_000);
    let (db, url) = b.database("bench_seed").await;
    migrate::up(
        &db,
        &MigrationSet::embedded(db.dialect()).expect("migrations"),
    )
    .await
    .expect("migrate");
    let spec = SyntheticSpec {
        users,
        orgs: (users / 100).max(2),
        tasks,
        audit,
        seed: 7,
    };
    let t = Instant::now();
    seed::synthetic(&db, spec, false)
        .await
        .expect("synthetic seed");
    let ours = t.elapsed().as_secs_f64();
    db.close().await;

    // Baselines: COPY the generated rows out and straight into an identical empty schema,
    // once with its indexes and triggers working as the seed's rows meet them (the goal's
    // baseline: the same rows, indexes and triggers) and once with the triggers off (the floor
    // of the disk and the indexes alone).
    let with_triggers = copy_baseline(b, &url, "bench_seed_copy", false).await;
    let triggers_off = copy_baseline(b, &url, "bench_seed_copy_raw", true).await;
    b.record(
        "synthetic seed",
        &format!("synthetic seed: {tasks} tasks + {users} users + {audit} audit rows vs raw COPY"),
        ours,
        with_triggers,
        "s",
    );
    b.record(
        "synthetic seed, triggers off",
        &format!("synthetic seed: {tasks} tasks + {users} users + {audit} audit rows vs raw COPY, triggers off"),
        ours,
        triggers_off,
        "s",
    );
    url
}

/// Seconds to COPY the seeded tables of `src_url` into a fresh migrated database, in one
/// transaction (`triggers_off`: as a replica, so no trigger or foreign key check runs).
async fn copy_baseline(b: &mut Bench, src_url: &str, name: &str, triggers_off: bool) -> f64 {
    let (copy_db, copy_url) = b.database(name).await;
    migrate::up(
        &copy_db,
        &MigrationSet::embedded(copy_db.dialect()).expect("m"),
    )
    .await
    .expect("migrate");
    copy_db.close().await;
    let mut src = sqlx::PgConnection::connect(src_url).await.expect("src");
    let mut dst = sqlx::PgConnection::connect(&copy_url).await.expect("dst");
    let t = Instant::now();
    let mut tx = dst.begin().await.expect("begin");
    if triggers_off {
        sqlx::raw_sql("SET LOCAL session_replication_role = replica")
            .execute(&mut *tx)
            .await
            .expect("replica role");
    }
    for table in [
        "User",
        "Organization",
        "OrganizationMember",
        "Project",
        "Task",
        "AuditLog",
    ] {
        let mut out = src
            .copy_out_raw(&format!("COPY \"{table}\" TO STDOUT"))
            .await
            .expect("copy out");
        let mut inp = tx
            .copy_in_raw(&format!("COPY \"{table}\" FROM STDIN"))
            .await
            .expect("copy in");
        while let Some(chunk) = out.next().await {
            inp.send(chunk.expect("chunk")).await.expect("send");
        }
        inp.finish().await.expect("finish");
    }
    tx.commit().await.expect("commit");
    t.elapsed().as_secs_f64()
}
