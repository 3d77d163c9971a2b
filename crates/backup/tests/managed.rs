//! A managed PostgreSQL as its users get it: the application connects as the database owner,
//! not a superuser, with CREATEDB and CREATEROLE (migration 0010 creates the operator groups), and the provider created `pg_stat_statements` in the
//! database (the harness cluster preloads it). Verify restores what the owner can create,
//! skips and records the extension it cannot, and still proves every table's rows; a restore
//! does the same.

use std::path::Path;

use ncy_backup::{BackupRef, Backups, CreateOptions, RestoreOptions, Work};
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::db::{Db, Target};
use ncy_core::migrate::{self, MigrationSet};

async fn superuser(db: &str) -> Db {
    Db::connect(
        &Target::Postgres(ncy_tests::url_for(db)),
        &ncy_tests::small_pool(),
    )
    .await
    .unwrap()
}

async fn exec(db: &Db, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(db.pg().unwrap().pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_as_a_non_superuser_owner_skips_the_providers_extension_and_proves_the_rows() {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let role = format!("ncy_owner_{tag}");
    let name = format!("ncy_managed_{tag}");
    let server = superuser("postgres").await;
    exec(
        &server,
        &format!("CREATE ROLE {role} LOGIN CREATEDB CREATEROLE"),
    )
    .await;
    exec(&server, &format!("CREATE DATABASE {name} OWNER {role}")).await;
    server.close().await;
    // The provider's extension, created by a superuser in the owner's database.
    let provider = superuser(&name).await;
    exec(
        &provider,
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
    )
    .await;
    provider.close().await;

    let mut u = url::Url::parse(&ncy_tests::url_for(&name)).unwrap();
    u.set_username(&role).unwrap();
    let _ = u.set_password(None);
    let url = u.to_string();
    let db = Db::connect(&Target::Postgres(url.clone()), &ncy_tests::small_pool())
        .await
        .unwrap();
    let is_super = db
        .query(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap()[0]
        .bool("rolsuper")
        .unwrap();
    assert!(!is_super, "the test runs as a plain owner");
    let set = MigrationSet::embedded(ncy_core::db::Dialect::Postgres).unwrap();
    migrate::up(&db, &set).await.unwrap();
    ncy_core::seed::dev(&db, false).await.unwrap();
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

    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let snap = b
        .create(&admin, &CreateOptions::new(dir.path()), Work::none())
        .await
        .unwrap();
    assert!(Path::new(&snap.path).is_file());
    let v = b
        .verify(&admin, &BackupRef::Id(snap.id), Work::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    let skipped: Vec<&str> = v
        .skipped_extensions
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(skipped, vec!["pg_stat_statements"]);
    assert!(
        v.skipped_extensions[0].reason.contains("permission denied"),
        "{:?}",
        v.skipped_extensions
    );
    let counts = snap.table_counts.clone().unwrap();
    assert!(counts.len() > 10, "{counts:?}");
    assert_eq!(v.tables.len(), counts.len());
    assert!(v.tables.iter().all(|t| t.ok), "{:?}", v.tables);
    assert_eq!(counts["public.User"], 3);
    // Stored with the verification, for the Backups screen.
    let stored = b.get(&admin, &BackupRef::Id(snap.id)).await.unwrap();
    assert!(stored.verified);
    assert_eq!(
        stored.verification.unwrap()["skipped_extensions"][0]["name"],
        "pg_stat_statements"
    );

    // A restore into a new database as the same owner works too, and says what it skipped.
    let into = format!("ncy_managed_copy_{tag}");
    let r = b
        .restore(
            &admin,
            &BackupRef::Id(snap.id),
            &RestoreOptions {
                into: into.clone(),
                no_owner: true,
                ..RestoreOptions::default()
            },
            Work::none(),
        )
        .await
        .unwrap();
    assert!(r.tables.iter().all(|t| t.ok), "{:?}", r.tables);
    assert_eq!(r.skipped_extensions.len(), 1);
}
