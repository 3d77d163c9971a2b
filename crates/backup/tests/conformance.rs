//! The backup flows both stores share, written once and run by `conformance!` against a real
//! PostgreSQL database (pg_dump, restored into a new database) and a real SQLite workspace (a
//! copy of the file, restored into a new file): create → list → verify → restore with every
//! table equal, keyset pages, damaged files refused, restore over the live store only with
//! force, retention, permissions, and cancellation leaving nothing behind. Store-specific
//! flows stay in postgres.rs (other databases, odd names, PITR, read access) and sqlite.rs
//! (encrypted workspaces).

#![allow(clippy::useless_vec)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use ncy_backup::{BackupRef, Backups, CreateOptions, Progress, PrunePolicy, RestoreOptions, Work};
use ncy_core::auth::Operator;
use ncy_core::db::{Db, Dialect, Target};
use ncy_core::{params, Error};
use ncy_tests::{conformance, Store};

use common::{audit_actions, count, db_exists, files_in};

/// A seeded store, its backups (folder: `dir`) and two operators.
struct Fixture {
    store: Store,
    b: Backups,
    admin: Operator,
    employee: Operator,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn db(&self) -> &Db {
        &self.store.db
    }

    fn pg(&self) -> bool {
        self.store.dialect() == Dialect::Postgres
    }

    /// The backup file's extension.
    fn ext(&self) -> &'static str {
        if self.pg() {
            ".dump"
        } else {
            ".sqlite"
        }
    }

    /// The key of `table` in table counts and fingerprints (`public.Task` / `Task`).
    fn table(&self, table: &str) -> String {
        if self.pg() {
            format!("public.{table}")
        } else {
            table.to_owned()
        }
    }

    /// A restore target that does not exist yet: a database name or a file path.
    fn new_target(&self, stem: &str) -> String {
        let unique = format!("{stem}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        if self.pg() {
            unique
        } else {
            self.dir
                .path()
                .join(format!("{unique}.db"))
                .display()
                .to_string()
        }
    }

    /// The target naming the live store itself.
    fn live_target(&self) -> String {
        match (&self.store.url, self.db().sqlite_path()) {
            (Some(url), _) => ncy_backup::PgConn::from_url(url)
                .unwrap()
                .database()
                .to_owned(),
            (None, Some(p)) => p.display().to_string(),
            _ => unreachable!("a store is PostgreSQL or SQLite"),
        }
    }

    /// An existing target with other contents (one table, `junk`).
    async fn junk_target(&self) -> String {
        if self.pg() {
            common::junk_database().await
        } else {
            let path = self.new_target("junk");
            let other = Db::open_sqlite(Path::new(&path)).unwrap();
            let mut tx = other.begin().await.unwrap();
            tx.batch("CREATE TABLE junk (x int); INSERT INTO junk VALUES (1)")
                .await
                .unwrap();
            tx.commit().await.unwrap();
            other.close().await;
            path
        }
    }

    async fn open_target(&self, into: &str) -> Db {
        if self.pg() {
            common::connect(into).await
        } else {
            Db::open_sqlite(Path::new(into)).unwrap()
        }
    }

    async fn target_exists(&self, into: &str) -> bool {
        if self.pg() {
            db_exists(self.db(), into).await
        } else {
            Path::new(into).exists()
        }
    }
}

async fn setup(store: Store) -> Fixture {
    let db = store.db.clone();
    let (admin, employee) = common::seeded(&db).await;
    let target = match (&store.url, db.sqlite_path()) {
        (Some(url), _) => Target::Postgres(url.clone()),
        (None, Some(p)) => Target::Local(p.to_path_buf()),
        _ => unreachable!("a store is PostgreSQL or SQLite"),
    };
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::new(db, &target).unwrap().with_dir(dir.path());
    Fixture {
        store,
        b,
        admin,
        employee,
        dir,
    }
}

