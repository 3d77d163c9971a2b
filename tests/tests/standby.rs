//! On a real hot standby (`pg_basebackup -R`, streaming): reads, identity and the health report
//! work, a write is one clear line ("read-only standby; connect to the primary", CLI exit 7),
//! and the primary's health report shows the standby with its lag.

use std::time::Duration;

use ncy_core::admin::operators;
use ncy_core::admin::users::{self, NewUser, UserFilter};
use ncy_core::auth::{identify, Client};
use ncy_core::db::{ConnectOptions, Db, Dialect, Target};
use ncy_core::migrate::{self, MigrationSet};
use ncy_core::{params, Error};
use ncy_health::report::{report, ReportOptions};
use ncy_tests::cli::{fails, Cli};
use ncy_tests::cluster::{Cluster, Options};
use ncy_tests::logins::{url_as, PASSWORD};

/// Stops a cluster when the test ends, pass or fail.
struct Stop(Cluster);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

async fn connect(url: &str) -> Db {
    Db::connect(
        &Target::Postgres(url.to_owned()),
        &ConnectOptions {
            max_connections: 3,
            ..ConnectOptions::default()
        },
    )
    .await
    .expect("connect")
}

/// Waits until the standby has replayed everything the primary wrote so far.
async fn caught_up(primary: &Db, standby: &Db) {
    let lsn = primary
        .query("SELECT pg_current_wal_lsn()::text AS l", &[])
        .await
        .expect("primary lsn")[0]
        .text("l")
        .expect("lsn");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = standby
            .query(
                "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok",
                &params![lsn.as_str()],
            )
            .await
            .expect("standby lsn")[0]
            .bool("ok")
            .expect("ok");
        if done {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the standby did not replay {lsn} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_serves_reads_and_refuses_writes_with_one_clear_line() {
    // A primary of its own, so the base backup copies one database, not every test's.
    let primary = Stop(
        Cluster::start(Options {
            stat_statements: false,
            archive: false,
            fast: true,
        })
        .expect("primary"),
    );
    let admin = connect(&primary.0.url("postgres")).await;
    let mut tx = admin.begin().await.expect("begin");
    tx.batch("COMMIT").await.expect("end the transaction");
    tx.batch("CREATE DATABASE ncy").await.expect("create db");
    drop(tx);
    admin.close().await;
    let purl = primary.0.url("ncy");
    let pdb = connect(&purl).await;
    let set = MigrationSet::embedded(Dialect::Postgres).expect("migrations");
    migrate::up(&pdb, &set).await.expect("migrate");
    let ops = ncy_tests::operators(&pdb).await;
    let prov = operators::provision(&pdb, &ops.admin, "admin@ncy-8.com", Some(PASSWORD))
        .await
        .expect("provision");

    let standby = Stop(primary.0.standby().expect("standby"));
    let surl = standby.0.url("ncy");
    let sdb = connect(&surl).await;
    caught_up(&pdb, &sdb).await;

    // Reads work on the standby.
    let page = users::list(&sdb, &ops.admin, &UserFilter::default(), 10, None)
        .await
        .expect("read on the standby");
    assert!(page.items.iter().any(|u| u.email == "admin@ncy-8.com"));
    // A write is refused by the server and named for what it is.
    let err = users::create(
        &sdb,
        &ops.admin,
        &NewUser {
            email: "on-standby@example.com".into(),
            role: None,
            status: None,
            password: None,
        },
    )
    .await
    .expect_err("a standby refuses writes");
    assert!(matches!(err, Error::ReadOnly(_)), "{err:?}");
    assert!(err.to_string().contains("connect to the primary"), "{err}");

    // An operator's own login is their identity on the standby: no Session row to write.
    let op_url = url_as(&surl, &prov.db_role, PASSWORD);
    let odb = connect(&op_url).await;
    let me = identify(&odb, Client::Cli)
        .await
        .expect("identify on the standby")
        .expect("the login maps to the user");
    assert_eq!(me.user_id, ops.admin.user_id);
    odb.close().await;

    // The health report reads the standby, and says it is one.
    let rep = report(
        &sdb,
        &ops.admin,
        &ReportOptions {
            sample: Duration::from_millis(50),
            ..ReportOptions::default()
        },
    )
    .await
    .expect("health on the standby");
    assert!(rep.server.as_ref().expect("server").in_recovery);
    // The primary's report lists the standby with its lag.
    let rep = report(
        &pdb,
        &ops.admin,
        &ReportOptions {
            sample: Duration::from_millis(50),
            ..ReportOptions::default()
        },
    )
    .await
    .expect("health on the primary");
    let repl = rep.replication.expect("replication section");
    assert_eq!(repl.replicas.len(), 1, "one standby streams");
    assert!(repl.replicas[0].replay_lag_bytes.is_some());

    // Read routing: with replay paused on the standby, a change on the primary is missing from
    // what the CLI reads through --replica-url, and present without it.
    sdb.query("SELECT pg_wal_replay_pause()", &[])
        .await
        .expect("pause replay");
    let late = users::create(
        &pdb,
        &ops.admin,
        &NewUser {
            email: "after-pause@example.com".into(),
            role: None,
            status: None,
            password: None,
        },
    )
    .await
    .expect("write on the primary");
    let routed = Cli::new(vec![
        "--database-url".into(),
        purl.clone(),
        "--replica-url".into(),
        surl.clone(),
    ]);
    routed.login("admin@ncy-8.com", "admin123");
    let target = late.user.id.to_string();
    let on_replica = routed.json(&["audit", "list", "--target", &target]);
    assert_eq!(
        on_replica["items"].as_array().map(Vec::len),
        Some(0),
        "{on_replica}"
    );
    let direct = Cli::new(vec!["--database-url".into(), purl.clone()]);
    direct.login("admin@ncy-8.com", "admin123");
    let on_primary = direct.json(&["audit", "list", "--target", &target]);
    assert_eq!(
        on_primary["items"].as_array().map(Vec::len),
        Some(1),
        "{on_primary}"
    );
    // backup create dumps the replica (its User count lacks the late user) and records the
    // backup on the primary.
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_s = dir.path().display().to_string();
    let snap = routed.json(&["backup", "create", "--dir", &dir_s]);
    let users_on_primary = pdb
        .query(r#"SELECT count(*) AS n FROM "User""#, &[])
        .await
        .expect("count")[0]
        .int("n")
        .expect("n");
    assert_eq!(
        snap["table_counts"]["public.User"].as_i64(),
        Some(users_on_primary - 1),
        "the dump was taken on the standby: {snap}"
    );
    let listed = direct.json(&["backup", "list"]);
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    // sync init streams the slice from the replica (the late task is missing), and the next
    // pull from the primary brings it.
    ncy_tests::add_seeded_task(&pdb, "written after the pause").await;
    let cached_tasks = |v: &serde_json::Value| -> i64 { v["rows"]["Task"].as_i64().unwrap_or(-1) };
    let init = routed.json(&["sync", "init", "--org", "test-org"]);
    let first = cached_tasks(&init["status"]);
    assert!(first > 0, "{init}");
    routed.json(&["sync", "pull"]);
    let after = routed.json(&["sync", "status"]);
    assert_eq!(
        cached_tasks(&after),
        first + 1,
        "the first sync read the paused standby (without the late task), the pull from the \
         primary brought it: {init} then {after}"
    );
    // health: the catalog-only lists come from the replica (a foreign key created on the
    // primary after the pause is not listed there), the rest from the primary.
    pdb.query(
        r#"CREATE TABLE "LateFk" ("id" int PRIMARY KEY, "user_id" uuid REFERENCES "User"("id"))"#,
        &[],
    )
    .await
    .expect("a table with an unindexed foreign key");
    let quick = ReportOptions {
        sample: std::time::Duration::from_millis(10),
        ..ReportOptions::default()
    };
    let fk_listed = |rep: &ncy_health::HealthReport| {
        rep.objects
            .as_ref()
            .map(|o| o.missing_fk_indexes.iter().any(|m| m.table == "LateFk"))
            .unwrap_or(false)
    };
    let direct_rep = report(&pdb, &ops.admin, &quick).await.expect("health");
    assert!(fk_listed(&direct_rep), "the primary's catalog has it");
    let routed_rep = ncy_health::report::report_via(&pdb, &sdb, &ops.admin, &quick)
        .await
        .expect("health via the replica");
    assert!(!fk_listed(&routed_rep), "read on the paused standby");
    assert!(
        routed_rep.replication.is_some(),
        "replication still from the primary"
    );
    sdb.query("SELECT pg_wal_replay_resume()", &[])
        .await
        .expect("resume replay");

    // The CLI with the operator's own URL: reads work, a write is one line and exit 7.
    let cli = Cli::new(vec!["--database-url".into(), op_url.clone()]);
    let out = cli.json(&["users", "list", "--limit", "100"]);
    assert!(out.to_string().contains("admin@ncy-8.com"));
    fails(
        &cli.run(&["users", "create", "--email", "cli-standby@example.com"]),
        7,
        "read-only standby",
    );
    // The shared-URL email login writes a Session row: the same line.
    let shared = Cli::new(vec!["--database-url".into(), surl.clone()]);
    fails(
        &shared.run_with(
            &["login", "--email", "admin@ncy-8.com", "--password-stdin"],
            Some("admin123\n"),
        ),
        7,
        "read-only standby",
    );
    let n = sdb
        .query(
            r#"SELECT count(*) AS n FROM "User" WHERE "email" LIKE '%standby@example.com'"#,
            &[],
        )
        .await
        .expect("count")[0]
        .int("n")
        .expect("n");
    assert_eq!(n, 0, "nothing was written");
    sdb.close().await;
    pdb.close().await;
}
