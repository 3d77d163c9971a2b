//! Backup of the synthetic database (`ncy-admin backup create`: exported snapshot, per-table
//! counts, pg_dump -Fc -Z9 streamed through SHA-256, fsync, snapshot row) vs `pg_dump -Fc -Z9
//! -f FILE` alone, alternated in the same run. Goal: ≤ 1.05×.

use std::process::Stdio;
use std::time::{Duration, Instant};

use ncy_backup::{tools, Backups, CreateOptions, Hooks, PgConn};
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::db::{ConnectOptions, Db, Target};

use crate::harness::{pct_ms, Bench, Scale};

pub async fn run(b: &mut Bench, seeded_url: &str) {
    let db = Db::connect(
        &Target::Postgres(seeded_url.to_owned()),
        &ConnectOptions::default(),
    )
    .await
    .expect("bench: connect to the seeded database");
    ncy_core::seed::dev(&db, true)
        .await
        .expect("dev seed for an operator");
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
    let tasks = db
        .query(r#"SELECT count(*) AS n FROM "Task""#, &[])
        .await
        .expect("count")[0]
        .int("n")
        .unwrap_or(0);
    let backups = Backups::postgres(db.clone(), seeded_url).expect("backups");
    let conn = PgConn::from_url(seeded_url).expect("url");
    let major: i64 = db
        .query(
            "SELECT current_setting('server_version_num')::bigint AS n",
            &[],
        )
        .await
        .expect("version")[0]
        .int("n")
        .unwrap_or(150000);
    let pg_dump = tools::locate("pg_dump", tools::server_major(major)).expect("pg_dump");
    let dir = std::env::temp_dir().join(format!("ncy-bench-backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");

    let iters = match b.scale {
        Scale::Smoke => 5,
        Scale::Quick => 3,
        Scale::Full => 3,
    };
    let (mut ours, mut base) = (Vec::<Duration>::new(), Vec::<Duration>::new());
    // One untimed round each warms caches; then alternate.
    for i in 0..=iters {
        let t = Instant::now();
        let snap = backups
            .create(&op, &CreateOptions::new(&dir), Hooks::none())
            .await
            .expect("backup create");
        let d_ours = t.elapsed();
        let _ = std::fs::remove_file(&snap.path);

        let file = dir.join("baseline.dump");
        let t = Instant::now();
        let mut cmd = tokio::process::Command::new(&pg_dump.path);
        cmd.arg("--format=custom")
            .arg("--compress=9")
            .arg("--no-password")
            .arg("-f")
            .arg(&file)
            .stdin(Stdio::null());
        conn.apply(&mut cmd);
        let st = cmd.status().await.expect("pg_dump");
        assert!(st.success(), "pg_dump failed");
        let d_base = t.elapsed();
        let _ = std::fs::remove_file(&file);
        if i > 0 {
            ours.push(d_ours);
            base.push(d_base);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    db.close().await;
    b.record(
        &format!("backup create ({tasks} tasks): p50 vs pg_dump -Fc -Z9 alone"),
        pct_ms(&ours, 50.0) / 1000.0,
        pct_ms(&base, 50.0) / 1000.0,
        "s",
    );
}
