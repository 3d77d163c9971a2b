//! `ncy-admin health` end to end on the real test PostgreSQL and a local workspace: JSON
//! report, confirmation refusals, exit codes and one-line errors.

use ncy_tests::cli::{fails, Cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_cli_on_postgres() {
    let (db, url) = ncy_tests::fresh_pg().await;
    db.close().await;
    let cli = Cli::new(vec!["--database-url".into(), url]);
    // The binary may carry migrations newer than the harness template.
    cli.ok(&["migrate", "up"]);
    cli.ok(&["seed", "dev"]);
    cli.login("admin@ncy-8.com", "admin123");

    let out = cli.ok(&["--json", "health", "--sample-ms", "100"]);
    let rep: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(rep["server"]["version_num"].as_i64().unwrap() >= 130000);
    assert!(rep["findings"].is_array() && rep["status"].is_string());
    assert!(rep["connections"]["max_connections"].as_i64().unwrap() > 0);
    let human = cli.ok(&["health", "--sample-ms", "100"]);
    assert!(
        human.contains("Connections:") && human.contains("Cache hit ratio"),
        "{human}"
    );

    let top = cli.ok(&["--json", "health", "top", "--limit", "3"]);
    let top: serde_json::Value = serde_json::from_str(&top).unwrap();
    assert!(top["statements"].as_array().unwrap().len() <= 3);

    // Actions refuse to run unconfirmed without a terminal, and name the fix.
    fails(&cli.run(&["health", "terminate", "12345"]), 2, "--yes");
    fails(
        &cli.run(&["health", "set-logging", "--statement", "all"]),
        2,
        "--yes",
    );
    fails(
        &cli.run(&["health", "terminate", "999999", "--yes"]),
        3,
        "not found",
    );
    fails(
        &cli.run(&["health", "set-logging", "--statement", "bogus"]),
        2,
        "none, ddl, mod, all",
    );
    fails(
        &cli.run(&[
            "health",
            "metrics",
            "--prometheus",
            "http://127.0.0.1:1",
            "--window",
            "1m",
        ]),
        7,
        "Prometheus: cannot query",
    );
    fails(
        &cli.run(&[
            "health",
            "metrics",
            "--prometheus",
            "http://127.0.0.1:1",
            "--window",
            "soon",
        ]),
        2,
        "window",
    );

    cli.login("employee@test-org.com", "employee123");
    fails(&cli.run(&["health"]), 5, "health.read");
    fails(
        &cli.run(&["health", "cancel", "1", "--yes"]),
        5,
        "health.configure",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_cli_on_the_local_workspace_says_it_needs_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db").display().to_string();
    let cli = Cli::new(vec!["--local".into(), path]);
    cli.ok(&["seed", "dev"]);
    cli.login("admin@ncy-8.com", "admin123");
    let out = cli.ok(&["health"]);
    assert!(out.contains("needs PostgreSQL"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&cli.ok(&["--json", "health"])).unwrap();
    assert!(json["sqlite"]["page_count"].as_i64().unwrap() > 0);
    fails(
        &cli.run(&["health", "top"]),
        2,
        "needs a PostgreSQL database",
    );
}
