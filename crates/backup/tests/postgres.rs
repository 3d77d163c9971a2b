//! Backups of a real PostgreSQL database (throwaway cluster from the harness): create → verify
//! → restore into a new database with every table's rows equal, corrupted and truncated dumps
//! failing verification, retention, permissions, cancellation, PITR readiness.

#![allow(clippy::useless_vec)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use ncy_backup::{BackupRef, Backups, CreateOptions, Hooks, Progress, PrunePolicy, RestoreOptions};
use ncy_core::auth::{login, Client, LockoutPolicy, Operator};
use ncy_core::db::{ConnectOptions, Db, Target};
use ncy_core::seed::{self, SyntheticSpec};
use ncy_core::{params, Error};

async fn setup() -> (Db, String, Operator, Operator) {
    let (db, url) = ncy_tests::fresh_pg().await;
    seed::dev(&db, false).await.unwrap();
    seed::synthetic(
        &db,
        SyntheticSpec {
            users: 40,
            orgs: 3,
            tasks: 300,
            audit: 50,
            seed: 3,
        },
        true,
    )
    .await
    .unwrap();
    let p = LockoutPolicy::default();
    let admin = login(&db, "admin@ncy-8.com", "admin123", Client::Cli, &p)
        .await
        .unwrap()
        .operator;
    let employee = login(&db, "employee@test-org.com", "employee123", Client::Cli, &p)
        .await
        .unwrap()
        .operator;
    (db, url, admin, employee)
}

/// md5 of every table's rows (as text, sorted), per `schema.table`.
async fn checksums(db: &Db) -> BTreeMap<String, String> {
    let tables = db
        .query(
            "SELECT schemaname::text AS s, relname::text AS t FROM pg_stat_user_tables ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for r in tables {
        let (s, t) = (r.text("s").unwrap(), r.text("t").unwrap());
        let sum = db
            .query(
                &format!(
                    r#"SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) AS m
                       FROM (SELECT r::text AS x FROM "{s}"."{t}" r) q"#
                ),
                &[],
            )
            .await
            .unwrap()[0]
            .text("m")
            .unwrap();
        out.insert(format!("{s}.{t}"), sum);
    }
    out
}

/// An existing database with other contents (one table, `junk`); its name.
async fn junk_database() -> String {
    let (other, other_url) = ncy_tests::empty_pg().await;
    other.query("CREATE TABLE junk (x int)", &[]).await.unwrap();
    other.close().await;
    ncy_backup::PgConn::from_url(&other_url)
        .unwrap()
        .database()
        .to_owned()
}

async fn connect(name: &str) -> Db {
    Db::connect(
        &Target::Postgres(ncy_tests::url_for(name)),
        &ncy_tests::small_pool(),
    )
    .await
    .unwrap()
}

async fn db_exists(db: &Db, name: &str) -> bool {
    !db.query(
        "SELECT 1 AS x FROM pg_database WHERE datname = $1",
        &params![name],
    )
    .await
    .unwrap()
    .is_empty()
}