/// A fingerprint of every table's rows, per table (md5 of the sorted rows on PostgreSQL, the
/// rows as JSON on SQLite).
async fn fingerprint(db: &Db) -> BTreeMap<String, String> {
    if db.dialect() == Dialect::Postgres {
        common::pg_checksums(db).await
    } else {
        let mut out = BTreeMap::new();
        let names = db
            .query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                &[],
            )
            .await
            .unwrap();
        for n in names {
            let t = n.text("name").unwrap();
            let rows = db
                .query(&format!(r#"SELECT * FROM "{t}" ORDER BY 1"#), &[])
                .await
                .unwrap();
            let mut s: Vec<String> = rows.iter().map(|r| r.to_json().to_string()).collect();
            s.sort();
            out.insert(t, s.join("\n"));
        }
        out
    }
}

/// `fingerprint` without the audit tables (a restore writes its own audit row afterwards).
async fn fingerprint_without_audit(f: &Fixture, db: &Db) -> BTreeMap<String, String> {
    let mut m = fingerprint(db).await;
    for t in ["AuditLog", "AuditChain"] {
        m.remove(&f.table(t));
    }
    m
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn into(target: &str) -> RestoreOptions {
    RestoreOptions {
        into: target.to_owned(),
        ..Default::default()
    }
}

fn refused_without_force(e: &Error) {
    assert!(
        matches!(e, Error::Conflict { field, .. } if field == "restore_into")
            && e.to_string().contains("already exists"),
        "the CLI and the window add their way to force it: {e}"
    );
}

conformance!(create_list_verify_restore_round_trip, |store| async move {
    let f = setup(store).await;
    let (db, b, admin) = (f.db(), &f.b, &f.admin);
    let before = fingerprint(db).await;
    assert!(before.len() > 10, "{before:?}");
    let folder = f.dir.path().join("b");

    let seen: Mutex<Vec<Progress>> = Mutex::new(vec![]);
    let record = |p: Progress| seen.lock().unwrap().push(p);
    let hooks = Work::new(&record, None);
    let snap = b
        .create(admin, &CreateOptions::new(&folder), hooks)
        .await
        .unwrap();
    let name = Path::new(&snap.path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("ncy8_") && name.ends_with(f.ext()) && name.len() == 20 + f.ext().len(),
        "{name}"
    );
    assert_eq!(
        files_in(&folder),
        vec![name.clone()],
        "no temporary file left"
    );
    assert_eq!(
        snap.size as u64,
        std::fs::metadata(&snap.path).unwrap().len()
    );
    assert!(!snap.verified);
    assert_eq!(snap.created_by, Some(admin.user_id));
    if f.pg() {
        assert_eq!(snap.format.as_deref(), Some("custom"));
        assert_eq!(snap.compression, Some(9));
        assert!(snap.server_version.as_deref().unwrap().starts_with('1'));
    } else {
        assert_eq!(snap.format.as_deref(), Some("sqlite"));
        assert!(snap
            .server_version
            .as_deref()
            .unwrap()
            .starts_with("SQLite"));
    }
    let counts = snap.table_counts.clone().unwrap();
    for t in ["Task", "User"] {
        assert_eq!(counts[&f.table(t)], count(db, t).await, "{t}");
    }
    {
        let seen = seen.lock().unwrap();
        let phase = if f.pg() { "dump" } else { "copy" };
        let last = seen.iter().rfind(|p| p.phase == phase).unwrap();
        assert_eq!(last.done, last.total, "everything reported: {last:?}");
        if f.pg() {
            assert!(last.bytes > 0);
        }
    }
    // The recorded checksum is the file's.
    let file_sum = sha256(&std::fs::read(&snap.path).unwrap());
    assert_eq!(snap.sha256.as_deref(), Some(file_sum.as_str()));
    assert_eq!(audit_actions(db, "BACKUP_CREATE").await, 1);

    // Verify: a test restore, its counts compared with the recorded ones.
    let v = b
        .verify(admin, &BackupRef::Id(snap.id), Work::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert!(v.checksum_ok && v.readable);
    assert_eq!(v.tables.len(), counts.len());
    assert!(v.tables.iter().all(|t| t.ok && t.actual == t.expected));
    if f.pg() {
        // A scratch database, dropped afterwards.
        assert!(v.entries > 10);
        assert!(v.restore_ms.is_some());
        assert!(!db_exists(db, v.scratch_database.as_deref().unwrap()).await);
    }
    let got = b
        .get(admin, &BackupRef::Path(snap.path.clone().into()))
        .await
        .unwrap();
    assert!(got.verified && got.verified_at.is_some());
    assert_eq!(got.verification.unwrap()["ok"], serde_json::json!(true));
    assert_eq!(audit_actions(db, "BACKUP_VERIFY").await, 1);

    // Restore into a new target: every table's rows equal those at backup time.
    let target = f.new_target("restored");
    let rep = b
        .restore(
            admin,
            &BackupRef::Path(snap.path.clone().into()),
            &into(&target),
            Work::none(),
        )
        .await
        .unwrap();
    assert!(!rep.replaced);
    assert!(rep.tables.iter().all(|t| t.ok), "{:?}", rep.tables);
    let restored = f.open_target(&target).await;
    assert_eq!(fingerprint(&restored).await, before);
    restored.close().await;
    assert_eq!(audit_actions(db, "BACKUP_RESTORE").await, 1);
    // Again: the target exists now, so it is refused without force.
    let e = b
        .restore(admin, &BackupRef::Id(snap.id), &into(&target), Work::none())
        .await
        .unwrap_err();
    refused_without_force(&e);

    let actions: Vec<String> = db
        .query(
            r#"SELECT "action" FROM "AuditLog" WHERE "action" LIKE 'BACKUP_%' ORDER BY "created_at""#,
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.text("action").unwrap())
        .collect();
    assert_eq!(
        actions,
        ["BACKUP_CREATE", "BACKUP_VERIFY", "BACKUP_RESTORE"]
    );

    // The list shows it, with the age of the last verified backup.
    let l = b.list(admin, None, 10).await.unwrap();
    assert_eq!(l.items.len(), 1);
    assert!(l.items[0].file_exists);
    assert!(l.last_verified_age_secs.unwrap() >= 0);
});

conformance!(the_list_pages_newest_first, |store| async move {
    let f = setup(store).await;
    let (b, admin) = (&f.b, &f.admin);
    let folder = f.dir.path().join("b");
    let mut ids = vec![];
    for _ in 0..3 {
        ids.push(
            b.create(admin, &CreateOptions::new(&folder), Work::none())
                .await
                .unwrap()
                .id,
        );
    }
    let p1 = b.list(admin, None, 2).await.unwrap();
    assert_eq!(p1.items.len(), 2);
    assert!(p1.items[0].created_at >= p1.items[1].created_at);
    let p2 = b.list(admin, p1.next_cursor.as_deref(), 2).await.unwrap();
    assert_eq!(p2.items.len(), 1);
    assert!(p2.next_cursor.is_none());
    assert_eq!(p2.items[0].id, ids[0], "oldest last");
    let mut seen: Vec<_> = p1.items.iter().chain(&p2.items).map(|s| s.id).collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "each backup once");
    let e = b.list(admin, Some("garbage"), 2).await.unwrap_err();
    assert_eq!(e.code(), "invalid", "{e}");
});

conformance!(
    a_damaged_file_fails_verification_and_is_never_restored,
    |store| async move {
        let f = setup(store).await;
        let (db, b, admin) = (f.db(), &f.b, &f.admin);
        let opts = CreateOptions::new(f.dir.path());

        // One byte flipped in the middle: same size, different content.
        let s1 = b.create(admin, &opts, Work::none()).await.unwrap();
        let mut bytes = std::fs::read(&s1.path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&s1.path, &bytes).unwrap();
        let v = b
            .verify(admin, &BackupRef::Id(s1.id), Work::none())
            .await
            .unwrap();
        assert!(!v.ok && !v.checksum_ok);
        assert!(
            v.problems.iter().any(|p| p.contains("checksum mismatch")),
            "{:?}",
            v.problems
        );
        assert!(!b.get(admin, &BackupRef::Id(s1.id)).await.unwrap().verified);

        // Truncated, with the recorded checksum and size forged to match: the test restore
        // itself must catch it.
        let s2 = b.create(admin, &opts, Work::none()).await.unwrap();
        let full = std::fs::read(&s2.path).unwrap();
        let cut = &full[..full.len() * 2 / 3];
        std::fs::write(&s2.path, cut).unwrap();
        db.query(
        r#"UPDATE "BackupSnapshot" SET "sha256" = $1, "size" = $2 WHERE "id" = $3 RETURNING "id""#,
        &params![sha256(cut).as_str(), cut.len() as i64, s2.id],
    )
    .await
    .unwrap();
        let v = b
            .verify(admin, &BackupRef::Id(s2.id), Work::none())
            .await
            .unwrap();
        assert!(v.checksum_ok, "the forged checksum matches");
        assert!(!v.ok, "a truncated backup must not verify");
        assert!(!v.problems.is_empty());
        assert!(!b.get(admin, &BackupRef::Id(s2.id)).await.unwrap().verified);
        if f.pg() {
            assert!(
                v.problems
                    .iter()
                    .any(|p| p.contains("test restore failed") || p.contains("cannot read")),
                "{:?}",
                v.problems
            );
            if let Some(scratch) = &v.scratch_database {
                assert!(
                    !db_exists(db, scratch).await,
                    "scratch dropped after a failure too"
                );
            }
        }

        // A damaged backup is never restored, and nothing is created for it.
        let target = f.new_target("damaged");
        let e = b
            .restore(admin, &BackupRef::Id(s1.id), &into(&target), Work::none())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
        assert!(!f.target_exists(&target).await);
        assert_eq!(audit_actions(db, "BACKUP_RESTORE").await, 0);
    }
);

conformance!(
    restore_over_the_live_store_needs_force,
    |store| async move {
        let f = setup(store).await;
        let (db, b, admin) = (f.db(), &f.b, &f.admin);
        let before = fingerprint_without_audit(&f, db).await;
        let snap = b
            .create(admin, &CreateOptions::new(f.dir.path()), Work::none())
            .await
            .unwrap();

        // Change the live store, then restore the backup over it.
        db.query(r#"DELETE FROM "Task" RETURNING "id""#, &[])
            .await
            .unwrap();
        let live = into(&f.live_target());
        let e = b
            .restore(admin, &BackupRef::Id(snap.id), &live, Work::none())
            .await
            .unwrap_err();
        refused_without_force(&e);
        assert_eq!(count(db, "Task").await, 0, "refused: nothing restored");
        let rep = b
            .restore(
                admin,
                &BackupRef::Id(snap.id),
                &RestoreOptions {
                    force: true,
                    ..live
                },
                Work::none(),
            )
            .await
            .unwrap();
        assert!(rep.replaced);
        assert!(rep.tables.iter().all(|t| t.ok), "{:?}", rep.tables);
        // The store holds the backup's rows again (the snapshot table as at backup time, without
        // the backup's own row), plus the audit row of the restore.
        assert_eq!(
            fingerprint_without_audit(&f, db).await,
            before,
            "tasks are back"
        );
        assert_eq!(audit_actions(db, "BACKUP_RESTORE").await, 1);
    }
);

conformance!(
    prune_keeps_young_and_newest_verified_backups,
    |store| async move {
        let f = setup(store).await;
        let (db, b, admin) = (f.db(), &f.b, &f.admin);
        let opts = CreateOptions::new(f.dir.path());
        let mut snaps = vec![];
        for _ in 0..4 {
            snaps.push(b.create(admin, &opts, Work::none()).await.unwrap());
        }
        // s[1] is verified; then age them: 40, 50, 60 days and today.
        let v = b
            .verify(admin, &BackupRef::Id(snaps[1].id), Work::none())
            .await
            .unwrap();
        assert!(v.ok, "{:?}", v.problems);
        let now = ncy_core::db::now();
        for (s, days) in snaps.iter().zip([40, 50, 60, 0]) {
            let at = (now - chrono::Duration::days(days)).format("%Y-%m-%d %H:%M:%S%.3f");
            db.query(
            &format!(
                r#"UPDATE "BackupSnapshot" SET "created_at" = '{at}' WHERE "id" = $1 RETURNING "id""#
            ),
            &params![s.id],
        )
        .await
        .unwrap();
        }
        let plan = b.prune(admin, &PrunePolicy::default(), true).await.unwrap();
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
        assert_eq!(audit_actions(db, "BACKUP_PRUNE").await, 0);

        // keep_last 2 keeps the 40-day-old one too.
        let plan = b
            .prune(
                admin,
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
            .prune(admin, &PrunePolicy::default(), false)
            .await
            .unwrap();
        assert_eq!(plan.delete.len(), 2);
        assert!(!Path::new(&snaps[0].path).exists() && !Path::new(&snaps[2].path).exists());
        assert!(Path::new(&snaps[1].path).exists() && Path::new(&snaps[3].path).exists());
        let left: Vec<_> = b
            .list(admin, None, 10)
            .await
            .unwrap()
            .items
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(left, vec![snaps[3].id, snaps[1].id]);
        assert_eq!(audit_actions(db, "BACKUP_PRUNE").await, 2);

        // Even with keep-days 0 the newest verified backup stays.
        let plan = b
            .prune(
                admin,
                &PrunePolicy {
                    keep_days: 0,
                    keep_last: None,
                },
                false,
            )
            .await
            .unwrap();
        let kept: Vec<_> = plan.keep.iter().map(|k| k.id).collect();
        assert_eq!(kept, vec![snaps[1].id]);
        assert!(Path::new(&snaps[1].path).exists());
    }
);

conformance!(
    permissions_bad_directory_and_cancel_leave_nothing_behind,
    |store| async move {
        let f = setup(store).await;
        let (db, b, admin, employee) = (f.db(), &f.b, &f.admin, &f.employee);
        let folder = f.dir.path().join("b");
        let opts = CreateOptions::new(&folder);
        let forbidden = |e: Error, perm: &str| {
            assert!(
                matches!(&e, Error::Forbidden { permission } if permission == perm),
                "{e}"
            );
        };
        forbidden(
            b.create(employee, &opts, Work::none()).await.unwrap_err(),
            "backups.run",
        );
        forbidden(
            b.list(employee, None, 10).await.unwrap_err(),
            "backups.read",
        );
        forbidden(
            b.prune(employee, &PrunePolicy::default(), true)
                .await
                .unwrap_err(),
            "backups.run",
        );
        forbidden(
            b.restore(
                employee,
                &BackupRef::Path("/nonexistent.dump".into()),
                &into("x"),
                Work::none(),
            )
            .await
            .unwrap_err(),
            "backups.restore",
        );
        forbidden(
            b.pitr_readiness(employee).await.unwrap_err(),
            "backups.read",
        );
        assert!(!folder.exists(), "nothing done before the permission check");

        // A file where the directory should be.
        let blocker = f.dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let e = b
            .create(admin, &CreateOptions::new(&blocker), Work::none())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Io { context, .. }
            if context.starts_with("cannot write to the backup directory")
                && context.contains("a file of that name is in the way")),
            "{e}"
        );

        // Cancelled at the first progress report: no file, no row.
        let flag = AtomicBool::new(false);
        let cancel_now = |_: Progress| flag.store(true, Ordering::Relaxed);
        let e = b
            .create(admin, &opts, Work::new(&cancel_now, Some(&flag)))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e}");
        assert!(files_in(&folder).is_empty(), "{:?}", files_in(&folder));
        assert!(b.list(admin, None, 10).await.unwrap().items.is_empty());
        assert_eq!(audit_actions(db, "BACKUP_CREATE").await, 0);

        // Not recorded: a clear not-found.
        let e = b
            .verify(
                admin,
                &BackupRef::Path(f.dir.path().join(format!("none{}", f.ext()))),
                Work::none(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "not_found");
    }
);

conformance!(
    a_cancelled_restore_leaves_the_target_as_it_was,
    |store| async move {
        let f = setup(store).await;
        let (db, b, admin) = (f.db(), &f.b, &f.admin);
        let snap = b
            .create(
                admin,
                &CreateOptions::new(f.dir.path().join("b")),
                Work::none(),
            )
            .await
            .unwrap();
        let existing = f.junk_target().await;
        let fresh = f.new_target("cancelled");
        // Cancelled once the restore has started (pg_restore; SQLite's page copy, whose one
        // step may already have finished: the copy is then not kept).

        // Into an existing target (with force) and into a new one.
        for (target, force) in [(existing.clone(), true), (fresh.clone(), false)] {
            let flag = AtomicBool::new(false);
            let cancel_in_restore = |p: Progress| {
                if p.phase == "restore" {
                    flag.store(true, Ordering::Relaxed);
                }
            };
            let e = b
                .restore(
                    admin,
                    &BackupRef::Id(snap.id),
                    &RestoreOptions {
                        into: target.clone(),
                        force,
                        ..Default::default()
                    },
                    Work::new(&cancel_in_restore, Some(&flag)),
                )
                .await
                .unwrap_err();
            assert!(matches!(e, Error::Cancelled), "{target}: {e}");
        }
        // The existing target keeps its contents; the new one was never created; nothing is
        // left half-written; nothing is audited.
        let kept = f.open_target(&existing).await;
        assert_eq!(
            fingerprint(&kept).await.keys().cloned().collect::<Vec<_>>(),
            vec![f.table("junk")]
        );
        kept.close().await;
        assert!(!f.target_exists(&fresh).await, "{fresh}");
        if f.pg() {
            // (A scratch database is named after the first 40 characters of the target.)
            let scratch = |n: &str| format!("{}_restoring_", &n[..n.len().min(40)]);
            let left = db
                .query(
                    "SELECT datname::text AS d FROM pg_database
                  WHERE starts_with(datname, $1) OR starts_with(datname, $2)",
                    &params![scratch(&fresh), scratch(&existing)],
                )
                .await
                .unwrap();
            assert!(
                left.is_empty(),
                "{:?}",
                left.iter().map(|r| r.text("d")).collect::<Vec<_>>()
            );
        } else {
            // No partial file: only the backup folder and the junk workspace (with its WAL).
            let existing_name = PathBuf::from(&existing)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let others: Vec<String> = files_in(f.dir.path())
                .into_iter()
                .filter(|n| {
                    n != &existing_name
                        && *n != format!("{existing_name}-wal")
                        && *n != format!("{existing_name}-shm")
                })
                .collect();
            assert_eq!(others, vec!["b".to_string()], "{others:?}");
        }
        assert_eq!(audit_actions(db, "BACKUP_RESTORE").await, 0);
    }
);
