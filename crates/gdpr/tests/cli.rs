//! `ncy-admin gdpr ...` end to end on a local workspace: the CLI contract, exit codes, output.

use ncy_tests::cli::{fails, Cli};

#[test]
fn gdpr_cli_contract_on_a_local_workspace() {
    let ws = tempfile::tempdir().unwrap();
    let cli = Cli::new(vec![
        "--local".into(),
        ws.path().join("ws.db").display().to_string(),
    ]);
    cli.ok(&["migrate", "up"]);
    cli.ok(&["seed", "dev"]);
    let o = cli.run_with(
        &["login", "--email", "admin@ncy-8.com", "--password-stdin"],
        Some("admin123\n"),
    );
    assert!(
        o.status.success(),
        "login: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Intake prints the id; the queue lists it.
    let id = cli.ok(&[
        "gdpr",
        "request",
        "create",
        "--user",
        "EMPLOYEE@test-org.com",
        "--type",
        "export",
        "--note",
        "by letter",
    ]);
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 36, "{id}");
    assert!(cli.ok(&["gdpr", "list"]).contains(&id));
    let q: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "gdpr", "list", "--overdue"])).unwrap();
    assert_eq!(q["requests"].as_array().unwrap().len(), 0);
    fails(
        &cli.run(&[
            "gdpr",
            "request",
            "create",
            "--user",
            "employee@test-org.com",
            "--type",
            "SHRED",
        ]),
        2,
        "type",
    );
    fails(
        &cli.run(&[
            "gdpr",
            "request",
            "create",
            "--user",
            "ghost@nowhere.com",
            "--type",
            "ACCESS",
        ]),
        3,
        "not found",
    );

    // Export: refused before identity verification, then a bundle.
    let out = cli.home.path().join("bundle");
    let out_s = out.to_str().unwrap();
    fails(
        &cli.run(&["gdpr", "export", &id, "--out", out_s]),
        4,
        "verify-identity",
    );
    cli.ok(&[
        "gdpr",
        "verify-identity",
        &id,
        "--method",
        "signed letter + ID copy",
    ]);
    fails(
        &cli.run(&["gdpr", "extend", &id, "--months", "3", "--reason", "x"]),
        2,
        "1 or 2 months",
    );
    cli.ok(&[
        "gdpr",
        "extend",
        &id,
        "--months",
        "1",
        "--reason",
        "many systems",
    ]);
    let e: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "gdpr", "export", &id, "--out", out_s])).unwrap();
    assert!(e["total_rows"].as_u64().unwrap() > 0);
    assert!(
        out.join("manifest.json").exists()
            && out.join("User.json").exists()
            && out.join("summary.md").exists()
    );
    cli.ok(&["gdpr", "complete", &id]);
    let show: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "gdpr", "show", &id])).unwrap();
    assert_eq!(show["request"]["state"], "COMPLETED");
    assert!(show["history"].as_array().unwrap().len() >= 5);

    // Erasure prints the sweep.
    let er = cli
        .ok(&[
            "gdpr",
            "request",
            "create",
            "--user",
            "manager@test-org.com",
            "--type",
            "ERASURE",
        ])
        .trim()
        .to_owned();
    fails(
        &cli.run(&["gdpr", "erase", &er, "--confirm", "manager@test-org.com"]),
        4,
        "verify-identity",
    );
    cli.ok(&["gdpr", "verify-identity", &er, "--method", "video call"]);
    fails(
        &cli.run(&["gdpr", "erase", &er, "--confirm", "someone@else.com"]),
        2,
        "confirm",
    );
    let text = cli.ok(&["gdpr", "erase", &er, "--confirm", "manager@test-org.com"]);
    assert!(text.contains("sweep: CLEAN"), "{text}");
    cli.ok(&["gdpr", "complete", &er]);
    // A later sweep re-proves it; a live subject's email is found (exit 10); nothing to look
    // for is a usage error.
    let again = cli.ok(&["gdpr", "sweep", "--email", "Manager@test-org.com"]);
    assert!(again.contains("sweep: CLEAN"), "{again}");
    let o = cli.run(&["gdpr", "sweep", "--email", "employee@test-org.com"]);
    fails(&o, 10, "traces");
    let found = String::from_utf8_lossy(&o.stdout);
    assert!(
        found.contains("TRACES FOUND") && found.contains("User.email: 1 row(s)"),
        "{found}"
    );
    fails(&cli.run(&["gdpr", "sweep"]), 2, "--email");
    let o = cli.run_with(
        &[
            "login",
            "--email",
            "manager@test-org.com",
            "--password-stdin",
        ],
        Some("manager123\n"),
    );
    assert_eq!(
        o.status.code(),
        Some(6),
        "the erased account can no longer log in"
    );

    // Rejection, retention, consents, holds.
    let rj = cli
        .ok(&[
            "gdpr",
            "request",
            "create",
            "--user",
            "employee@test-org.com",
            "--type",
            "RESTRICTION",
        ])
        .trim()
        .to_owned();
    cli.ok(&["gdpr", "reject", &rj, "--reason", "not the account holder"]);
    fails(&cli.run(&["gdpr", "complete", &rj]), 4, "REJECTED");
    assert!(cli
        .ok(&["gdpr", "retention", "run", "--dry-run"])
        .contains("dry run"));
    cli.ok(&[
        "gdpr",
        "consent",
        "grant",
        "--user",
        "employee@test-org.com",
        "--purpose",
        "newsletter",
    ]);
    cli.ok(&[
        "gdpr",
        "consent",
        "withdraw",
        "--user",
        "employee@test-org.com",
        "--purpose",
        "newsletter",
    ]);
    let c: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "--json",
        "gdpr",
        "consent",
        "list",
        "--user",
        "employee@test-org.com",
    ]))
    .unwrap();
    assert_eq!(c["history"].as_array().unwrap().len(), 2);
    assert_eq!(c["history"][0]["recorded_by"], "admin@ncy-8.com");
    let text = cli.ok(&["gdpr", "consent", "list", "--user", "employee@test-org.com"]);
    assert!(
        text.contains("admin@ncy-8.com"),
        "the history names who: {text}"
    );
    cli.ok(&[
        "gdpr",
        "hold",
        "place",
        "--user",
        "employee@test-org.com",
        "--reason",
        "case 7",
    ]);
    assert!(cli
        .ok(&["gdpr", "hold", "list", "--user", "employee@test-org.com"])
        .contains("case 7"));
}
