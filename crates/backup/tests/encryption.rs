//! Backups encrypted at rest with age, on a real PostgreSQL: the file holds no plaintext,
//! verify and restore decrypt on the fly (key from the OS keychain or an identity file), and
//! a wrong key is one clear error that leaves nothing behind.

mod common;

use std::path::Path;

use age::secrecy::ExposeSecret;
use common::db_exists;
use ncy_backup::crypt;
use ncy_backup::{BackupRef, Backups, CreateOptions, RestoreOptions, Work};
use ncy_core::auth::{login, Client, LockoutPolicy, Operator};
use ncy_core::db::{ConnectOptions, Db, Target};

async fn setup() -> (Db, String, Operator) {
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
    (db, url, admin)
}

/// md5 of the User and Task rows: what a restore must give back.
async fn fingerprint(db: &Db) -> String {
    db.query(
        r#"SELECT md5((SELECT string_agg(u::text, ',' ORDER BY u."id") FROM "User" u) ||
                      (SELECT string_agg(t::text, ',' ORDER BY t."id") FROM "Task" t)) AS m"#,
        &[],
    )
    .await
    .unwrap()[0]
        .text("m")
        .unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn identity_file(dir: &Path, name: &str, id: &age::x25519::Identity) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "# created: test\n# public key: {}\n{}\n",
            id.to_public(),
            id.to_string().expose_secret()
        ),
    )
    .unwrap();
    p
}

