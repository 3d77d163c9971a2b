//! Test harness: a throwaway PostgreSQL cluster (initdb + pg_ctl on a free port, as the
//! `postgres` user when running as root), a migrated template database, and one fresh database
//! per test (`CREATE DATABASE ... TEMPLATE`), so tests run in parallel against real servers.
//! `NCY_TEST_DATABASE_URL` (a superuser URL) skips starting a cluster. SQLite stores are real
//! files in temporary directories. No mock of any database.

pub mod cluster;

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

/// The migrated template database (created once per migration set, shared by processes).
async fn template() -> String {
    static TPL: OnceCell<String> = OnceCell::const_new();
    TPL.get_or_init(|| async {
        let set = MigrationSet::embedded(Dialect::Postgres).expect("embedded migrations");
        let sum: String = set
            .migrations
            .iter()
            .map(|m| m.checksum())
            .collect::<Vec<_>>()
            .join("");
        let name = format!("ncy_tpl_{}", &ncy_core_sha(&sum)[..16]);
        let a = admin().await;
        let exists = a
            .query(
                "SELECT 1 AS x FROM pg_database WHERE datname = $1",
                &ncy_core::params![name.as_str()],
            )
            .await
            .expect("pg_database");
        a.close().await;
        if exists.is_empty() {
            let tmp = unique("ncy_tplbuild");
            exec_admin(&format!("CREATE DATABASE \"{tmp}\""))
                .await
                .expect("create template build db");
            let db = Db::connect(&Target::Postgres(url_for(&tmp)), &small_pool())
                .await
                .expect("connect template");
            migrate::up(&db, &set)
                .await
                .expect("migrating the template");
            db.close().await;
            // Another process may have won the race; either way one template exists.
            if exec_admin(&format!("ALTER DATABASE \"{tmp}\" RENAME TO \"{name}\""))
                .await
                .is_err()
            {
                let _ = exec_admin(&format!("DROP DATABASE IF EXISTS \"{tmp}\"")).await;
            }
        }
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
        let mut tries = 0;
        loop {
            match exec_admin(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{tpl}\"")).await {
                Ok(()) => break,
                Err(e) if tries < 20 && e.to_string().contains("being accessed") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("creating test database: {e}"),
            }
        }
    }
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
