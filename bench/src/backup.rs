//! Backup of the synthetic database (`ncy-admin backup create`: exported snapshot, per-table
//! counts, pg_dump -Fc -Z9 streamed through SHA-256, fsync, snapshot row) vs `pg_dump -Fc -Z9
//! -f FILE` alone, alternated in the same run. Goal: ≤ 1.05×. Also `backup verify` (checksum,
//! `pg_restore --list`, test restore into a scratch database, count comparison, drop) vs a bare
//! CREATE DATABASE + `pg_restore` + DROP of the same file.

use std::process::Stdio;
use std::time::{Duration, Instant};

use ncy_backup::{tools, BackupRef, Backups, CreateOptions, PgConn, Work};
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::db::{ConnectOptions, Db, Target};

use crate::harness::{Bench, Scale};

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
    let pg_restore = tools::locate("pg_restore", tools::server_major(major)).expect("pg_restore");
    let pool = db.pg().expect("postgres").pool().clone();
    let dir = std::env::temp_dir().join(format!("ncy-bench-backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    // Verify reads only files inside the backup folder.
    let backups = Backups::postgres(db.clone(), seeded_url)
        .expect("backups")
        .with_dir(&dir);

    let iters = match b.scale {
        Scale::Smoke => 5,
        Scale::Quick => 3,
        // A full-size round takes minutes: two timed rounds, no warm-up, one with ours first
        // and one with the baseline first (whichever runs first may read what the other then
        // finds in the OS cache).
        Scale::Full | Scale::Large => 2,
    };
    let first = if matches!(b.scale, Scale::Full | Scale::Large) {
        1
    } else {
        0
    };
    let (mut ours, mut base) = (Vec::<Duration>::new(), Vec::<Duration>::new());
    let (mut v_ours, mut v_base) = (Vec::<Duration>::new(), Vec::<Duration>::new());
    // One untimed round each warms caches (below full scale); then the two alternate, and
    // which runs first alternates from one round to the next.
    for i in first..=iters {
        let (mut d_ours, mut dv_ours) = (Duration::ZERO, Duration::ZERO);
        let (mut d_base, mut dv_base) = (Duration::ZERO, Duration::ZERO);
        let order = if i % 2 == 1 {
            [true, false]
        } else {
            [false, true]
        };
        for ours_now in order {
            if ours_now {
                let t = Instant::now();
                let snap = backups
                    .create(&op, &CreateOptions::new(&dir), Work::none())
                    .await
                    .expect("backup create");
                d_ours = t.elapsed();
                let t = Instant::now();
                let v = backups
                    .verify(&op, &BackupRef::Id(snap.id), Work::none())
                    .await
                    .expect("backup verify");
                assert!(v.ok, "bench backup failed verification: {:?}", v.problems);
                dv_ours = t.elapsed();
                let _ = std::fs::remove_file(&snap.path);
            } else {
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
                d_base = t.elapsed();
                let t = Instant::now();
                let scratch = format!("bench_restore_{i}");
                sqlx::raw_sql(&format!("CREATE DATABASE {scratch} TEMPLATE template0"))
                    .execute(&pool)
                    .await
                    .expect("create scratch");
                let mut cmd = tokio::process::Command::new(&pg_restore.path);
                cmd.arg(format!("--dbname={scratch}"))
                    .arg("--exit-on-error")
                    .arg("--no-owner")
                    .arg("--no-acl")
                    .arg("--no-password")
                    .arg(&file)
                    .stdin(Stdio::null());
                conn.apply(&mut cmd);
                let st = cmd.status().await.expect("pg_restore");
                assert!(st.success(), "pg_restore failed");
                sqlx::raw_sql(&format!("DROP DATABASE {scratch} WITH (FORCE)"))
                    .execute(&pool)
                    .await
                    .expect("drop scratch");
                dv_base = t.elapsed();
                let _ = std::fs::remove_file(&file);
            }
        }
        if i > 0 {
            ours.push(d_ours);
            base.push(d_base);
            v_ours.push(dv_ours);
            v_base.push(dv_base);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    db.close().await;
    b.record(
        "backup create",
        &format!("backup create ({tasks} tasks): median vs pg_dump -Fc -Z9 alone"),
        mid_s(&ours),
        mid_s(&base),
        "s",
    );
    b.record(
        "backup verify",
        &format!("backup verify ({tasks} tasks): median vs createdb + pg_restore + dropdb"),
        mid_s(&v_ours),
        mid_s(&v_base),
        "s",
    );
}

/// The median of the rounds in seconds (the mean of the middle two of an even count: with the
/// two full-scale rounds, one with each side first, that is their mean).
fn mid_s(samples: &[Duration]) -> f64 {
    let mut v: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