fn restore_into(name: &str) -> RestoreOptions {
    RestoreOptions {
        into: name.to_owned(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_backup_is_verified_and_restored_with_the_keychain_key() {
    let (db, url, admin) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let key = crypt::create_key().unwrap();
    assert!(key.recipient.starts_with("age1") && key.default);
    assert_eq!(
        crypt::default_recipient().unwrap().as_deref(),
        Some(key.recipient.as_str())
    );

    // Uncompressed, so that a plaintext dump would show the admin's email.
    let mut opts = CreateOptions::new(dir.path());
    opts.compression = 0;
    opts.encrypt = true;
    let snap = b.create(&admin, &opts, Work::none()).await.unwrap();
    assert!(snap.path.ends_with(".dump.age"), "{}", snap.path);
    assert_eq!(snap.encrypted_to.as_deref(), Some(key.recipient.as_str()));
    let bytes = std::fs::read(&snap.path).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    assert!(
        !contains(&bytes, b"admin@ncy-8.com"),
        "no plaintext in the file"
    );
    assert_eq!(snap.size as usize, bytes.len());
    let sum = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    assert_eq!(
        snap.sha256.as_deref(),
        Some(sum.as_str()),
        "the file's checksum"
    );
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(
        files.len(),
        1,
        "no plaintext or temporary file left beside it"
    );

    // A plain backup taken with the same options shows what the encryption hides.
    let plain = b
        .create(
            &admin,
            &CreateOptions {
                encrypt: false,
                ..opts.clone()
            },
            Work::none(),
        )
        .await
        .unwrap();
    assert!(contains(
        &std::fs::read(&plain.path).unwrap(),
        b"admin@ncy-8.com"
    ));
    assert_eq!(plain.encrypted_to, None);

    let v = b
        .verify(&admin, &BackupRef::Id(snap.id), Work::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert!(v.readable && v.entries > 10 && !v.tables.is_empty());
    assert!(v.tables.iter().all(|t| t.ok));

    let before = fingerprint(&db).await;
    let target = format!("restored_enc_{}", uuid::Uuid::new_v4().simple());
    let rep = b
        .restore(
            &admin,
            &BackupRef::Id(snap.id),
            &restore_into(&target),
            Work::none(),
        )
        .await
        .unwrap();
    assert!(rep.tables.iter().all(|t| t.ok), "{:?}", rep.tables);
    let restored = Db::connect(
        &Target::Postgres(ncy_tests::url_for(&target)),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(fingerprint(&restored).await, before);
    restored.close().await;

    // A new default key does not orphan the older backup: its recorded recipient's key is
    // still found in the keychain.
    let newer = crypt::create_key().unwrap();
    assert_ne!(newer.recipient, key.recipient);
    let v = b
        .verify(&admin, &BackupRef::Id(snap.id), Work::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_a_clear_error_and_restores_nothing() {
    let (db, url, admin) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let right = age::x25519::Identity::generate();
    let wrong = age::x25519::Identity::generate();
    let right_file = identity_file(keys.path(), "right.txt", &right);
    let wrong_file = identity_file(keys.path(), "wrong.txt", &wrong);

    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let mut opts = CreateOptions::new(dir.path());
    opts.recipient = Some(right.to_public().to_string());
    let snap = b.create(&admin, &opts, Work::none()).await.unwrap();
    assert_eq!(
        snap.encrypted_to.as_deref(),
        Some(right.to_public().to_string().as_str())
    );

    // The wrong identity: verify and restore refuse with one readable line, record nothing.
    let with_wrong = b.clone().with_identity_file(&wrong_file).unwrap();
    let e = with_wrong
        .verify(&admin, &BackupRef::Id(snap.id), Work::none())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid", "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("cannot be decrypted")
            && msg.contains("wrong.txt")
            && msg.contains("encrypted to another key")
            && !msg.contains("--"),
        "{msg}"
    );
    let target = format!("restored_wrong_{}", uuid::Uuid::new_v4().simple());
    let e = with_wrong
        .restore(
            &admin,
            &BackupRef::Id(snap.id),
            &restore_into(&target),
            Work::none(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot be decrypted"), "{e}");
    assert!(!db_exists(&db, &target).await, "nothing created");
    let got = b.get(&admin, &BackupRef::Id(snap.id)).await.unwrap();
    assert!(!got.verified && got.verified_at.is_none());
    let scratch: i64 = db
        .query(
            "SELECT count(*) AS n FROM pg_database WHERE datname LIKE 'ncy_verify_%' OR datname LIKE 'restored_wrong_%'",
            &[],
        )
        .await
        .unwrap()[0]
        .int("n")
        .unwrap();
    assert_eq!(scratch, 0, "no scratch database left");

    // The right identity file (a machine without that keychain) verifies and restores.
    let with_right = b.clone().with_identity_file(&right_file).unwrap();
    let v = with_right
        .verify(&admin, &BackupRef::Id(snap.id), Work::none())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    with_right
        .restore(
            &admin,
            &BackupRef::Id(snap.id),
            &restore_into(&target),
            Work::none(),
        )
        .await
        .unwrap();
    assert!(db_exists(&db, &target).await);

    // A damaged encrypted file fails verification on its checksum, and a file damaged in a
    // way that keeps the checksum out of the picture (restore by path) on decryption.
    let mut bytes = std::fs::read(&snap.path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let copy = dir.path().join("damaged.dump.age");
    std::fs::write(&copy, &bytes).unwrap();
    let e = with_right
        .restore(
            &admin,
            &BackupRef::Path(copy.clone()),
            &restore_into(&format!("restored_bad_{}", uuid::Uuid::new_v4().simple())),
            Work::none(),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("altered or truncated") || e.to_string().contains("pg_restore"),
        "{e}"
    );

    // Bad input: a malformed recipient and identity file are clear errors.
    let mut bad = CreateOptions::new(dir.path());
    bad.recipient = Some("age1notakey".into());
    let e = b.create(&admin, &bad, Work::none()).await.unwrap_err();
    assert!(e.to_string().contains("age1"), "{e}");
    std::fs::write(keys.path().join("junk.txt"), "hello\n").unwrap();
    let e = b
        .clone()
        .with_identity_file(&keys.path().join("junk.txt"))
        .unwrap_err();
    assert!(e.to_string().contains("AGE-SECRET-KEY-1"), "{e}");
}
