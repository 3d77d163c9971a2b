//! Retention by policy on real PostgreSQL: `--keep-last` and `--keep-days` together (either
//! keeps a backup), pins keeping a backup beyond the policy (audited), the newest verified
//! backup never pruned; and the age check of the newest verified backup.

#![allow(clippy::useless_vec)]

use std::path::Path;

use ncy_backup::{BackupRef, Backups, CreateOptions, PrunePolicy, Work};
use ncy_core::auth::{login, Client, LockoutPolicy, Operator};
use ncy_core::db::Db;
use ncy_core::params;

async fn setup() -> (Db, String, Operator, Operator) {
    let (db, url) = ncy_tests::fresh_pg().await;
    ncy_core::seed::dev(&db, false).await.unwrap();
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

async fn age(db: &Db, id: uuid::Uuid, days: i64) {
    db.query(
        &format!(
            r#"UPDATE "BackupSnapshot" SET "created_at" = "created_at" - interval '{days} days'
               WHERE "id" = $1 RETURNING "id""#
        ),
        &params![id],
    )
    .await
    .unwrap();
}

async fn audit_rows(db: &Db, action: &str) -> Vec<ncy_core::db::Row> {
    db.query(
        r#"SELECT "old_value", "new_value", "user_id" FROM "AuditLog" WHERE "action" = $1 ORDER BY "created_at""#,
        &params![action],
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_retention_keeps_pins_the_newest_and_the_newest_verified() {
    let (db, url, admin, employee) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let opts = CreateOptions {
        dir: dir.path().into(),
        compression: 0,
        ..CreateOptions::new(dir.path())
    };
    let mut s = vec![];
    for _ in 0..5 {
        s.push(b.create(&admin, &opts, Work::none()).await.unwrap());
    }
    let v = b
        .verify(&admin, &BackupRef::Id(s[1].id), Work::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    for (snap, days) in s.iter().zip([90, 80, 70, 60, 0]) {
        age(&db, snap.id, days).await;
    }

    // Pinning is audited and needs backups.run.
    let e = b.pin(&employee, s[0].id, Some("legal")).await.unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e}");
    let pinned = b
        .pin(&admin, s[0].id, Some("  legal hold 2026  "))
        .await
        .unwrap();
    assert!(pinned.pinned_at.is_some());
    assert_eq!(pinned.pin_reason.as_deref(), Some("legal hold 2026"));
    let pins = audit_rows(&db, "BACKUP_PIN").await;
    assert_eq!(pins.len(), 1);
    assert_eq!(
        pins[0].opt_json("new_value").unwrap().unwrap()["pin_reason"],
        "legal hold 2026"
    );
    assert!(pins[0].opt_json("old_value").unwrap().unwrap()["pinned_at"].is_null());

    // keep-last 2 together with keep-days 30: s4 (young), s3 (second newest), s1 (newest
    // verified), s0 (pinned) stay; only s2 goes.
    let policy = PrunePolicy {
        keep_days: 30,
        keep_last: Some(2),
    };
    let plan = b.prune(&admin, &policy, false).await.unwrap();
    let reasons: Vec<(uuid::Uuid, String)> =
        plan.keep.iter().map(|k| (k.id, k.reason.clone())).collect();
    assert_eq!(
        reasons,
        vec![
            (s[4].id, "one of the 2 newest".to_string()),
            (s[3].id, "one of the 2 newest".to_string()),
            (
                s[1].id,
                "the newest verified backup (always kept)".to_string()
            ),
            (s[0].id, "pinned: legal hold 2026".to_string()),
        ]
    );
    let deleted: Vec<_> = plan.delete.iter().map(|d| d.id).collect();
    assert_eq!(deleted, vec![s[2].id]);
    assert!(!Path::new(&s[2].path).exists());
    assert!(Path::new(&s[0].path).exists());

    // keep-days alone (keep-last 0): s4 is young; the pinned and the verified stay.
    let plan = b
        .prune(
            &admin,
            &PrunePolicy {
                keep_days: 30,
                keep_last: None,
            },
            true,
        )
        .await
        .unwrap();
    let deleted: Vec<_> = plan.delete.iter().map(|d| d.id).collect();
    assert_eq!(deleted, vec![s[3].id]);

    // Unpinned, the policy applies again; unpinning twice is a conflict.
    let un = b.unpin(&admin, s[0].id).await.unwrap();
    assert!(un.pinned_at.is_none() && un.pin_reason.is_none());
    let e = b.unpin(&admin, s[0].id).await.unwrap_err();
    assert_eq!(e.code(), "conflict", "{e}");
    assert_eq!(audit_rows(&db, "BACKUP_UNPIN").await.len(), 1);
    let plan = b.prune(&admin, &policy, true).await.unwrap();
    let deleted: Vec<_> = plan.delete.iter().map(|d| d.id).collect();
    assert_eq!(deleted, vec![s[0].id]);
    let e = b.pin(&admin, uuid::Uuid::new_v4(), None).await.unwrap_err();
    assert_eq!(e.code(), "not_found", "{e}");
}
