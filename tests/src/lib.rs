//! Test harness: a throwaway PostgreSQL cluster (initdb + pg_ctl on a free port, as the
//! `postgres` user when running as root), a migrated template database, and one fresh database
//! per test (`CREATE DATABASE ... TEMPLATE`), so tests run in parallel against real servers.
//! `NCY_TEST_DATABASE_URL` (a superuser URL) skips starting a cluster. SQLite stores are real
//! files in temporary directories. No mock of any database.

pub mod cli;
pub mod cluster;
pub mod logins;
pub mod pooler;

use std::path::PathBuf;
use std::sync::OnceLock;

use ncy_core::db::{ConnectOptions, Db, Dialect, Target};
use ncy_core::migrate::{self, MigrationSet};
use tokio::sync::{Mutex, OnceCell};

pub use cluster::Cluster;

/// The server all tests of this process share: `NCY_TEST_DATABASE_URL` or a cluster started
/// on first use (stopped when the process exits).
pub fn server_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var("NCY_TEST_DATABASE_URL") {
            return u;
        }
        let c = Cluster::start(cluster::Options::default())
            .expect("starting a throwaway PostgreSQL cluster");
        let url = c.url("postgres");
        cluster::stop_at_exit(c);
        url
    })
    .clone()
}

/// The URL of database `db` on the shared server.
pub fn url_for(db: &str) -> String {
    let base = server_url();
    match base.rfind('/') {
        Some(i) if base[..i].contains("://") && base[i..].len() > 1 => {
            let (head, tail) = base.split_at(i);
            let q = tail.find('?').map(|q| &tail[q..]).unwrap_or("");
            format!("{head}/{db}{q}")
        }
        _ => format!("{}/{db}", base.trim_end_matches('/')),
    }
}

async fn admin() -> Db {
    Db::connect(&Target::Postgres(server_url()), &small_pool())
        .await
        .expect("connecting to the test server")
}

