//! CSV exports are safe to open in a spreadsheet and are written safely: a cell starting with
//! `=`, `+`, `-` or `@` is neutralised with a leading `'`; a destination that is a symbolic
//! link is refused and what it points to stays untouched. Real PostgreSQL, the real binary.

use ncy_core::params;
use ncy_tests::cli::{fails, Cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_csv_neutralises_formulas_and_refuses_a_symlink_destination() {
    let (db, url) = ncy_tests::fresh_pg().await;
    ncy_core::seed::dev(&db, false).await.unwrap();
    // An entry written by the platform with hostile values (a user agent is whatever the
    // client sent).
    db.query(
        r#"INSERT INTO "AuditLog" ("action", "target_table", "user_agent", "created_at")
           VALUES ('-PLATFORM_EVENT', '@Task', '=HYPERLINK("http://evil.example","click")', now())
           RETURNING "id""#,
        &params![],
    )
    .await
    .unwrap();
    db.close().await;
    let cli = Cli::new(vec!["--database-url".into(), url]);
    cli.login("admin@ncy-8.com", "admin123");

    let out = cli.home.path().join("audit.csv");
    let out_s = out.to_str().unwrap();
    cli.ok(&["audit", "export", "--format", "csv", "--out", out_s]);
    let csv = std::fs::read_to_string(&out).unwrap();
    let line = csv
        .lines()
        .find(|l| l.contains("PLATFORM_EVENT"))
        .expect("the platform's entry is exported");
    // Each hostile cell starts with a quote; the CSV quoting of `"` stays intact.
    assert!(line.contains(",'-PLATFORM_EVENT,'@Task,"), "{line}");
    assert!(
        line.contains(r#","'=HYPERLINK(""http://evil.example"",""click"")""#),
        "{line}"
    );
    assert!(
        !line.contains(",-PLATFORM") && !line.contains(",=HYPERLINK"),
        "{line}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the export is private");
    }

    // A symbolic link at the destination: refused (exit 2), its target untouched, no
    // temporary file left.
    #[cfg(unix)]
    {
        let target = cli.home.path().join("victim.txt");
        std::fs::write(&target, b"precious").unwrap();
        let link = cli.home.path().join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        fails(
            &cli.run(&[
                "audit",
                "export",
                "--format",
                "csv",
                "--out",
                link.to_str().unwrap(),
            ]),
            2,
            "symbolic link",
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        let partials = std::fs::read_dir(cli.home.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .count();
        assert_eq!(partials, 0);
    }
}
