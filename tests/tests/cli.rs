//! The `ncy-admin` binary end to end: `migrate up && seed dev` on PostgreSQL and a local
//! workspace, login/whoami, bad input and dead servers giving one clear line and the
//! documented exit code, never a panic.

use std::process::Command;

use ncy_tests::cli::{fails, Cli};
use ncy_tests::{empty_pg, url_for};

fn admin_session(cli: &Cli) {
    let o = cli.run_with(
        &["login", "--email", "admin@ncy-8.com", "--password-stdin"],
        Some("admin123\n"),
    );
    assert!(
        o.status.success(),
        "login: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `name`: the database's name (PostgreSQL) or the workspace file's, for `migrate reset`.
fn full_flow(cli: &Cli, name: &str) {
    let m = cli.ok(&["--json", "migrate", "up"]);
    assert!(m.contains("applied") || m.contains("0001"), "{m}");
    cli.ok(&["seed", "dev"]);
    assert!(
        cli.ok(&["seed", "dev"]).contains("nothing to do"),
        "seed dev is idempotent"
    );
    let st = cli.ok(&["--json", "migrate", "status"]);
    let st: serde_json::Value = serde_json::from_str(&st).unwrap();
    assert!(st
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] == "applied"));
    fails(&cli.run(&["whoami"]), 6, "not logged in");
    admin_session(cli);
    let who: serde_json::Value = serde_json::from_str(&cli.ok(&["--json", "whoami"])).unwrap();
    assert_eq!(who["email"], "admin@ncy-8.com");
    let created: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "--json",
        "users",
        "create",
        "--email",
        "cli.user@example.com",
        "--role",
        "manager",
    ]))
    .unwrap();
    assert_eq!(created["user"]["role"], "MANAGER");
    assert!(created["temporary_password"].as_str().unwrap().len() >= 16);
    let stats: serde_json::Value = serde_json::from_str(&cli.ok(&["--json", "stats"])).unwrap();
    assert_eq!(stats["users_total"], 4, "{stats}");
    assert_eq!(stats["organizations"], 1, "{stats}");
    assert_eq!(stats["projects"], 2, "{stats}");
    assert!(stats["audit_last_24h"].as_i64().unwrap() >= 1, "{stats}");
    assert!(cli.ok(&["stats"]).contains("overdue tasks"));
    let audit: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "--json",
        "audit",
        "list",
        "--action",
        "USER_CREATE",
        "--target",
        created["user"]["id"].as_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        audit["items"][0]["user_agent"]
            .as_str()
            .unwrap()
            .split(' ')
            .nth(1),
        Some("(cli)")
    );
    // Paging contract: a cursor comes back and is accepted.
    let page: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "users", "list", "--limit", "2"])).unwrap();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let page2: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "--json", "users", "list", "--limit", "2", "--after", &cursor,
    ]))
    .unwrap();
    assert_ne!(page["items"][0]["id"], page2["items"][0]["id"]);
    // Bad input: one line naming the field, exit 2; conflicts exit 4; unknown ids exit 3.
    fails(
        &cli.run(&["users", "create", "--email", "not-an-email"]),
        2,
        "email",
    );
    fails(
        &cli.run(&["users", "create", "--email", "cli.user@example.com"]),
        4,
        "already exists",
    );
    fails(
        &cli.run(&[
            "users",
            "update",
            "cli.user@example.com",
            "--status",
            "BANNED",
        ]),
        2,
        "status",
    );
    fails(
        &cli.run(&["users", "show", "ghost@example.com"]),
        3,
        "not found",
    );
    fails(
        &cli.run(&[
            "orgs",
            "create",
            "--name",
            "Dup",
            "--slug",
            "test-org",
            "--owner",
            "admin@ncy-8.com",
        ]),
        4,
        "slug",
    );
    fails(
        &cli.run(&["orgs", "settings", "test-org", "{broken"]),
        2,
        "settings",
    );
    fails(&cli.run(&["tasks", "show", "not-a-uuid"]), 2, "task");
    // Global settings: set, listed with range and default, reset to the default.
    assert!(cli
        .ok(&["settings", "set", "auth.lockout.minutes", "30"])
        .contains("auth.lockout.minutes = 30"));
    let list = cli.ok(&["settings", "list"]);
    assert!(
        list.contains("30") && list.contains("1..1440") && list.contains("12 (default)"),
        "{list}"
    );
    fails(
        &cli.run(&["settings", "set", "auth.lockout.minutes", "0"]),
        2,
        "between 1 and 1440",
    );
    assert!(cli
        .ok(&["settings", "reset", "auth.lockout.minutes"])
        .contains("the default, 15, applies"));
    fails(
        &cli.run(&["settings", "reset", "auth.lockout.minutes"]),
        4,
        "not set",
    );
    fails(
        &cli.run(&["users", "list", "--after", "garbage"]),
        2,
        "cursor",
    );
    let long = "y".repeat(300);
    fails(&cli.run(&["orgs", "rename", "test-org", &long]), 2, "name");
    // JSON errors for scripts.
    let o = cli.run(&["--json", "users", "show", "ghost@example.com"]);
    let e: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stderr).trim()).unwrap();
    assert_eq!(e["error"]["code"], "not_found");
    // Audit export to a file.
    let out = cli.home.path().join("audit.csv");
    cli.ok(&[
        "audit",
        "export",
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("id,created_at,actor_id") && csv.contains("USER_CREATE"));
    // Forbidden names the permission (exit 5).
    cli.ok(&["logout"]);
    let o = cli.run_with(
        &[
            "login",
            "--email",
            "employee@test-org.com",
            "--password-stdin",
        ],
        Some("employee123"),
    );
    assert!(o.status.success());
    fails(&cli.run(&["users", "list"]), 5, "users.read");
    // Usage errors (clap) exit 2 with the problem on the first line and a usage hint after it.
    let o = cli.run(&["seed", "dev", "--nonsense"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .lines()
        .next()
        .unwrap_or("")
        .contains("unexpected argument '--nonsense'"));
    // The development reset: the name typed to confirm; refused over a user that is not the
    // seed's (cli.user@example.com) unless forced; then only the seed is left.
    fails(
        &cli.run(&["migrate", "reset", "--confirm", "nope"]),
        2,
        &format!("type the database's name ({name})"),
    );
    fails(
        &cli.run(&["migrate", "reset", "--confirm", name]),
        4,
        "not the development seed's",
    );
    assert!(cli
        .ok(&["migrate", "reset", "--confirm", name, "--force"])
        .contains("development seed loaded (3 users"));
    // Sessions went with the data: log in again.
    fails(&cli.run(&["stats"]), 6, "revoked or does not exist");
    admin_session(cli);
    let stats: serde_json::Value = serde_json::from_str(&cli.ok(&["--json", "stats"])).unwrap();
    assert_eq!(stats["users_total"], 3, "{stats}");
}

#[test]
fn migrate_seed_and_admin_flow_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, url) = rt.block_on(empty_pg());
    rt.block_on(db.close());
    let name = url.rsplit('/').next().unwrap_or_default().to_owned();
    full_flow(&Cli::new(vec!["--database-url".into(), url]), &name);
}

