//! Per-table restore on real PostgreSQL: the plan says what is created and how many rows;
//! the new database holds exactly the asked tables, equal to the source; the CLI prints the
//! plan before running (or only the plan with --dry-run).

use ncy_backup::{BackupRef, Backups, CreateOptions, RestoreOptions, Work};
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::db::{Db, Target};
use ncy_core::seed::{self, SyntheticSpec};
use ncy_tests::cli::{fails, Cli};

/// md5 of a table's rows as text, sorted.
async fn table_sum(db: &Db, table: &str) -> String {
    db.query(
        &format!(
            r#"SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) AS m
               FROM (SELECT r::text AS x FROM "public"."{table}" r) q"#
        ),
        &[],
    )
    .await
    .unwrap()[0]
        .text("m")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_table_equals_the_source_table() {
    let (db, url) = ncy_tests::fresh_pg().await;
    seed::dev(&db, false).await.unwrap();
    let spec = SyntheticSpec {
        users: 20,
        orgs: 2,
        tasks: 150,
        audit: 10,
        seed: 7,
    };
    seed::synthetic(&db, spec, true).await.unwrap();
    let admin = login(
        &db,
        "admin@ncy-8.com",
        "admin123",
        Client::Cli,
        &LockoutPolicy::default(),
    )
    .await
    .unwrap()
    .operator;
    let cli = Cli::new(vec!["--database-url".into(), url.clone()]);
    cli.login("admin@ncy-8.com", "admin123");
    let dir = cli.home.path().join("data/backups");
    let b = Backups::postgres(db.clone(), &url).unwrap().with_dir(&dir);
    let snap = b
        .create(&admin, &CreateOptions::new(&dir), Work::none())
        .await
        .unwrap();
    let source_sum = table_sum(&db, "Task").await;
    let tasks = snap.table_counts.as_ref().unwrap()["public.Task"];
    assert!(tasks >= 150, "{tasks}");

    let into = format!(
        "ncy_task_only_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let opts = RestoreOptions {
        into: into.clone(),
        tables: vec!["Task".into()],
        ..RestoreOptions::default()
    };
    let which = BackupRef::Id(snap.id);
    let plan = b.restore_plan(&admin, &which, &opts).await.unwrap();
    assert_eq!(plan.action, "create");
    assert!(plan.allowed);
    assert_eq!(plan.tables.len(), 1);
    assert_eq!(plan.tables[0].table, "public.Task");
    assert_eq!(plan.tables[0].rows, Some(tasks));
    assert_eq!(plan.rows, tasks);
    assert!(plan.left_out > 10);

    // The CLI shows the same plan and stops with --dry-run.
    let id = snap.id.to_string();
    let p = cli.json(&[
        "backup",
        "restore",
        &id,
        "--table",
        "Task",
        "--into",
        &into,
        "--dry-run",
    ]);
    assert_eq!(p["tables"][0]["rows"], tasks);
    fails(
        &cli.run(&["backup", "restore", &id, "--table", "Nope", "--into", &into]),
        2,
        "is not a table of this backup",
    );

    let r = b
        .restore(&admin, &which, &opts, Work::none())
        .await
        .unwrap();
    assert_eq!(r.tables.len(), 1);
    assert!(
        r.tables[0].ok && r.tables[0].actual == Some(tasks),
        "{:?}",
        r.tables
    );
    let copy = Db::connect(
        &Target::Postgres(ncy_tests::url_for(&into)),
        &ncy_tests::small_pool(),
    )
    .await
    .unwrap();
    assert_eq!(table_sum(&copy, "Task").await, source_sum, "equal rows");
    let left = copy
        .query(
            "SELECT string_agg(relname::text, ',') AS t FROM pg_stat_user_tables",
            &[],
        )
        .await
        .unwrap()[0]
        .text("t")
        .unwrap();
    assert_eq!(left, "Task", "only the asked table");
    copy.close().await;

    // Into the same name again: the plan says replace, the CLI prints it and refuses
    // without --force (exit 4); with --force it replaces.
    let o = cli.run(&["backup", "restore", &id, "--table", "Task", "--into", &into]);
    fails(&o, 4, "--force");
    let o = cli.run(&[
        "backup",
        "restore",
        &id,
        "--table",
        "Task",
        "--table",
        "public.User",
        "--into",
        &into,
        "--force",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("restore plan: replace database") && err.contains("public.User"),
        "{err}"
    );
}
