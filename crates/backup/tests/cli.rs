//! `ncy-admin backup ...` end to end on PostgreSQL and on a local workspace: JSON output, the
//! documented exit codes, one clear error line, permissions.

use ncy_tests::cli::{fails, Cli};

/// An empty database migrated and seeded by the CLI itself (its embedded migrations are the
/// truth), the admin logged in; the CLI and the database URL.
async fn seeded_cli() -> (Cli, String) {
    let (db, url) = ncy_tests::empty_pg().await;
    db.close().await;
    let cli = Cli::new(vec!["--database-url".into(), url.clone()]);
    let o = cli.run_with(&["migrate", "up"], None);
    assert!(
        o.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = cli.run_with(&["seed", "dev"], None);
    assert!(
        o.status.success(),
        "seed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    cli.login("admin@ncy-8.com", "admin123");
    (cli, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_backups_from_the_cli() {
    let (cli, _) = seeded_cli().await;
    let dir = cli.home.path().join("data/backups");
    let dir_s = dir.display().to_string();
    // `key create` makes a fresh default key in the OS keychain.
    let k = cli.json(&["backup", "key", "create"]);
    let recipient = k["recipient"].as_str().unwrap().to_owned();
    assert!(recipient.starts_with("age1") && k["default"] == true, "{k}");
    assert_eq!(
        cli.json(&["backup", "key", "show"])["recipient"],
        recipient.as_str()
    );

    // Enough rows that the archive outgrows a pipe's buffer: `pg_restore --list` reads only
    // its table of contents from the decrypting feeder and exits while the feeder still
    // writes. That broken pipe must end the feeding, not the process (it once killed the CLI
    // with SIGPIPE, now and then, when the archive happened to outrun pg_restore).
    let o = cli.run_with(
        &[
            "seed",
            "synthetic",
            "--users",
            "300",
            "--orgs",
            "3",
            "--tasks",
            "6000",
            "--force",
        ],
        None,
    );
    assert!(
        o.status.success(),
        "seed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = cli.json(&["backup", "create", "--dir", &dir_s, "--encrypt"]);
    assert_eq!(s["encrypted_to"], recipient.as_str());
    let size = std::fs::metadata(s["path"].as_str().unwrap())
        .unwrap()
        .len();
    assert!(
        size > 256 * 1024,
        "archive of {size} bytes: too small to outgrow a pipe"
    );
    let id = s["id"].as_str().unwrap().to_owned();
    assert!(s["path"].as_str().unwrap().ends_with(".dump.age"));
    let v = cli.json(&["backup", "verify", &id]);
    assert_eq!(v["ok"], true, "{v}");
    let into = format!("cli_enc_{}", uuid::Uuid::new_v4().simple());
    let r = cli.json(&["backup", "restore", &id, "--into", &into]);
    assert!(
        r["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["ok"] == true),
        "{r}"
    );

    // A wrong identity file: one line naming the file and the fix, exit 2, nothing restored.
    let wrong = cli.home.path().join("wrong-key.txt");
    let other = age::x25519::Identity::generate();
    std::fs::write(
        &wrong,
        format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&other.to_string())
        ),
    )
    .unwrap();
    let w = wrong.display().to_string();
    fails(
        &cli.run_with(&["backup", "verify", &id, "--identity", &w], None),
        2,
        "cannot be decrypted",
    );
    // restore prints its plan first (stderr), then the one error line.
    let into2 = format!("cli_enc_wrong_{}", uuid::Uuid::new_v4().simple());
    let o = cli.run_with(
        &["backup", "restore", &id, "--into", &into2, "--identity", &w],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("cannot be decrypted") && last.contains("--identity"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    fails(
        &cli.run_with(
            &[
                "backup",
                "create",
                "--dir",
                &dir_s,
                "--recipient",
                "age1nope",
            ],
            None,
        ),
        2,
        "age1",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_commands_on_postgres() {
    let (cli, url) = seeded_cli().await;
    // The default backup folder (NCY_DATA_DIR/backups): verify, restore and prune read it.
    let dir = cli.home.path().join("data/backups");
    let dir_s = dir.display().to_string();

    let s = cli.json(&["backup", "create", "--dir", &dir_s, "--compress", "6"]);
    let id = s["id"].as_str().unwrap().to_owned();
    let path = s["path"].as_str().unwrap().to_owned();
    assert_eq!(s["compression"], 6);
    assert!(s["table_counts"]["public.User"].as_i64().unwrap() >= 3);

    let l = cli.json(&["backup", "list"]);
    assert_eq!(l["items"].as_array().unwrap().len(), 1);
    assert!(l["last_verified_at"].is_null());

    let v = cli.json(&["backup", "verify", &id]);
    assert_eq!(v["ok"], true, "{v}");
    let l = cli.json(&["backup", "list"]);
    assert_eq!(l["items"][0]["verified"], true);

    let into = format!("cli_restored_{}", uuid::Uuid::new_v4().simple());
    let r = cli.json(&["backup", "restore", &id, "--into", &into]);
    assert_eq!(r["into"], into.as_str());
    assert!(r["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["ok"] == true));
    fails(
        &cli.run_with(&["backup", "restore", &id, "--into", &into], None),
        4,
        "--force",
    );

    // Pin / unpin, audited; list shows the reason.
    let p = cli.json(&["backup", "pin", &id, "--reason", "quarterly audit"]);
    assert_eq!(p["pin_reason"], "quarterly audit");
    assert!(cli
        .ok(&["backup", "list"])
        .contains("yes (quarterly audit)"));
    cli.ok(&["backup", "unpin", &id]);
    fails(&cli.run(&["backup", "unpin", &id]), 4, "not pinned");

    let p = cli.json(&["backup", "prune", "--dry-run", "--keep-days", "0"]);
    assert_eq!(p["dry_run"], true);
    assert!(
        p["delete"].as_array().unwrap().is_empty(),
        "newest verified kept"
    );

    let pitr = cli.json(&[
        "backup",
        "pitr",
        "--target-time",
        "2026-11-26T10:00:00+01:00",
    ]);
    assert_eq!(pitr["target_time"], "2026-11-26T09:00:00");
    let script = pitr["script"].as_str().unwrap();
    assert!(script.contains("recovery.signal") && script.contains("recovery_target_time"));
    fails(
        &cli.run_with(&["backup", "pitr", "--target-time", "yesterday"], None),
        2,
        "target-time",
    );

    // Altered file: verification fails with exit code 4 and one line.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let o = cli.run_with(&["backup", "verify", &path], None);
    fails(&o, 10, "failed verification");
    assert!(String::from_utf8_lossy(&o.stdout).contains("MISMATCH"));

    // Not a compression level.
    fails(
        &cli.run_with(
            &["backup", "create", "--dir", &dir_s, "--compress", "12"],
            None,
        ),
        2,
        "compress",
    );

    // An employee may not list backups.
    let emp = Cli::new(vec!["--database-url".into(), url]);
    emp.login("employee@test-org.com", "employee123");
    fails(&emp.run_with(&["backup", "list"], None), 5, "backups.read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_commands_on_the_local_workspace() {
    let home = tempfile::tempdir().unwrap();
    let ws = home.path().join("ws.db").display().to_string();
    let cli = Cli::new(vec!["--local".into(), ws]);
    assert!(cli.run_with(&["seed", "dev"], None).status.success());
    cli.login("admin@ncy-8.com", "admin123");
    let dir = cli.home.path().join("data/backups").display().to_string();
    let s = cli.json(&["backup", "create", "--dir", &dir]);
    assert_eq!(s["format"], "sqlite");
    let id = s["id"].as_str().unwrap().to_owned();
    let v = cli.json(&["backup", "verify", &id]);
    assert_eq!(v["ok"], true, "{v}");
    let into = home.path().join("copy.db").display().to_string();
    let r = cli.json(&["backup", "restore", &id, "--into", &into]);
    assert_eq!(r["replaced"], false);
    assert!(std::path::Path::new(&into).is_file());
    fails(&cli.run_with(&["backup", "pitr"], None), 2, "PostgreSQL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_check_flags_an_old_backup_for_cron() {
    let (db, url) = ncy_tests::fresh_pg().await;
    ncy_core::seed::dev(&db, false).await.unwrap();
    let cli = Cli::new(vec!["--database-url".into(), url]);
    cli.login("admin@ncy-8.com", "admin123");

    // No verified backup yet: exit 10, and the fix.
    let o = cli.run(&["backup", "check"]);
    fails(&o, 10, "no verified backup");
    assert!(String::from_utf8_lossy(&o.stderr).contains("backup create"));

    let dir = cli.home.path().join("data/backups").display().to_string();
    let s = cli.json(&["backup", "create", "--dir", &dir]);
    let id = s["id"].as_str().unwrap().to_owned();
    cli.json(&["backup", "verify", &id]);
    let c = cli.json(&["backup", "check"]);
    assert_eq!(c["fresh"], true, "{c}");
    assert_eq!(c["max_age_hours"], 26);

    // Taken 30 hours ago: too old for the default 26 h.
    db.query(
        r#"UPDATE "BackupSnapshot" SET "created_at" = "created_at" - interval '30 hours' RETURNING "id""#,
        &[],
    )
    .await
    .unwrap();
    let o = cli.run(&["backup", "check"]);
    fails(&o, 10, "older than backups.max_age_hours = 26 h");
    assert!(String::from_utf8_lossy(&o.stderr).contains("30.0 h old"));
    let o = cli.run(&["--json", "backup", "check"]);
    assert_eq!(o.status.code(), Some(10));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["fresh"], false);
    assert!(j["age_secs"].as_i64().unwrap() >= 30 * 3600);
    let l = cli.json(&["backup", "list"]);
    assert_eq!(l["stale"], true);
    assert!(cli.ok(&["backup", "list"]).contains("TOO OLD"));

    // The limit is a validated setting.
    fails(
        &cli.run(&["settings", "set", "backups.max_age_hours", "0"]),
        2,
        "between 1 and",
    );
    cli.ok(&["settings", "set", "backups.max_age_hours", "48"]);
    let c = cli.json(&["backup", "check"]);
    assert_eq!(c["fresh"], true, "{c}");
    assert_eq!(c["max_age_hours"], 48);
}