#[test]
fn migrate_seed_and_admin_flow_on_local_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.db");
    full_flow(
        &Cli::new(vec!["--local".into(), path.display().to_string()]),
        "ws.db",
    );
}

#[test]
fn default_workspace_needs_no_flags() {
    let cli = Cli::new(vec![]);
    cli.ok(&["seed", "dev"]);
    assert!(cli.home.path().join("data/workspace.db").exists());
}

#[test]
fn dead_server_bad_url_and_wrong_password_give_one_clear_line() {
    let cli = Cli::new(vec![]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("postgres://u:secret@127.0.0.1:{port}/ncy8");
    let o = cli.run(&["--database-url", &dead, "migrate", "status"]);
    fails(&o, 7, "cannot reach the PostgreSQL server");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("secret"),
        "the password is never printed"
    );
    fails(
        &cli.run(&["--database-url", "mysql://h/db", "migrate", "status"]),
        7,
        "postgres://",
    );
    fails(
        &cli.run(&["--database-url", "postgres://[bad", "migrate", "status"]),
        7,
        "DATABASE_URL",
    );
    // DATABASE_URL from the environment is honoured too.
    let o = {
        let bin = ncy_tests::bin("ncy-admin");
        Command::new(bin)
            .args(["migrate", "status"])
            .env("DATABASE_URL", &dead)
            .env("HOME", cli.home.path())
            .output()
            .unwrap()
    };
    fails(&o, 7, "cannot reach");
    // A role that needs a password, given the wrong one.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let role = ncy_tests::cluster::PASSWORD_ROLE;
    rt.block_on(async {
        let (db, _) = empty_pg().await;
        let mut tx = db.begin().await.unwrap();
        let _ = tx.batch(&format!("DO $$ BEGIN CREATE ROLE {role} LOGIN PASSWORD 'right-password'; EXCEPTION WHEN duplicate_object THEN NULL; END $$;")).await;
        tx.commit().await.unwrap();
        db.close().await;
    });
    let base = url_for("postgres");
    let wrong = base.replacen(
        "postgres://postgres@",
        &format!("postgres://{role}:wrong-password@"),
        1,
    );
    let o = cli.run(&["--database-url", &wrong, "migrate", "status"]);
    fails(&o, 7, "refused the login");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("wrong-password"));
    let missing = url_for("no_such_database_here");
    fails(
        &cli.run(&["--database-url", &missing, "migrate", "status"]),
        7,
        "no_such_database_here",
    );
    // A file that is not a database.
    let junk = cli.home.path().join("junk.db");
    std::fs::write(
        &junk,
        b"this is not sqlite at all, just some bytes that are long enough to be a header........",
    )
    .unwrap();
    fails(
        &cli.run(&["--local", junk.to_str().unwrap(), "migrate", "status"]),
        7,
        "cannot open the local workspace",
    );
}

