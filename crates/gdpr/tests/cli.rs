//! `ncy-admin gdpr ...` end to end on a local workspace: the CLI contract, exit codes, output.

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Cli {
    home: tempfile::TempDir,
}

impl Cli {
    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let bin = ncy_tests::bin("ncy-admin");
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build -p ncy-cli` first (scripts/test.sh does)",
            bin.display()
        );
        let ws = self.home.path().join("ws.db");
        let mut child = Command::new(bin)
            .arg("--local")
            .arg(&ws)
            .args(args)
            .env_remove("DATABASE_URL")
            .env("XDG_RUNTIME_DIR", self.home.path())
            .env("NCY_DATA_DIR", self.home.path().join("data"))
            .env("HOME", self.home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run_with(args, None);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn fails(&self, args: &[&str], code: i32, needle: &str) {
        let o = self.run_with(args, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("warning:")).collect();
        assert_eq!(lines.len(), 1, "one error line: {err}");
        assert!(
            lines[0].to_lowercase().contains(&needle.to_lowercase()),
            "{needle:?} not in {err}"
        );
    }
}

#[test]
fn gdpr_cli_contract_on_a_local_workspace() {
    let cli = Cli {
        home: tempfile::tempdir().unwrap(),
    };
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
    cli.fails(
        &[
            "gdpr",
            "request",
            "create",
            "--user",
            "employee@test-org.com",
            "--type",
            "SHRED",
        ],
        2,
        "type",
    );
    cli.fails(
        &[
            "gdpr",
            "request",
            "create",
            "--user",
            "ghost@nowhere.com",
            "--type",
            "ACCESS",
        ],
        3,
        "not found",
    );

    // Export: refused before identity verification, then a bundle.
    let out = cli.home.path().join("bundle");
    let out_s = out.to_str().unwrap();
    cli.fails(
        &["gdpr", "export", &id, "--out", out_s],
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
    cli.fails(
        &["gdpr", "extend", &id, "--months", "3", "--reason", "x"],
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
    cli.fails(
        &["gdpr", "erase", &er, "--confirm", "manager@test-org.com"],
        4,
        "verify-identity",
    );
    cli.ok(&["gdpr", "verify-identity", &er, "--method", "video call"]);
    cli.fails(
        &["gdpr", "erase", &er, "--confirm", "someone@else.com"],
        2,
        "confirm",
    );
    let text = cli.ok(&["gdpr", "erase", &er, "--confirm", "manager@test-org.com"]);
    assert!(text.contains("sweep: CLEAN"), "{text}");
    cli.ok(&["gdpr", "complete", &er]);
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
    cli.fails(&["gdpr", "complete", &rj], 4, "REJECTED");
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
