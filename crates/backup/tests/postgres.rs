//! PostgreSQL-only backup flows (throwaway cluster from the harness): restore over another
//! database and into oddly named ones, PITR readiness, a database user without read access.
//! The flows both stores share (create → verify → restore, damaged files, retention,
//! permissions, cancellation) are in conformance.rs.

#![allow(clippy::useless_vec)]

mod common;

use ncy_backup::{BackupRef, Backups, CreateOptions, RestoreOptions, Work};
use ncy_core::auth::Operator;
use ncy_core::db::{ConnectOptions, Db, Target};
use ncy_core::Error;

use common::{audit_actions, connect, db_exists, files_in, junk_database, pg_checksums};

/// A new login role named `prefix_<random>` (passwordless on the harness server), given
/// `grants` (`{role}` stands for its name), and the harness `url` as that role.
async fn login_role(db: &Db, url: &str, prefix: &str, grants: &str) -> (String, url::Url) {
    let role = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut tx = db.begin().await.unwrap();
    tx.batch(&format!(
        "CREATE ROLE {role} LOGIN; {}",
        grants.replace("{role}", &role)
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut u = url::Url::parse(url).unwrap();
    u.set_username(&role).unwrap();
    let _ = u.set_password(None);
    (role, u)
}

async fn setup() -> (Db, String, Operator, Operator) {
    let (db, url) = ncy_tests::fresh_pg().await;
    let (admin, employee) = common::seeded(&db).await;
    (db, url, admin, employee)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_over_another_database_needs_force_and_takes_any_name() {
    let (db, url, admin, _) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let before = pg_checksums(&db).await;
    let snap = b
        .create(&admin, &CreateOptions::new(dir.path()), Work::none())
        .await
        .unwrap();
    let name = junk_database().await;
    let opts = RestoreOptions {
        into: name.clone(),
        ..Default::default()
    };
    let e = b
        .restore(&admin, &BackupRef::Id(snap.id), &opts, Work::none())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "conflict", "{e}");
    assert!(
        matches!(&e, Error::Conflict { field, .. } if field == "restore_into")
            && e.to_string().contains("already exists"),
        "the CLI and the window add their way to force it: {e}"
    );
    let rep = b
        .restore(
            &admin,
            &BackupRef::Path(snap.path.clone().into()),
            &RestoreOptions {
                force: true,
                ..opts
            },
            Work::none(),
        )
        .await
        .unwrap();
    assert!(rep.replaced);
    let restored = connect(&name).await;
    assert_eq!(
        pg_checksums(&restored).await,
        before,
        "junk replaced by the backup"
    );
    restored.close().await;

    // Any database name is taken literally (quotes, `=`, spaces).
    let odd = format!(
        "odd = 'name' {}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    b.restore(
        &admin,
        &BackupRef::Id(snap.id),
        &RestoreOptions {
            into: odd.clone(),
            ..Default::default()
        },
        Work::none(),
    )
    .await
    .unwrap();
    assert!(db_exists(&db, &odd).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitr_readiness_reflects_the_archiver() {
    let (db, url, admin, _) = setup().await;
    let b = Backups::postgres(db.clone(), &url).unwrap();
    let r = b.pitr_readiness(&admin).await.unwrap();
    if r.archive_mode != "on" {
        assert!(!r.ready && !r.problems.is_empty());
        return;
    }
    // The harness cluster archives into <dir>/wal_archive: force a segment out.
    let admin_db = Db::connect(
        &Target::Postgres(ncy_tests::server_url()),
        &ConnectOptions {
            max_connections: 1,
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap();
    let mut r = r;
    for _ in 0..100 {
        if r.archived_count > 0 {
            break;
        }
        admin_db
            .query("SELECT pg_switch_wal()::text AS l", &[])
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        r = b.pitr_readiness(&admin).await.unwrap();
    }
    admin_db.close().await;
    assert!(r.ready, "{:?}", r.problems);
    assert_eq!(r.wal_level, "replica");
    let archive = r.archive_dir.clone().expect("cp-style archive_command");
    assert!(archive.ends_with("wal_archive"), "{archive}");
    let script = ncy_backup::pitr::recovery_script(&r, r.last_archived_time.unwrap()).unwrap();
    assert!(script.contains("recovery.signal"));
    assert!(script.contains(&format!("restore_command = 'cp \"{archive}/%f\" \"%p\"'")));
    assert!(script.contains("recovery_target_time"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_user_without_read_access_gets_a_clear_error_and_nothing_is_kept() {
    let (db, url, admin, _) = setup().await;
    // pg_dump connects as a role that may not read the tables.
    let (role, u) = login_role(&db, &url, "ncy_noread", "").await;
    let b = Backups::postgres(db.clone(), u.as_str()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = b
        .create(&admin, &CreateOptions::new(dir.path()), Work::none())
        .await
        .unwrap_err();
    let m = e.to_string();
    assert!(m.contains("permission denied"), "{m}");
    assert!(m.contains("pg_read_all_data"), "names the fix: {m}");
    assert!(!m.contains("PGPASSWORD"), "{m}");
    assert!(files_in(dir.path()).is_empty(), "no partial file");
    assert_eq!(
        audit_actions(&db, "BACKUP_CREATE").await,
        0,
        "no snapshot row"
    );
    let n = db
        .query(r#"SELECT count(*) AS n FROM "BackupSnapshot""#, &[])
        .await
        .unwrap()[0]
        .int("n")
        .unwrap();
    assert_eq!(n, 0);
    let mut tx = db.begin().await.unwrap();
    tx.batch(&format!("DROP ROLE {role}")).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_without_createdb_is_told_before_a_verify_or_restore_starts() {
    let (db, url, admin, _) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let snap = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path())
        .create(&admin, &CreateOptions::new(dir.path()), Work::none())
        .await
        .unwrap();
    // A login that reads every table but may not create databases.
    let (role, u) = login_role(
        &db,
        &url,
        "ncy_nocreatedb",
        "GRANT USAGE ON SCHEMA public TO {role}; GRANT ALL ON ALL TABLES IN SCHEMA public TO {role};",
    )
    .await;
    let plain = Db::connect(
        &Target::Postgres(u.to_string()),
        &ConnectOptions {
            max_connections: 2,
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap();
    let b = Backups::postgres(plain.clone(), u.as_str())
        .unwrap()
        .with_dir(dir.path());
    let which = BackupRef::Id(snap.id);
    let plan = b
        .restore_plan(
            &admin,
            &which,
            &RestoreOptions {
                into: "ncy_nocreatedb_target".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!plan.allowed, "{plan:?}");
    assert!(
        plan.notes.iter().any(|n| n.contains("CREATEDB")),
        "{plan:?}"
    );
    let e = b.verify(&admin, &which, Work::none()).await.unwrap_err();
    let m = e.to_string();
    assert!(
        matches!(e, Error::Privilege { .. }) && m.contains("CREATEDB"),
        "{m}"
    );
    assert!(!db_exists(&db, "ncy_nocreatedb_target").await);
    plain.close().await;
    let mut tx = db.begin().await.unwrap();
    tx.batch(&format!(
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}; REVOKE USAGE ON SCHEMA public FROM {role}; DROP ROLE {role}"
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
}
