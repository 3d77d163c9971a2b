//! Backup files are private (0600, folders 0700), and a `BackupSnapshot` row naming a file
//! outside the backup folder (planted by anyone who can write the table) is never deleted by
//! prune nor read by verify or restore. Real PostgreSQL from the harness.

#![allow(clippy::useless_vec)]

use std::path::Path;

use ncy_backup::{BackupRef, Backups, CreateOptions, PrunePolicy, RestoreOptions, Work};
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::params;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_path_outside_the_folder_is_neither_deleted_nor_read() {
    let (db, url) = ncy_tests::fresh_pg().await;
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
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("backups/nested");
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(&folder);

    // Private from the start: new folders 0700, the file 0600.
    let old = b
        .create(&admin, &CreateOptions::new(&folder), Work::none())
        .await
        .unwrap();
    let newest = b
        .create(&admin, &CreateOptions::new(&folder), Work::none())
        .await
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(Path::new(&old.path)), 0o600);
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&root.path().join("backups")), 0o700);
    }
    let v = b
        .verify(&admin, &BackupRef::Id(newest.id), Work::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);

    // A file that is not a backup, and a row pointing at it, old enough to be pruned; the
    // same through a `..` path.
    let precious = root.path().join("precious.txt");
    std::fs::write(&precious, b"not a backup").unwrap();
    let planted = uuid::Uuid::new_v4();
    let dotted = uuid::Uuid::new_v4();
    for (id, path) in [
        (planted, precious.display().to_string()),
        (dotted, format!("{}/../../precious.txt", folder.display())),
    ] {
        db.query(
            r#"INSERT INTO "BackupSnapshot" ("id", "path", "size", "verified", "created_at", "sha256")
               VALUES ($1, $2, 12, false, now() - interval '90 days', 'x') RETURNING "id""#,
            &params![id, path.as_str()],
        )
        .await
        .unwrap();
    }
    db.query(
        r#"UPDATE "BackupSnapshot" SET "created_at" = now() - interval '60 days' WHERE "id" = $1 RETURNING "id""#,
        &params![old.id],
    )
    .await
    .unwrap();

    let plan = b
        .prune(&admin, &PrunePolicy::default(), false)
        .await
        .unwrap();
    let deleted: Vec<_> = plan.delete.iter().map(|d| d.id).collect();
    assert_eq!(deleted, vec![old.id], "the genuine old backup goes");
    let mut refused: Vec<_> = plan.refused.iter().map(|d| d.id).collect();
    refused.sort();
    let mut expected = vec![planted, dotted];
    expected.sort();
    assert_eq!(refused, expected);
    assert!(
        plan.refused
            .iter()
            .all(|r| r.reason.contains("outside the backup folder")),
        "{:?}",
        plan.refused
    );
    assert!(!Path::new(&old.path).exists());
    assert_eq!(std::fs::read(&precious).unwrap(), b"not a backup");
    let left: Vec<_> = b
        .list(&admin, None, 10)
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| s.id)
        .collect();
    assert!(left.contains(&planted) && left.contains(&dotted) && left.contains(&newest.id));

    // Restore and verify refuse the planted row before reading anything.
    for id in [planted, dotted] {
        let e = b
            .restore(
                &admin,
                &BackupRef::Id(id),
                &RestoreOptions {
                    into: format!("ncy_planted_{}", &id.simple().to_string()[..8]),
                    ..RestoreOptions::default()
                },
                Work::none(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "conflict", "{e}");
        assert!(e.to_string().contains("outside the backup folder"), "{e}");
        let e = b
            .verify(&admin, &BackupRef::Id(id), Work::none())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("outside the backup folder"), "{e}");
    }
    let restores = db
        .query(
            r#"SELECT count(*) AS n FROM "AuditLog" WHERE "action" IN ('BACKUP_RESTORE', 'BACKUP_VERIFY')"#,
            &[],
        )
        .await
        .unwrap()[0]
        .int("n")
        .unwrap();
    assert_eq!(restores, 1, "only the genuine verification was recorded");

    // The same row is fine when the operator names its folder.
    let elsewhere = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(root.path());
    let plan = elsewhere
        .prune(&admin, &PrunePolicy::default(), true)
        .await
        .unwrap();
    assert!(plan.refused.is_empty(), "{:?}", plan.refused);
    assert_eq!(plan.delete.len(), 2);
}
