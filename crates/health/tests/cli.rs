//! `ncy-admin health` end to end on the real test PostgreSQL and a local workspace: JSON
//! report, confirmation refusals, exit codes and one-line errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Cli {
    target: Vec<String>,
    home: tempfile::TempDir,
}

impl Cli {
    fn new(target: Vec<String>) -> Cli {
        Cli {
            target,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let bin = ncy_tests::bin("ncy-admin");
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build -p ncy-cli` first (scripts/test.sh does)",
            bin.display()
        );
        let mut child = Command::new(bin)
            .args(&self.target)
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("NCY_PROMETHEUS_URL")
            .env("XDG_RUNTIME_DIR", self.home.path())
            .env("NCY_DATA_DIR", self.home.path().join("data"))
            .env("HOME", self.home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn login(&self, email: &str, password: &str) {
        let o = self.run_with(
            &["login", "--email", email, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

fn fails(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("warning:")).collect();
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(lines.len(), 1, "exactly one error line: {err}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "{needle:?} not in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

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
        "cannot query Prometheus",
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
