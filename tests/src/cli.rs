//! Running the built `ncy-admin` binary in tests: a private home, runtime and data directory
//! per runner (the session fallback file and the default workspace never touch the real ones),
//! and the one-line-error assertion every CLI test shares.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// An `ncy-admin` invocation context: target flags plus a private home.
pub struct Cli {
    pub target: Vec<String>,
    pub home: tempfile::TempDir,
}

impl Cli {
    /// A runner that passes `target` (e.g. `--database-url URL` or `--local PATH`) first.
    pub fn new(target: Vec<String>) -> Cli {
        Cli {
            target,
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The command for `args` in this runner's private environment, its pipes open.
    pub fn command(&self, args: &[&str]) -> Command {
        let bin = crate::bin("ncy-admin");
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build -p ncy-cli` first (scripts/test.sh does)",
            bin.display()
        );
        let mut c = Command::new(bin);
        c.args(&self.target)
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("DATABASE_REPLICA_URL")
            .env_remove("NCY_PROMETHEUS_URL")
            .env_remove("NCY_BACKUP_DIR")
            .env("XDG_RUNTIME_DIR", self.home.path())
            .env("NCY_DATA_DIR", self.home.path().join("data"))
            .env("HOME", self.home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs with `args`, feeding `stdin` when given.
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self.command(args).spawn().expect("spawning ncy-admin");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).expect("writing stdin");
        }
        drop(input);
        child.wait_with_output().expect("waiting for ncy-admin")
    }

    /// Runs with `args` and no input.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None)
    }

    /// Runs with `args`, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed ({}): {}\nstdout: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs with `--json` (added unless `args` has it), asserts success, parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = Vec::with_capacity(args.len() + 1);
        if !args.contains(&"--json") {
            a.push("--json");
        }
        a.extend_from_slice(args);
        let out = self.ok(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// Logs in with `--password-stdin`, asserting success.
    pub fn login(&self, email: &str, password: &str) {
        let o = self.run_with(
            &["login", "--email", email, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
        assert!(
            o.status.success(),
            "login: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Asserts a failure: the exit code, exactly one line on stderr naming `needle`, no panic.
pub fn fails(o: &Output, code: i32, needle: &str) {
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