/// A small pool for tests (many tests run at once).
pub fn small_pool() -> ConnectOptions {
    ConnectOptions {
        max_connections: 5,
        ..ConnectOptions::default()
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

async fn exec_admin(sql: &str) -> ncy_core::Result<()> {
    let a = admin().await;
    let mut tx = a.begin().await?;
    // CREATE/DROP DATABASE cannot run inside a transaction block: end ours first.
    tx.batch("COMMIT").await?;
    let r = tx.batch(sql).await;
    drop(tx);
    a.close().await;
    r
}

/// Ends every session still connected to `db` and waits until each has exited (a closed
/// pool's backends exit a moment after their clients; `CREATE DATABASE … TEMPLATE` refuses a
/// template anyone is connected to). The server does the waiting: `pg_terminate_backend`
/// with a timeout returns once the backend is gone.
async fn wait_unused(db: &str) {
    let a = admin().await;
    // A session can exit by itself between the listing and its termination (then
    // `pg_terminate_backend` says false): count what is left afterwards instead.
    let sessions = "FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()";
    a.query(
        &format!("SELECT pg_terminate_backend(pid, 30000) AS ended {sessions}"),
        &ncy_core::params![db],
    )
    .await
    .expect("ending the template's sessions");
    let left: i64 = a
        .query_one_as(
            &format!("SELECT count(*) AS n {sessions}"),
            &ncy_core::params![db],
        )
        .await
        .expect("counting the template's sessions");
    a.close().await;
    assert_eq!(left, 0, "sessions on {db} did not exit within 30 s");
}

/// The migrated template database (built once per migration set; processes that race wait on
/// an advisory lock; a template is only used once marked ready).
async fn template() -> String {
    static TPL: OnceCell<String> = OnceCell::const_new();
    TPL.get_or_init(|| async {
        let set = MigrationSet::embedded(Dialect::Postgres).expect("embedded migrations");
        let sum: String = set.migrations.iter().map(|m| m.checksum()).collect::<Vec<_>>().join("");
        let name = format!("ncy_tpl_{}", &ncy_core_sha(&sum)[..16]);
        let ready = |a: Db, name: String| async move {
            let r = a
                .query(
                    "SELECT coalesce(shobj_description(oid, 'pg_database'), '') AS c FROM pg_database WHERE datname = $1",
                    &ncy_core::params![name.as_str()],
                )
                .await
                .expect("pg_database");
            a.close().await;
            r.first().map(|r| r.text("c").unwrap_or_default())
        };
        if ready(admin().await, name.clone()).await.as_deref() == Some("ready") {
            return name;
        }
        // One builder at a time across processes.
        let lock = admin().await;
        let mut ltx = lock.begin().await.expect("lock tx");
        ltx.query("SELECT pg_advisory_xact_lock(7317002)", &[]).await.expect("advisory lock");
        match ready(admin().await, name.clone()).await.as_deref() {
            Some("ready") => {}
            state => {
                if state.is_some() {
                    exec_admin(&format!("DROP DATABASE IF EXISTS \"{name}\"")).await.expect("drop stale template");
                }
                exec_admin(&format!("CREATE DATABASE \"{name}\"")).await.expect("create template");
                let db = Db::connect(&Target::Postgres(url_for(&name)), &small_pool()).await.expect("connect template");
                migrate::up(&db, &set).await.expect("migrating the template");
                db.close().await;
                wait_unused(&name).await;
                exec_admin(&format!("COMMENT ON DATABASE \"{name}\" IS 'ready'")).await.expect("mark template");
            }
        }
        ltx.rollback().await.expect("unlock");
        lock.close().await;
        name
    })
    .await
    .clone()
}

fn ncy_core_sha(s: &str) -> String {
    use std::fmt::Write;
    // A small stable hash (FNV-1a 64 twice) is enough to name the template.
    let mut out = String::new();
    for seed in [0xcbf29ce484222325u64, 0x84222325cbf29ce4u64] {
        let mut h = seed;
        for b in s.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        let _ = write!(out, "{h:016x}");
    }
    out
}

/// A fresh, fully migrated PostgreSQL database for one test.
pub async fn fresh_pg() -> (Db, String) {
    static CREATE: Mutex<()> = Mutex::const_new(());
    let tpl = template().await;
    let name = unique("ncy_test");
    {
        let _g = CREATE.lock().await;
        // A session on the template (its builder's, ending) makes the copy fail: end it and
        // copy again. Each retry follows a session the server saw exit, not a pause.
        let mut tries = 0;
        loop {
            match exec_admin(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{tpl}\"")).await {
                Ok(()) => break,
                Err(e) if tries < 5 && e.to_string().contains("being accessed") => {
                    tries += 1;
                    wait_unused(&tpl).await;
                }
                Err(e) => panic!("creating test database: {e}"),
            }
        }
    }
    // Database-level privileges are not copied from a template: apply migration 0010's here.
    exec_admin(&format!(
        "REVOKE TEMPORARY ON DATABASE \"{name}\" FROM PUBLIC"
    ))
    .await
    .expect("database privileges");
    let url = url_for(&name);
    let db = Db::connect(&Target::Postgres(url.clone()), &small_pool())
        .await
        .expect("connect test db");
    (db, url)
}

/// An empty PostgreSQL database (no migrations) for one test.
pub async fn empty_pg() -> (Db, String) {
    let name = unique("ncy_empty");
    exec_admin(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create empty db");
    let url = url_for(&name);
    let db = Db::connect(&Target::Postgres(url.clone()), &small_pool())
        .await
        .expect("connect empty db");
    (db, url)
}

/// A fresh, fully migrated SQLite workspace in a temporary directory (kept alive by the guard).
pub async fn fresh_sqlite() -> (Db, tempfile::TempDir) {
    let (db, dir) = empty_sqlite();
    let set = MigrationSet::embedded(Dialect::Sqlite).expect("embedded migrations");
    migrate::up(&db, &set).await.expect("migrating sqlite");
    (db, dir)
}

/// An empty SQLite file in a temporary directory.
pub fn empty_sqlite() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open_sqlite(&dir.path().join("workspace.db")).expect("open sqlite");
    (db, dir)
}

/// A store under test, holding whatever keeps it alive.
pub struct Store {
    pub db: Db,
    pub url: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Store {
    /// Which dialect this store speaks.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// The `--database-url` / `--local` arguments that reach this store from the CLI.
    pub fn cli_target(&self) -> Vec<String> {
        match (&self.url, self.db.sqlite_path()) {
            (Some(u), _) => vec!["--database-url".into(), u.clone()],
            (None, Some(p)) => vec!["--local".into(), p.display().to_string()],
            _ => vec![],
        }
    }
}

/// Having `Drop` keeps a store whole: a test body's `async move` block that names only
/// `store.db` would otherwise capture just that field (Rust 2021's precise captures) and drop
/// the temporary directory, and with it the SQLite file that read connections open, while the
/// test runs.
impl Drop for Store {
    fn drop(&mut self) {}
}

/// A fresh migrated store of the given dialect.
pub async fn fresh(dialect: Dialect) -> Store {
    match dialect {
        Dialect::Postgres => {
            let (db, url) = fresh_pg().await;
            Store {
                db,
                url: Some(url),
                _dir: None,
            }
        }
        Dialect::Sqlite => {
            let (db, dir) = fresh_sqlite().await;
            Store {
                db,
                url: None,
                _dir: Some(dir),
            }
        }
    }
}

/// Declares one async test per store: `conformance!(name, |store| async move { ... })` expands
/// to `name::postgres` and `name::sqlite`, running the same body against both.
#[macro_export]
macro_rules! conformance {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let store = $crate::fresh(ncy_core::db::Dialect::Postgres).await;
                ($body)(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let store = $crate::fresh(ncy_core::db::Dialect::Sqlite).await;
                ($body)(store).await;
            }
        }
    };
}

