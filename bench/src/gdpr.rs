//! GDPR export of one subject with many related rows (goal: ≤ 2 s for 100k rows at full scale,
//! flat memory), beside a baseline: PostgreSQL's own COPY of the same rows as JSON.

#![allow(clippy::useless_vec)] // `ncy_core::params!` builds a Vec borrowed as a slice.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use futures_util::StreamExt;
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::migrate::{self, MigrationSet};
use ncy_core::params;
use ncy_gdpr::export;
use ncy_gdpr::request::{self, NewRequest, RequestKind};
use sqlx::Connection;

use crate::harness::{pct_ms, Bench};

/// `VmHWM` / `VmRSS` of this process in KiB (0 when /proc is unreadable).
fn proc_status(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub async fn run(b: &mut Bench) {
    // NCY_BENCH_GDPR_ROWS overrides the scaled size (profiling one measure).
    let rows = std::env::var("NCY_BENCH_GDPR_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| b.scale.n(100_000, 2_000)) as i64;
    let (db, url) = b.database("bench_gdpr").await;
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
    let subject = db
        .query(
            r#"SELECT "id" FROM "User" WHERE "email" = 'employee@test-org.com'"#,
            &[],
        )
        .await
        .expect("subject")[0]
        .uuid("id")
        .expect("id");
    let other = db
        .query(
            r#"SELECT "id" FROM "User" WHERE "email" = 'manager@test-org.com'"#,
            &[],
        )
        .await
        .expect("other")[0]
        .uuid("id")
        .expect("id");
    // Related rows: half audit events, 40% access log, 10% notifications; plus other users' noise.
    let mut tx = db.begin().await.expect("begin");
    for (who, n) in [(subject, rows), (other, rows / 2)] {
        tx.execute(
            r#"INSERT INTO "AuditLog" ("id", "user_id", "action", "target_table", "target_id", "new_value", "ip_address", "user_agent", "created_at")
               SELECT gen_random_uuid(), $1, 'TASK_UPDATE', 'Task', gen_random_uuid(), jsonb_build_object('status', 'DONE', 'n', g),
                      '10.1.2.3'::inet, 'Mozilla/5.0', (now() AT TIME ZONE 'UTC') - g * interval '1 second'
               FROM generate_series(1, $2::bigint / 2) g"#,
            &params![who, n],
        )
        .await
        .expect("audit rows");
        tx.execute(
            r#"INSERT INTO "AccessLog" ("id", "user_id", "method", "endpoint", "status_code", "latency_ms", "timestamp")
               SELECT gen_random_uuid(), $1, 'GET', '/api/tasks/' || g, 200, 12, (now() AT TIME ZONE 'UTC') - g * interval '1 second'
               FROM generate_series(1, $2::bigint * 4 / 10) g"#,
            &params![who, n],
        )
        .await
        .expect("access rows");
        tx.execute(
            r#"INSERT INTO "Notification" ("id", "user_id", "type", "title", "body", "data", "created_at")
               SELECT gen_random_uuid(), $1, 'task', 'Task updated', 'Task ' || g || ' was updated', '{}'::jsonb,
                      (now() AT TIME ZONE 'UTC') - g * interval '1 second'
               FROM generate_series(1, $2::bigint / 10) g"#,
            &params![who, n],
        )
        .await
        .expect("notifications");
    }
    tx.batch("ANALYZE").await.expect("analyze");
    tx.commit().await.expect("commit");

    let id = request::create(
        &db,
        &op,
        NewRequest {
            user: subject.to_string(),
            kind: RequestKind::Export,
            notes: None,
        },
    )
    .await
    .expect("request")
    .id;
    request::verify_identity(&db, &op, id, "bench")
        .await
        .expect("verify");
    let dir = tempfile_dir();
    let cancel = AtomicBool::new(false);
    let export_once = |round: usize| {
        let (db, op, dir, cancel) = (&db, &op, &dir, &cancel);
        async move {
            let out = dir.join(format!("bundle-{round}"));
            let t = Instant::now();
            let res = export::export(db, op, id, &out, ncy_core::Work::none().with_cancel(cancel))
                .await
                .expect("export");
            let took = t.elapsed();
            let _ = std::fs::remove_dir_all(&out);
            (took, res)
        }
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    // The subject's rows are read once untimed first (whichever side ran first paid the
    // reads of pages not yet in shared buffers for both), then ours and the raw COPY alternate,
    // and which side runs first alternates too.
    raw_once(&mut conn, subject).await;
    // Reset the high-water mark so the growth is the first export's own (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = proc_status("VmRSS:");
    let (first, res) = export_once(0).await;
    let growth_mib = proc_status("VmHWM:").saturating_sub(rss_before) as f64 / 1024.0;
    let bundle_mib =
        res.manifest.files.iter().map(|f| f.bytes).sum::<u64>() as f64 / (1024.0 * 1024.0);
    let rounds = b.scale.upto_full(7, 3) as usize;
    let (mut ours, mut raw) = (vec![first], vec![raw_once(&mut conn, subject).await]);
    for round in 1..rounds {
        if round % 2 == 0 {
            ours.push(export_once(round).await.0);
            raw.push(raw_once(&mut conn, subject).await);
        } else {
            raw.push(raw_once(&mut conn, subject).await);
            ours.push(export_once(round).await.0);
        }
    }
    let _ = conn.close().await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    b.record(
        "gdpr export",
        &format!(
            "gdpr export: subject with {} related rows, p50 of {rounds} (s)",
            res.total_rows
        ),
        pct_ms(&ours, 50.0) / 1000.0,
        pct_ms(&raw, 50.0) / 1000.0,
        "s",
    );
    b.record(
        "gdpr export memory",
        "gdpr export: peak RSS growth vs bundle size (MiB)",
        growth_mib,
        bundle_mib,
        "MiB",
    );
}

/// Baseline: the server writes the subject's rows as JSON (COPY TO STDOUT), read to the end
/// and dropped.
async fn raw_once(conn: &mut sqlx::PgConnection, subject: uuid::Uuid) -> std::time::Duration {
    let t = Instant::now();
    for (table, col) in [
        ("AuditLog", "user_id"),
        ("AccessLog", "user_id"),
        ("Notification", "user_id"),
    ] {
        let mut out = conn
            .copy_out_raw(&format!(
                "COPY (SELECT to_jsonb(t) FROM \"{table}\" t WHERE \"{col}\" = '{subject}') TO STDOUT"
            ))
            .await
            .expect("copy out");
        while let Some(chunk) = out.next().await {
            chunk.expect("chunk");
        }
    }
    t.elapsed()
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ncy-bench-gdpr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("bench temp dir");
    d
}
