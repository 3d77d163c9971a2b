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

    // Baseline: COPY the generated Task rows out and straight into an identical empty schema.
    let (copy_db, copy_url) = b.database("bench_seed_copy").await;
    migrate::up(
        &copy_db,
        &MigrationSet::embedded(copy_db.dialect()).expect("m"),
    )
    .await
    .expect("migrate");
    copy_db.close().await;
    let mut src = sqlx::PgConnection::connect(&url).await.expect("src");
    let mut dst = sqlx::PgConnection::connect(&copy_url).await.expect("dst");
    let t = Instant::now();
    let mut tx = dst.begin().await.expect("begin");
    sqlx::raw_sql(
        "ALTER TABLE \"Task\" DISABLE TRIGGER ALL; SET session_replication_role = replica;",
    )
    .execute(&mut *tx)
    .await
    .expect("disable fks");
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
    let baseline = t.elapsed().as_secs_f64();
    b.record(
        &format!("synthetic seed: {tasks} tasks + {users} users + {audit} audit rows vs raw COPY"),
        ours,
        baseline,
        "s",
    );
    url
}
