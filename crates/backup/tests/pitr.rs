//! The generated point-in-time recovery script, run for real: a private archiving cluster, a
//! pg_basebackup, a row committed before the target time and one after, then the script
//! (as the postgres user) recovers the cluster to the target: the first row is there, the
//! second is not.

use std::process::Command;
use std::time::Duration;

use ncy_backup::Backups;
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::db::{ConnectOptions, Db, Dialect, Target};
use ncy_core::migrate::{self, MigrationSet};
use ncy_tests::cluster::{Cluster, Options};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a program as the cluster's owner (postgres when we are root).
fn as_pg(program: &str, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "env"]);
        for (k, v) in env {
            c.arg(format!("{k}={v}"));
        }
        c.arg(program);
        c
    } else {
        let mut c = Command::new(program);
        c.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        c
    };
    c.args(args).output().expect("run as postgres")
}

fn small() -> ConnectOptions {
    ConnectOptions {
        max_connections: 2,
        ..ConnectOptions::default()
    }
}

async fn one(db: &Db, sql: &str) -> String {
    db.query(sql, &[]).await.unwrap()[0].text("v").unwrap()
}

/// Stops the private cluster however the test ends.
struct Stop(Cluster);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_recovery_script_recovers_to_the_target_time() {
    let cluster = Stop(
        Cluster::start(Options {
            stat_statements: false,
            archive: true,
            fast: true,
        })
        .expect("cluster"),
    );
    run(&cluster.0).await;
}

async fn run(cluster: &Cluster) {
    let admin = Db::connect(&Target::Postgres(cluster.url("postgres")), &small())
        .await
        .unwrap();
    admin.query("SELECT 1 AS v", &[]).await.unwrap();
    {
        let mut tx = admin.begin().await.unwrap();
        tx.batch("COMMIT").await.unwrap();
        tx.batch("CREATE DATABASE app").await.unwrap();
    }
    let url = cluster.url("app");
    let db = Db::connect(&Target::Postgres(url.clone()), &small())
        .await
        .unwrap();
    migrate::up(&db, &MigrationSet::embedded(Dialect::Postgres).unwrap())
        .await
        .unwrap();
    ncy_core::seed::dev(&db, false).await.unwrap();
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
    let mut tx = db.begin().await.unwrap();
    tx.batch("CREATE TABLE probe (x int)").await.unwrap();
    tx.commit().await.unwrap();

    // Allow pg_basebackup's replication connection over the cluster's socket.
    {
        use std::io::Write;
        let mut hba = std::fs::OpenOptions::new()
            .append(true)
            .open(cluster.dir.join("data/pg_hba.conf"))
            .unwrap();
        writeln!(hba, "local replication all trust").unwrap();
    }
    admin
        .query("SELECT pg_reload_conf()::text AS v", &[])
        .await
        .unwrap();

    // Physical base backup, taken after archiving started.
    let base = cluster.dir.join("base");
    let pg = |p: &str| cluster.bin.join(p).display().to_string();
    let host = cluster.dir.display().to_string();
    let port = cluster.port.to_string();
    let o = as_pg(
        &pg("pg_basebackup"),
        &[
            "-D",
            base.to_str().unwrap(),
            "-h",
            &host,
            "-p",
            &port,
            "-U",
            "postgres",
            "-Fp",
            "-X",
            "none",
            "--checkpoint=fast",
        ],
        &[],
    );
    assert!(
        o.status.success(),
        "pg_basebackup: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    db.query("INSERT INTO probe VALUES (1) RETURNING x", &[])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let target = one(
        &db,
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS v",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    db.query("INSERT INTO probe VALUES (2) RETURNING x", &[])
        .await
        .unwrap();
    let seg = one(&admin, "SELECT pg_walfile_name(pg_switch_wal()) AS v").await;
    let mut archived = false;
    for _ in 0..200 {
        let last = admin
            .query(
                "SELECT coalesce(last_archived_wal, '') AS v FROM pg_stat_archiver",
                &[],
            )
            .await
            .unwrap()[0]
            .text("v")
            .unwrap();
        if last.as_str() >= seg.as_str() {
            archived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(archived, "segment {seg} archived");

    let b = Backups::postgres(db.clone(), &url).unwrap();
    let r = b.pitr_readiness(&op).await.unwrap();
    assert!(r.ready, "{:?}", r.problems);
    let t = ncy_core::db::parse_ts(&target).unwrap();
    let script = ncy_backup::pitr::recovery_script(&r, t).unwrap();
    db.close().await;
    admin.close().await;

    let path = cluster.dir.join("pitr.sh");
    std::fs::write(&path, &script).unwrap();
    let o = as_pg(
        "timeout",
        &[
            "180",
            "bash",
            path.to_str().unwrap(),
            base.to_str().unwrap(),
        ],
        &[
            ("PGBIN", cluster.bin.display().to_string()),
            ("PGHOST", host.clone()),
            ("PGPORT", port.clone()),
            ("PGUSER", "postgres".into()),
        ],
    );
    assert!(
        o.status.success(),
        "script failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    let db = Db::connect(&Target::Postgres(url), &small()).await.unwrap();
    let rows = db
        .query(
            "SELECT string_agg(x::text, ',' ORDER BY x) AS v FROM probe",
            &[],
        )
        .await
        .unwrap()[0]
        .text("v")
        .unwrap();
    assert_eq!(
        rows, "1",
        "recovered to {target}: the row committed after it is gone"
    );
    let in_recovery = one(&db, "SELECT pg_is_in_recovery()::text AS v").await;
    assert_eq!(in_recovery, "false", "promoted");
    db.close().await;
}
