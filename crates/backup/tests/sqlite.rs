//! SQLite-only backup flows (real files): a workspace encrypted with its own key stays
//! encrypted in its backups. The flows both stores share (create → verify → restore, damaged
//! files, restore over the live workspace, retention, cancellation) are in conformance.rs.

#![allow(clippy::useless_vec)]

use std::collections::BTreeMap;

use ncy_backup::{BackupRef, Backups, CreateOptions, RestoreOptions, Work};
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::db::{Cipher, CipherHmac, Db, Target};

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

/// The workspaces' SQLCipher key.
const KEY: &str = "x'2DD29CA851E7B56E4697B0E1F08507293D761A05CE4D1B628663F411A8086D99'";

/// Migrates and seeds `db`; returns its admin, logged in.
async fn seeded(db: &Db) -> ncy_core::auth::Operator {
    let set = ncy_core::migrate::MigrationSet::embedded(ncy_core::db::Dialect::Sqlite).unwrap();
    ncy_core::migrate::up(db, &set).await.unwrap();
    ncy_core::seed::dev(db, false).await.unwrap();
    login(
        db,
        "admin@ncy-8.com",
        "admin123",
        Client::Cli,
        &LockoutPolicy::default(),
    )
    .await
    .unwrap()
    .operator
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_cache_backups_stay_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let db = Db::open_sqlite_encrypted(&path, KEY).unwrap();
    let admin = seeded(&db).await;
    let before = contents(&db).await;

    // Without the key: refused, nothing written.
    let keyless = Backups::new(db.clone(), &Target::Local(path.clone()))
        .unwrap()
        .with_dir(dir.path());
    let e = keyless
        .create(
            &admin,
            &CreateOptions::new(dir.path().join("b")),
            Work::none(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("encrypted"), "{e}");

    let b = keyless.with_sqlite_key(KEY);
    assert!(!format!("{b:?}").contains("2DD29CA8"), "key redacted");
    let snap = b
        .create(
            &admin,
            &CreateOptions::new(dir.path().join("b")),
            Work::none(),
        )
        .await
        .unwrap();
    let head = std::fs::read(&snap.path).unwrap();
    assert_ne!(&head[..16], b"SQLite format 3\0", "the copy is encrypted");
    let v = b
        .verify(&admin, &BackupRef::Id(snap.id), Work::none())
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
        Work::none(),
    )
    .await
    .unwrap();
    assert!(Db::open_sqlite(&into).is_err(), "no key, no data");
    let restored = Db::open_sqlite_encrypted(&into, KEY).unwrap();
    assert_eq!(contents(&restored).await, before);
}

/// A file made with other SQLCipher settings than the defaults (the sync cache's: 1 KiB pages,
/// HMAC-SHA256) does not read with its key alone: one clear error before any copy, and nothing
/// written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_other_cipher_settings_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let cipher = Cipher {
        page_size: 1024,
        hmac: CipherHmac::Sha256,
    };
    let db = Db::open_sqlite_cipher(&path, KEY, cipher).unwrap();
    let admin = seeded(&db).await;
    let backups = Backups::new(db.clone(), &Target::Local(path.clone()))
        .unwrap()
        .with_dir(dir.path())
        .with_sqlite_key(KEY);
    let e = backups
        .create(
            &admin,
            &CreateOptions::new(dir.path().join("b")),
            Work::none(),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("does not open with the given key"),
        "{e}"
    );
    assert!(e.to_string().contains("sync init"), "{e}");
    let written = std::fs::read_dir(dir.path().join("b"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(written, 0, "nothing written");
    let recorded = backups.list(&admin, None, 10).await.unwrap();
    assert!(recorded.items.is_empty(), "no backup recorded");
}
