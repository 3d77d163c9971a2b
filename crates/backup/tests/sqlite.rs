//! Backups of the local SQLite workspace (real files): create → verify → restore into a new
//! file with every table equal, a corrupted copy failing verification, restore over the live
//! workspace with --force.

#![allow(clippy::useless_vec)]

use std::collections::BTreeMap;
use std::path::Path;

use ncy_backup::{BackupRef, Backups, CreateOptions, Hooks, PrunePolicy, RestoreOptions};
use ncy_core::auth::{login, Client, LockoutPolicy, Operator};
use ncy_core::db::{Db, Target};
use ncy_core::params;

async fn setup() -> (Db, tempfile::TempDir, Operator, Backups) {
    let (db, dir) = ncy_tests::fresh_sqlite().await;
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
    let path = db.sqlite_path().unwrap().to_path_buf();
    let b = Backups::new(db.clone(), &Target::Local(path))
        .unwrap()
        .with_dir(dir.path());
    (db, dir, admin, b)
}

/// Every table's rows as JSON, per table.
async fn contents(db: &Db) -> BTreeMap<String, String> {
    let names = db
        .query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            &[],
        )
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for n in names {
        let t = n.text("name").unwrap();
        let rows = db
            .query(&format!(r#"SELECT * FROM "{t}" ORDER BY 1, 2"#), &[])
            .await
            .unwrap_or_default();
        let s: Vec<String> = rows.iter().map(|r| r.to_json().to_string()).collect();
        out.insert(t, s.join("\n"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_backup_round_trip() {
    let (db, dir, admin, b) = setup().await;
    let before = contents(&db).await;
    let snap = b
        .create(
            &admin,
            &CreateOptions::new(dir.path().join("b")),
            Hooks::none(),
        )
        .await
        .unwrap();
    assert_eq!(snap.format.as_deref(), Some("sqlite"));
    let name = Path::new(&snap.path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("ncy8_") && name.ends_with(".sqlite"),
        "{name}"
    );
    assert_eq!(std::fs::read_dir(dir.path().join("b")).unwrap().count(), 1);
    let counts = snap.table_counts.clone().unwrap();
    assert_eq!(counts["User"], 3);

    let v = b
        .verify(&admin, &BackupRef::Id(snap.id), Hooks::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert!(v.tables.iter().all(|t| t.ok));
    assert!(
        b.get(&admin, &BackupRef::Id(snap.id))
            .await
            .unwrap()
            .verified
    );

    // Restore into a new file: every table equal to the state at backup time.
    let into = dir.path().join("restored.db");
    let rep = b
        .restore(
            &admin,
            &BackupRef::Path(snap.path.clone().into()),
            &RestoreOptions {
                into: into.display().to_string(),
                ..Default::default()
            },
            Hooks::none(),
        )
        .await
        .unwrap();
    assert!(!rep.replaced && rep.tables.iter().all(|t| t.ok));
    let restored = Db::open_sqlite(&into).unwrap();
    assert_eq!(contents(&restored).await, before);
    drop(restored);
    // Again without --force: refused.
    let e = b
        .restore(
            &admin,
            &BackupRef::Id(snap.id),
            &RestoreOptions {
                into: into.display().to_string(),
                ..Default::default()
            },
            Hooks::none(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "conflict");

    let audit = db
        .query(
            r#"SELECT "action" FROM "AuditLog" WHERE "action" LIKE 'BACKUP_%' ORDER BY "created_at""#,
            &[],
        )
        .await
        .unwrap();
    let actions: Vec<String> = audit.iter().map(|r| r.text("action").unwrap()).collect();
    assert_eq!(
        actions,
        ["BACKUP_CREATE", "BACKUP_VERIFY", "BACKUP_RESTORE"]
    );

    // Keyset pages.
    for _ in 0..2 {
        b.create(
            &admin,
            &CreateOptions::new(dir.path().join("b")),
            Hooks::none(),
        )
        .await
        .unwrap();
    }
    let p1 = b.list(&admin, None, 2).await.unwrap();
    assert_eq!(p1.items.len(), 2);
    let p2 = b.list(&admin, p1.next_cursor.as_deref(), 2).await.unwrap();
    assert_eq!(p2.items.len(), 1);
    assert!(p2.next_cursor.is_none());
    assert_eq!(p2.items[0].id, snap.id, "oldest last");
    assert!(p1.items[0].created_at >= p1.items[1].created_at);
    assert!(b.list(&admin, Some("garbage"), 2).await.is_err());
    for s in &p1.items {
        db.query(
            r#"DELETE FROM "BackupSnapshot" WHERE "id" = $1 RETURNING "id""#,
            &params![s.id],
        )
        .await
        .unwrap();
    }

    // Prune never deletes the newest verified backup.
    db.query(
        r#"UPDATE "BackupSnapshot" SET "created_at" = '2020-01-01 00:00:00.000' WHERE "id" = $1 RETURNING "id""#,
        &params![snap.id],
    )
    .await
    .unwrap();
    let p = b
        .prune(&admin, &PrunePolicy::default(), false)
        .await
        .unwrap();
    assert!(p.delete.is_empty() && p.keep.len() == 1);
    assert!(Path::new(&snap.path).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_workspace_backup_fails_and_restore_over_live_needs_force() {
    let (db, dir, admin, b) = setup().await;
    let snap = b
        .create(&admin, &CreateOptions::new(dir.path()), Hooks::none())
        .await
        .unwrap();
    let before = contents(&db).await;

    // Change the live workspace, then restore the backup over it.
    db.query(r#"DELETE FROM "Task" RETURNING "id""#, &[])
        .await
        .unwrap();
    let live = db.sqlite_path().unwrap().display().to_string();
    let e = b
        .restore(
            &admin,
            &BackupRef::Id(snap.id),
            &RestoreOptions {
                into: live.clone(),
                ..Default::default()
            },
            Hooks::none(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ncy_core::Error::Conflict { field, .. } if field == "restore_into")
            && e.to_string().contains("already exists"),
        "the CLI and the window add their way to force it: {e}"
    );
    let rep = b
        .restore(
            &admin,
            &BackupRef::Id(snap.id),
            &RestoreOptions {
                into: live,
                force: true,
                ..Default::default()
            },
            Hooks::none(),
        )
        .await
        .unwrap();
    assert!(rep.replaced);
    let after = contents(&db).await;
    assert_eq!(after["Task"], before["Task"], "tasks back");
    assert_eq!(after["User"], before["User"]);

    // The restore brought back the snapshot table as it was at backup time (without the
    // backup's own row): take another backup to corrupt.
    let snap2 = b
        .create(
            &admin,
            &CreateOptions::new(dir.path().join("again")),
            Hooks::none(),
        )
        .await
        .unwrap();
    // Altered in place, same size: the checksum catches it.
    let mut bytes = std::fs::read(&snap2.path).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b = 0x5a;
    }
    std::fs::write(&snap2.path, &bytes).unwrap();
    let v = b
        .verify(&admin, &BackupRef::Id(snap2.id), Hooks::none())
        .await
        .unwrap();
    assert!(!v.ok && !v.checksum_ok);
    assert!(
        v.problems.iter().any(|p| p.contains("checksum mismatch")),
        "{:?}",
        v.problems
    );
    assert!(
        !b.get(&admin, &BackupRef::Id(snap2.id))
            .await
            .unwrap()
            .verified
    );

    // Truncated, with checksum and size forged to match: the test restore catches it.
    let half = &bytes[..bytes.len() / 2];
    std::fs::write(&snap2.path, half).unwrap();
    let forged = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(half))
    };
    db.query(
        r#"UPDATE "BackupSnapshot" SET "sha256" = $1, "size" = $2 WHERE "id" = $3 RETURNING "id""#,
        &params![forged.as_str(), half.len() as i64, snap2.id],
    )
    .await
    .unwrap();
    let v = b
        .verify(&admin, &BackupRef::Id(snap2.id), Hooks::none())
        .await
        .unwrap();
    assert!(v.checksum_ok, "forged");
    assert!(!v.ok, "a truncated copy must not verify");
    assert!(!v.problems.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_cache_backups_stay_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let key = "x'2DD29CA851E7B56E4697B0E1F08507293D761A05CE4D1B628663F411A8086D99'";
    let db = Db::open_sqlite_encrypted(&path, key).unwrap();
    let set = ncy_core::migrate::MigrationSet::embedded(ncy_core::db::Dialect::Sqlite).unwrap();
    ncy_core::migrate::up(&db, &set).await.unwrap();
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
    let before = contents(&db).await;

    // Without the key: refused, nothing written.
    let keyless = Backups::new(db.clone(), &Target::Local(path.clone()))
        .unwrap()
        .with_dir(dir.path());
    let e = keyless
        .create(
            &admin,
            &CreateOptions::new(dir.path().join("b")),
            Hooks::none(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("encrypted"), "{e}");

    let b = keyless.with_sqlite_key(key);
    assert!(!format!("{b:?}").contains("2DD29CA8"), "key redacted");
    let snap = b
        .create(
            &admin,
            &CreateOptions::new(dir.path().join("b")),
            Hooks::none(),
        )
        .await
        .unwrap();
    let head = std::fs::read(&snap.path).unwrap();
    assert_ne!(&head[..16], b"SQLite format 3\0", "the copy is encrypted");
    let v = b
        .verify(&admin, &BackupRef::Id(snap.id), Hooks::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!(
        std::fs::read_dir(dir.path().join("b")).unwrap().count(),
        1,
        "the keyed scratch copy is gone"
    );
    let into = dir.path().join("restored.db");
    b.restore(
        &admin,
        &BackupRef::Id(snap.id),
        &RestoreOptions {
            into: into.display().to_string(),
            ..Default::default()
        },
        Hooks::none(),
    )
    .await
    .unwrap();
    assert!(Db::open_sqlite(&into).is_err(), "no key, no data");
    let restored = Db::open_sqlite_encrypted(&into, key).unwrap();
    assert_eq!(contents(&restored).await, before);
}