async fn audit_actions(db: &Db, action: &str) -> i64 {
    db.query(
        r#"SELECT count(*) AS n FROM "AuditLog" WHERE "action" = $1"#,
        &params![action],
    )
    .await
    .unwrap()[0]
        .int("n")
        .unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_verify_restore_gives_equal_tables() {
    let (db, url, admin, _) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let before = checksums(&db).await;
    assert!(before.len() > 10, "{before:?}");

    let seen: Mutex<Vec<Progress>> = Mutex::new(vec![]);
    let record = |p: Progress| seen.lock().unwrap().push(p);
    let hooks = Hooks {
        progress: &record,
        cancel: None,
    };
    let snap = b
        .create(&admin, &CreateOptions::new(dir.path()), hooks)
        .await
        .unwrap();
    let name = Path::new(&snap.path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("ncy8_") && name.ends_with(".dump") && name.len() == 25,
        "{name}"
    );
    assert_eq!(
        files_in(dir.path()),
        vec![name.clone()],
        "no temporary file left"
    );
    assert_eq!(
        snap.size as u64,
        std::fs::metadata(&snap.path).unwrap().len()
    );
    assert_eq!(snap.format.as_deref(), Some("custom"));
    assert_eq!(snap.compression, Some(9));
    assert!(!snap.verified);
    assert_eq!(snap.created_by, Some(admin.user_id));
    assert!(snap.server_version.as_deref().unwrap().starts_with("1"));
    let counts = snap.table_counts.clone().unwrap();
    let tasks = db
        .query(r#"SELECT count(*) AS n FROM "Task""#, &[])
        .await
        .unwrap()[0]
        .int("n")
        .unwrap();
    assert_eq!(counts["public.Task"], tasks);
    assert_eq!(counts.len(), before.len());
    {
        let seen = seen.lock().unwrap();
        let last = seen.iter().rfind(|p| p.phase == "dump").unwrap();
        assert_eq!(last.done, last.total, "every table reported: {last:?}");
        assert!(last.bytes > 0);
    }
    // The recorded checksum is the file's.
    let file_sum = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&snap.path).unwrap()))
    };
    assert_eq!(snap.sha256.as_deref(), Some(file_sum.as_str()));
    assert_eq!(audit_actions(&db, "BACKUP_CREATE").await, 1);

    // Verify: test restore into a scratch database, counts compared, scratch dropped.
    let v = b
        .verify(&admin, &BackupRef::Id(snap.id), Hooks::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert!(v.checksum_ok && v.readable && v.entries > 10);
    assert!(v.restore_ms.is_some());
    assert_eq!(v.tables.len(), counts.len());
    assert!(v.tables.iter().all(|t| t.ok && t.actual == t.expected));
    assert!(!db_exists(&db, v.scratch_database.as_deref().unwrap()).await);
    let got = b
        .get(&admin, &BackupRef::Path(snap.path.clone().into()))
        .await
        .unwrap();
    assert!(got.verified && got.verified_at.is_some());
    assert_eq!(got.verification.unwrap()["ok"], serde_json::json!(true));
    assert_eq!(audit_actions(&db, "BACKUP_VERIFY").await, 1);

    // Restore into a new database: every table's rows equal those at backup time.
    let target = format!("restored_{}", uuid::Uuid::new_v4().simple());
    let rep = b
        .restore(
            &admin,
            &BackupRef::Id(snap.id),
            &RestoreOptions {
                into: target.clone(),
                ..Default::default()
            },
            Hooks::none(),
        )
        .await
        .unwrap();
    assert!(!rep.replaced);
    assert!(rep.tables.iter().all(|t| t.ok), "{:?}", rep.tables);
    let restored = connect(&target).await;
    assert_eq!(checksums(&restored).await, before);
    restored.close().await;
    assert_eq!(audit_actions(&db, "BACKUP_RESTORE").await, 1);

    // The list shows it, with the age of the last verified backup.
    let l = b.list(&admin, None, 10).await.unwrap();
    assert_eq!(l.items.len(), 1);
    assert!(l.items[0].file_exists);
    assert!(l.last_verified_age_secs.unwrap() >= 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_and_truncated_dumps_fail_verification() {
    let (db, url, admin, _) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let opts = CreateOptions {
        dir: dir.path().into(),
        compression: 6,
        ..CreateOptions::new(dir.path())
    };

    // One byte flipped in the middle: same size, different content.
    let s1 = b.create(&admin, &opts, Hooks::none()).await.unwrap();
    let mut bytes = std::fs::read(&s1.path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&s1.path, &bytes).unwrap();
    let v = b
        .verify(&admin, &BackupRef::Id(s1.id), Hooks::none())
        .await
        .unwrap();
    assert!(!v.ok && !v.checksum_ok);
    assert!(
        v.problems.iter().any(|p| p.contains("checksum mismatch")),
        "{:?}",
        v.problems
    );
    assert!(!b.get(&admin, &BackupRef::Id(s1.id)).await.unwrap().verified);

    // Truncated, with the recorded checksum and size forged to match: the test restore
    // itself must catch it.
    let s2 = b.create(&admin, &opts, Hooks::none()).await.unwrap();
    let full = std::fs::read(&s2.path).unwrap();
    let cut = &full[..full.len() * 2 / 3];
    std::fs::write(&s2.path, cut).unwrap();
    let forged = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(cut))
    };
    db.query(
        r#"UPDATE "BackupSnapshot" SET "sha256" = $1, "size" = $2 WHERE "id" = $3 RETURNING "id""#,
        &params![forged.as_str(), cut.len() as i64, s2.id],
    )
    .await
    .unwrap();
    let v = b
        .verify(&admin, &BackupRef::Id(s2.id), Hooks::none())
        .await
        .unwrap();
    assert!(v.checksum_ok, "the forged checksum matches");
    assert!(!v.ok, "a truncated dump must not verify");
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("test restore failed") || p.contains("cannot read")),
        "{:?}",
        v.problems
    );
    if let Some(scratch) = &v.scratch_database {
        assert!(
            !db_exists(&db, scratch).await,
            "scratch dropped after a failure too"
        );
    }
    // A corrupted backup is never restored.
    let e = b
        .restore(
            &admin,
            &BackupRef::Id(s1.id),
            &RestoreOptions {
                into: format!("r_{}", uuid::Uuid::new_v4().simple()),
                ..Default::default()
            },
            Hooks::none(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("checksum"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_over_an_existing_database_needs_force() {
    let (db, url, admin, _) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let before = checksums(&db).await;
    let snap = b
        .create(&admin, &CreateOptions::new(dir.path()), Hooks::none())
        .await
        .unwrap();
    let name = junk_database().await;
    let opts = RestoreOptions {
        into: name.clone(),
        ..Default::default()
    };
    let e = b
        .restore(&admin, &BackupRef::Id(snap.id), &opts, Hooks::none())
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
            Hooks::none(),
        )
        .await
        .unwrap();
    assert!(rep.replaced);
    let restored = connect(&name).await;
    assert_eq!(
        checksums(&restored).await,
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
        Hooks::none(),
    )
    .await
    .unwrap();
    assert!(db_exists(&db, &odd).await);

    // Over the session's own database: needs --force; afterwards the pool reconnects to the
    // restored database, which holds the backup's rows plus the audit row of the restore.
    db.query(r#"DELETE FROM "Task" RETURNING "id""#, &[])
        .await
        .unwrap();
    let me = ncy_backup::PgConn::from_url(&url)
        .unwrap()
        .database()
        .to_owned();
    let own = RestoreOptions {
        into: me,
        ..Default::default()
    };
    let e = b
        .restore(&admin, &BackupRef::Id(snap.id), &own, Hooks::none())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "conflict", "{e}");
    let rep = b
        .restore(
            &admin,
            &BackupRef::Id(snap.id),
            &RestoreOptions { force: true, ..own },
            Hooks::none(),
        )
        .await
        .unwrap();
    assert!(rep.replaced);
    let mut after = checksums(&db).await;
    let mut expected = before.clone();
    for audit in ["public.AuditLog", "public.AuditChain"] {
        after.remove(audit);
        expected.remove(audit);
    }
    assert_eq!(after, expected, "tasks are back");
    assert_eq!(audit_actions(&db, "BACKUP_RESTORE").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_young_and_newest_verified_backups() {
    let (db, url, admin, _) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let opts = CreateOptions {
        dir: dir.path().into(),
        compression: 0,
        ..CreateOptions::new(dir.path())
    };
    let mut snaps = vec![];
    for _ in 0..4 {
        snaps.push(b.create(&admin, &opts, Hooks::none()).await.unwrap());
    }
    // s[1] is verified; then age them: 40, 50, 60 days and today.
    let v = b
        .verify(&admin, &BackupRef::Id(snaps[1].id), Hooks::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    for (s, days) in snaps.iter().zip([40, 50, 60, 0]) {
        db.query(
            &format!(
                r#"UPDATE "BackupSnapshot" SET "created_at" = "created_at" - interval '{days} days'
                   WHERE "id" = $1 RETURNING "id""#
            ),
            &params![s.id],
        )
        .await
        .unwrap();
    }
    let plan = b
        .prune(&admin, &PrunePolicy::default(), true)
        .await
        .unwrap();
    assert!(plan.dry_run);
    let kept: Vec<_> = plan.keep.iter().map(|k| k.id).collect();
    let deleted: Vec<_> = plan.delete.iter().map(|k| k.id).collect();
    assert_eq!(
        kept,
        vec![snaps[3].id, snaps[1].id],
        "today's and the newest verified"
    );
    assert_eq!(deleted, vec![snaps[0].id, snaps[2].id]);
    assert!(
        snaps.iter().all(|s| Path::new(&s.path).exists()),
        "dry run deletes nothing"
    );
    assert_eq!(audit_actions(&db, "BACKUP_PRUNE").await, 0);

    // keep_last 2 keeps the 40-day-old one too.
    let plan = b
        .prune(
            &admin,
            &PrunePolicy {
                keep_days: 30,
                keep_last: Some(2),
            },
            true,
        )
        .await
        .unwrap();
    assert_eq!(plan.delete.len(), 1);

    let plan = b
        .prune(&admin, &PrunePolicy::default(), false)
        .await
        .unwrap();
    assert_eq!(plan.delete.len(), 2);
    assert!(!Path::new(&snaps[0].path).exists() && !Path::new(&snaps[2].path).exists());
    assert!(Path::new(&snaps[1].path).exists() && Path::new(&snaps[3].path).exists());
    let left: Vec<_> = b
        .list(&admin, None, 10)
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![snaps[3].id, snaps[1].id]);
    assert_eq!(audit_actions(&db, "BACKUP_PRUNE").await, 2);

    // Even with keep-days 0 the newest verified backup stays.
    let plan = b
        .prune(
            &admin,
            &PrunePolicy {
                keep_days: 0,
                keep_last: None,
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(plan.keep.len(), 1);
    assert_eq!(plan.keep[0].id, snaps[1].id);
    assert!(Path::new(&snaps[1].path).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_bad_directory_and_cancel_leave_nothing_behind() {
    let (db, url, admin, employee) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let opts = CreateOptions::new(dir.path().join("b"));
    let forbidden = |e: Error, perm: &str| {
        assert!(
            matches!(&e, Error::Forbidden { permission } if permission == perm),
            "{e}"
        );
    };
    forbidden(
        b.create(&employee, &opts, Hooks::none()).await.unwrap_err(),
        "backups.run",
    );
    forbidden(
        b.list(&employee, None, 10).await.unwrap_err(),
        "backups.read",
    );
    forbidden(
        b.prune(&employee, &PrunePolicy::default(), true)
            .await
            .unwrap_err(),
        "backups.run",
    );
    forbidden(
        b.restore(
            &employee,
            &BackupRef::Path("/nonexistent.dump".into()),
            &RestoreOptions {
                into: "x".into(),
                ..Default::default()
            },
            Hooks::none(),
        )
        .await
        .unwrap_err(),
        "backups.restore",
    );
    forbidden(
        b.pitr_readiness(&employee).await.unwrap_err(),
        "backups.read",
    );
    assert!(
        !dir.path().join("b").exists(),
        "nothing done before the permission check"
    );

    // A file where the directory should be.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let e = b
        .create(&admin, &CreateOptions::new(&blocker), Hooks::none())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io { context, .. }
            if context.starts_with("cannot write to the backup directory")
                && context.contains("a file of that name is in the way")),
        "{e}"
    );

    // Cancelled as soon as the dump starts: no file, no row.
    let flag = AtomicBool::new(false);
    let cancel_now = |_: Progress| flag.store(true, Ordering::Relaxed);
    let e = b
        .create(
            &admin,
            &opts,
            Hooks {
                progress: &cancel_now,
                cancel: Some(&flag),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e}");
    assert!(files_in(&dir.path().join("b")).is_empty());
    assert!(b.list(&admin, None, 10).await.unwrap().items.is_empty());
    assert_eq!(audit_actions(&db, "BACKUP_CREATE").await, 0);

    // Not recorded: a clear not-found.
    let e = b
        .verify(
            &admin,
            &BackupRef::Path("/tmp/none.dump".into()),
            Hooks::none(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_restore_leaves_the_target_as_it_was() {
    let (db, url, admin, _) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let snap = b
        .create(&admin, &CreateOptions::new(dir.path()), Hooks::none())
        .await
        .unwrap();
    let name = junk_database().await;
    let fresh = format!(
        "cancelled_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    // Cancelled once pg_restore has started: into an existing database (with force) and into
    // a new one.
    for (into, force) in [(name.clone(), true), (fresh.clone(), false)] {
        let flag = AtomicBool::new(false);
        let cancel_in_restore = |p: Progress| {
            if p.phase == "restore" {
                flag.store(true, Ordering::Relaxed);
            }
        };
        let e = b
            .restore(
                &admin,
                &BackupRef::Id(snap.id),
                &RestoreOptions {
                    into: into.clone(),
                    force,
                    ..Default::default()
                },
                Hooks {
                    progress: &cancel_in_restore,
                    cancel: Some(&flag),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{into}: {e}");
    }
    // The existing database keeps its contents; the new one was never created; no scratch
    // database is left; nothing is audited.
    let kept = connect(&name).await;
    assert_eq!(
        checksums(&kept).await.keys().cloned().collect::<Vec<_>>(),
        vec!["public.junk".to_string()]
    );
    kept.close().await;
    // (A scratch database is named after the first 40 characters of the target.)
    let scratch = |n: &str| format!("{}_restoring_", &n[..n.len().min(40)]);
    let left = db
        .query(
            "SELECT datname::text AS d FROM pg_database
              WHERE datname = $1 OR starts_with(datname, $2) OR starts_with(datname, $3)",
            &params![fresh.as_str(), scratch(&fresh), scratch(&name)],
        )
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "{:?}",
        left.iter().map(|r| r.text("d")).collect::<Vec<_>>()
    );
    assert_eq!(audit_actions(&db, "BACKUP_RESTORE").await, 0);
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
    let role = format!(
        "ncy_noread_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut tx = db.begin().await.unwrap();
    tx.batch(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut u = url::Url::parse(&url).unwrap();
    u.set_username(&role).unwrap();
    let _ = u.set_password(None);
    let b = Backups::postgres(db.clone(), u.as_str()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = b
        .create(&admin, &CreateOptions::new(dir.path()), Hooks::none())
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