/// Path of a workspace binary built by cargo (e.g. `ncy-admin`).
pub fn bin(name: &str) -> PathBuf {
    let mut p = std::env::current_exe().expect("current exe");
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join(name)
}

/// Operators of every built-in role on a store seeded with the dev data.
pub struct Operators {
    pub admin: ncy_core::auth::Operator,
    pub manager: ncy_core::auth::Operator,
    pub employee: ncy_core::auth::Operator,
    pub system: ncy_core::auth::Operator,
    pub support: ncy_core::auth::Operator,
}

impl Operators {
    /// (role name, operator) pairs.
    pub fn all(&self) -> Vec<(&'static str, &ncy_core::auth::Operator)> {
        vec![
            ("ADMIN", &self.admin),
            ("MANAGER", &self.manager),
            ("EMPLOYEE", &self.employee),
            ("SYSTEM", &self.system),
            ("SUPPORT", &self.support),
        ]
    }
}

/// Logs `email` in with `password` (CLI client, default lockout policy).
pub async fn login_as(db: &Db, email: &str, password: &str) -> ncy_core::auth::Operator {
    use ncy_core::auth::{login, Client, LockoutPolicy};
    login(db, email, password, Client::Cli, &LockoutPolicy::default())
        .await
        .unwrap_or_else(|e| panic!("{email} login: {e}"))
        .operator
}

/// Seeds the dev data and logs its ADMIN in (the most common test start).
pub async fn seeded_admin(db: &Db) -> ncy_core::auth::Operator {
    ncy_core::seed::dev(db, false).await.expect("dev seed");
    login_as(db, "admin@ncy-8.com", "admin123").await
}