#[test]
fn pending_migrations_on_postgres_are_reported() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, url) = rt.block_on(empty_pg());
    rt.block_on(db.close());
    let cli = Cli::new(vec!["--database-url".into(), url]);
    fails(&cli.run(&["seed", "dev"]), 8, "migrate up");
}

/// `operators provision` gives a login that is the operator's identity (no `login` needed),
/// the database refuses what the RBAC matrix refuses, and `audit verify` exits 10 on a broken
/// chain.
#[test]
fn operators_log_in_with_their_own_role_and_audit_verify_catches_tampering() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, url) = rt.block_on(empty_pg());
    let owner = Cli::new(vec!["--database-url".into(), url.clone()]);
    owner.ok(&["migrate", "up"]);
    owner.ok(&["seed", "dev"]);
    admin_session(&owner);
    let p: serde_json::Value = serde_json::from_str(&owner.ok(&[
        "--json",
        "operators",
        "provision",
        "manager@test-org.com",
    ]))
    .unwrap();
    let role = p["db_role"].as_str().unwrap().to_owned();
    let pw = p["password"].as_str().unwrap().to_owned();
    assert!(role.starts_with("ncy_op_") && pw.len() >= 20, "{p}");
    fails(
        &owner.run(&["operators", "provision", "manager@test-org.com"]),
        4,
        "already has an operator role",
    );
    let list: serde_json::Value =
        serde_json::from_str(&owner.ok(&["--json", "operators", "list"])).unwrap();
    assert_eq!(list[0]["db_role"], role.as_str());
    assert_eq!(list[0]["groups"], serde_json::json!(["ncy_manager"]));

    let own_url = url.replacen(
        "postgres://postgres@",
        &format!("postgres://{role}:{pw}@"),
        1,
    );
    let me = Cli::new(vec!["--database-url".into(), own_url]);
    let who: serde_json::Value = serde_json::from_str(&me.ok(&["--json", "whoami"])).unwrap();
    assert_eq!(
        who["email"], "manager@test-org.com",
        "the connection is the identity"
    );
    let again = me.ok(&[
        "login",
        "--email",
        "manager@test-org.com",
        "--password-stdin",
    ]);
    assert!(again.contains("no login needed"), "{again}");
    // The app refuses first (exit 5), and the database would too.
    fails(&me.run(&["audit", "list"]), 5, "audit.read");
    fails(&me.run(&["operators", "list"]), 5, "roles.read");
    fails(
        &me.run(&["users", "reset-password", "admin@ncy-8.com"]),
        5,
        "users.credentials",
    );

    let v: serde_json::Value =
        serde_json::from_str(&owner.ok(&["--json", "audit", "verify"])).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    rt.block_on(async {
        let mut tx = db.begin().await.unwrap();
        tx.batch(r#"ALTER TABLE "AuditLog" DISABLE TRIGGER ncy_audit_guard; UPDATE "AuditLog" SET "action" = 'NOTHING' WHERE "seq" = 2; ALTER TABLE "AuditLog" ENABLE TRIGGER ncy_audit_guard"#)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.close().await;
    });
    let o = owner.run(&["audit", "verify"]);
    fails(&o, 10, "row 2 was edited");

    owner.ok(&["operators", "revoke", "manager@test-org.com"]);
    fails(&me.run(&["whoami"]), 7, "refused the login");
}
