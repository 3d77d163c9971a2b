//! `ncy-admin sync …` and `--offline` end to end, with the cache key in the OS keychain (which
//! never falls back to a file). The test starts its own D-Bus session bus and an unlocked
//! gnome-keyring (apt: dbus gnome-keyring, in scripts/setup.sh), so it needs no desktop.
#![allow(clippy::useless_vec)]

use std::io::Write;
use std::process::{Command, Stdio};

use ncy_tests::cli::{fails, Cli};

/// The private bus; stopped when dropped (the keyring daemon leaves with it).
struct Bus(std::process::Child);

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private session bus with an unlocked keyring whose files live in `dir`; sets
/// DBUS_SESSION_BUS_ADDRESS for this process (and so for the CLI it starts).
fn private_keyring(dir: &std::path::Path) -> Bus {
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "dbus-daemon (apt: dbus) is needed for the keychain test; scripts/setup.sh installs it",
        );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(bus.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line.trim().to_owned();
    let mut kr = Command::new("gnome-keyring-daemon")
        .args(["--unlock", "--components=secrets"])
        .env("DBUS_SESSION_BUS_ADDRESS", &addr)
        .env("XDG_DATA_HOME", dir.join("keyring-data"))
        .env("XDG_RUNTIME_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "gnome-keyring-daemon (apt: gnome-keyring) is needed; scripts/setup.sh installs it",
        );
    // A non-empty password: with an empty one no default collection is created.
    kr.stdin.take().unwrap().write_all(b"ncy-test").unwrap();
    kr.wait().unwrap();
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &addr);
    Bus(bus)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_offline_edit_run_and_a_dead_server() {
    let kdir = tempfile::tempdir().unwrap();
    let _bus = private_keyring(kdir.path());
    let (db, url) = ncy_tests::fresh_pg().await;
    ncy_core::seed::dev(&db, false).await.unwrap();
    let cli = Cli::new(vec!["--database-url".into(), url.clone()]);
    let o = cli.run_with(
        &["login", "--email", "admin@ncy-8.com", "--password-stdin"],
        Some("admin123\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let init = cli.json(&["sync", "init", "--org", "test-org"]);
    assert_eq!(init["status"]["rows"]["Task"], 10, "{init}");
    let key = ncy_sync::cache::key_secret(&url).get().unwrap().expect(
        "the cache key is in the OS keychain (is a Secret Service running? see scripts/test.sh)",
    );
    for f in walk(cli.home.path()) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !bytes.windows(64).any(|w| w == &key.as_bytes()[2..66]),
            "the cache key is in no file ({})",
            f.display()
        );
    }

    let tasks = cli.json(&["--offline", "--json", "tasks", "list"]);
    let items = tasks["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    let id = items
        .iter()
        .find(|t| t["status"] != "DONE")
        .expect("a task that is not done")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = cli.json(&[
        "--offline",
        "--json",
        "sync",
        "edit",
        &id,
        "--status",
        "done",
        "--metadata",
        r#"{"review":"ok offline"}"#,
    ]);
    assert_eq!(e["new"]["status"], "DONE", "{e}");
    // The ordinary `tasks update` works offline too: the same core edit plus an outbox entry.
    let t = cli.json(&[
        "--offline",
        "--json",
        "tasks",
        "update",
        &id,
        "--title",
        "Reviewed offline",
    ]);
    assert_eq!(t["title"], "Reviewed offline", "{t}");
    let st = cli.json(&["--offline", "--json", "sync", "status"]);
    assert_eq!(st["pending"], 2);
    // The outbox lists both edits with their fields; a discard needs --confirm.
    let ob = cli.json(&["--offline", "sync", "outbox"]);
    let items = ob.as_array().expect("a list");
    assert_eq!(items.len(), 2, "{ob}");
    assert_eq!(items[0]["state"], "pending");
    assert_eq!(items[1]["new"]["title"], "Reviewed offline");
    let seq = items[0]["seq"].to_string();
    fails(
        &cli.run(&["--offline", "sync", "outbox", "discard", &seq]),
        2,
        "--confirm",
    );
    fails(
        &cli.run(&["--offline", "sync", "outbox", "retry", "999"]),
        3,
        "not found",
    );
    let o = cli.run_with(&["--offline", "sync", "pull"], None);
    assert_eq!(o.status.code(), Some(2), "pull needs the network");
    // Changes other than task edits would stay in the cache and be lost at the next pull:
    // refused offline with one line, and nothing is written.
    let users_before = cli.json(&["--offline", "users", "list"])["items"]
        .as_array()
        .unwrap()
        .len();
    for args in [
        &[
            "--offline",
            "users",
            "create",
            "--email",
            "offline.user@example.com",
        ][..],
        &["--offline", "tasks", "delete", &id][..],
        &["--offline", "settings", "set", "auth.lockout.minutes", "30"][..],
    ] {
        fails(&cli.run(args), 2, "offline cache takes only reads");
    }
    let users_after = cli.json(&["--offline", "users", "list"])["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(users_before, users_after);
    assert_eq!(cli.json(&["--offline", "sync", "status"])["pending"], 2);

    // The same cache seen through a server that is down: the command says a cache exists and
    // points at --offline, which works.
    let dead = "postgres://postgres@127.0.0.1:1/ncy_sync_dead";
    let dir = cli.home.path().join("data").join("cache");
    std::fs::copy(
        ncy_sync::cache::cache_path(&dir, &url),
        ncy_sync::cache::cache_path(&dir, dead),
    )
    .unwrap();
    ncy_sync::cache::key_secret(dead)
        .set_keychain(&key)
        .unwrap();
    let down_home = tempfile::tempdir_in(cli.home.path()).unwrap();
    let run_dead = |args: &[&str]| {
        Command::new(ncy_tests::bin("ncy-admin"))
            .args(["--database-url", dead])
            .args(args)
            .env_remove("DATABASE_URL")
            .env("XDG_RUNTIME_DIR", down_home.path())
            .env("NCY_DATA_DIR", cli.home.path().join("data"))
            .output()
            .unwrap()
    };
    let o = run_dead(&["tasks", "list"]);
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("--offline"));
    let o = run_dead(&["--offline", "--json", "tasks", "list"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = ncy_sync::cache::key_secret(dead).delete();

    // Back online: the edit is pushed once, then pulling changes nothing.
    let r = cli.json(&["sync", "run"]);
    assert_eq!(r["push"]["applied"], 2, "{r}");
    let row = db
        .query(
            r#"SELECT "status"::text AS s, "title", "metadata" FROM "Task" WHERE "id" = $1::uuid"#,
            &ncy_core::params![id.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(row[0].text("s").unwrap(), "DONE");
    assert_eq!(row[0].text("title").unwrap(), "Reviewed offline");
    let again = cli.json(&["sync", "run"]);
    assert_eq!(again["push"]["pushed"], 0);
    assert_eq!(cli.json(&["sync", "conflicts"]), serde_json::json!([]));
    let _ = ncy_sync::cache::key_secret(&url).delete();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