/// Seeds the dev data, adds a SYSTEM user and a SUPPORT user (role granted through
/// UserRoleMap), and logs all five in.
pub async fn operators(db: &Db) -> Operators {
    use ncy_core::admin::users::{self, NewUser};
    use ncy_core::auth::{login, Client, LockoutPolicy};
    use ncy_core::model::UserRole;
    ncy_core::seed::dev(db, false).await.expect("dev seed");
    let p = LockoutPolicy::default();
    let admin = login(db, "admin@ncy-8.com", "admin123", Client::Cli, &p)
        .await
        .expect("admin login")
        .operator;
    for (email, role) in [
        ("system@ncy-8.com", UserRole::SYSTEM),
        ("support@ncy-8.com", UserRole::EMPLOYEE),
    ] {
        users::create(
            db,
            &admin,
            &NewUser {
                email: email.into(),
                role: Some(role),
                status: None,
                password: Some("password-123".into()),
            },
        )
        .await
        .expect("create operator user");
    }
    users::grant_role(db, &admin, "support@ncy-8.com", "SUPPORT")
        .await
        .expect("grant SUPPORT");
    let manager = login(db, "manager@test-org.com", "manager123", Client::Cli, &p)
        .await
        .expect("login")
        .operator;
    let employee = login(db, "employee@test-org.com", "employee123", Client::Cli, &p)
        .await
        .expect("login")
        .operator;
    let system = login(db, "system@ncy-8.com", "password-123", Client::Cli, &p)
        .await
        .expect("login")
        .operator;
    let mut support = login(db, "support@ncy-8.com", "password-123", Client::Cli, &p)
        .await
        .expect("login")
        .operator;
    // The SUPPORT operator's base UserRole is EMPLOYEE; keep only what SUPPORT grants so the
    // matrix tests the SUPPORT role itself.
    support.permissions = ncy_core::auth::rbac::builtin_permissions("SUPPORT")
        .into_iter()
        .map(String::from)
        .collect();
    Operators {
        admin,
        manager,
        employee,
        system,
        support,
    }
}

/// Creates a task titled `title` in the first project of the dev seed's `test-org`, written
/// directly (as the platform would), so that it reaches the change feed.
pub async fn add_seeded_task(db: &Db, title: &str) {
    db.query(
        r#"INSERT INTO "Task" ("id", "project_id", "title", "created_at", "updated_at")
           SELECT gen_random_uuid(), p."id", $1, now(), now()
           FROM "Project" p JOIN "Organization" o ON o."id" = p."organization_id"
           WHERE o."slug" = 'test-org' ORDER BY p."created_at" LIMIT 1
           RETURNING "id""#,
        &ncy_core::params![title],
    )
    .await
    .expect("a task in test-org")
    .first()
    .expect("test-org has a project");
}

/// Number of AuditLog rows.
pub async fn audit_count(db: &Db) -> i64 {
    db.query(r#"SELECT count(*) AS n FROM "AuditLog""#, &[])
        .await
        .expect("count")[0]
        .int("n")
        .expect("n")
}

/// The old and new values of the AuditLog rows of `action`, oldest first.
pub async fn audit_values(
    db: &Db,
    action: &str,
) -> Vec<(Option<serde_json::Value>, Option<serde_json::Value>)> {
    db.query(
        r#"SELECT "old_value", "new_value" FROM "AuditLog" WHERE "action" = $1 ORDER BY "created_at", "id""#,
        &ncy_core::params![action],
    )
    .await
    .expect("audit rows")
    .iter()
    .map(|r| (r.opt_json("old_value").expect("old_value"), r.opt_json("new_value").expect("new_value")))
    .collect()
}

/// A fingerprint of every business table's rows (for "nothing changed" assertions).
pub async fn state(db: &Db) -> String {
    let mut out = String::new();
    for t in [
        "User",
        "Session",
        "ApiKey",
        "UserRoleMap",
        "Organization",
        "OrganizationMember",
        "Team",
        "TeamMember",
        "Project",
        "Task",
        "AuditLog",
    ] {
        let order = match t {
            "UserRoleMap" => r#""user_id", "role_id""#,
            "TeamMember" => r#""team_id", "user_id""#,
            _ => r#""id""#,
        };
        let rows = db
            .query(&format!(r#"SELECT * FROM "{t}" ORDER BY {order}"#), &[])
            .await
            .expect("dump");
        out.push_str(t);
        for r in rows {
            out.push_str(&r.to_json().to_string());
        }
        out.push('\n');
    }
    out
}
