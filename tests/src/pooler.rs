//! A real PgBouncer (Debian's `pgbouncer`) in transaction mode in front of a harness cluster,
//! as hosted platforms run it. It runs as the `postgres` user when the tests run as root (it
//! refuses root), listens on a free loopback port and is stopped when dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// PgBouncer settings for one instance.
#[derive(Debug, Clone)]
pub struct PoolerOptions {
    /// Server connections per (database, user) pair: 1 makes every client share one.
    pub pool_size: u32,
    /// `ignore_startup_parameters = extra_float_digits` (the setting most deployments add).
    pub ignore_extra_float_digits: bool,
    /// Clients authenticate with SCRAM-SHA-256 against the secrets PgBouncer reads from the
    /// server through `auth_query` as this role (see [`install_auth_query`]), as Supabase and
    /// most managed deployments run it; None: trust.
    pub auth_user: Option<String>,
}

impl Default for PoolerOptions {
    fn default() -> Self {
        PoolerOptions {
            pool_size: 2,
            ignore_extra_float_digits: false,
            auth_user: None,
        }
    }
}

/// The schema of the `auth_query` function.
pub const AUTH_SCHEMA: &str = "ncy_pgbouncer";

/// Installs what a managed platform installs for PgBouncer's `auth_query`, as the superuser
/// `db` connects as: a login role `auth_user` (trusted on loopback by the harness) that may only
/// call a SECURITY DEFINER function returning a role's SCRAM secret from `pg_shadow`.
pub async fn install_auth_query(db: &ncy_core::db::Db, auth_user: &str) -> ncy_core::Result<()> {
    let mut tx = db.begin().await?;
    tx.batch(&format!(
        r#"CREATE ROLE "{auth_user}" LOGIN;
           CREATE SCHEMA IF NOT EXISTS {AUTH_SCHEMA};
           CREATE OR REPLACE FUNCTION {AUTH_SCHEMA}.lookup(u text, OUT username text, OUT password text)
             RETURNS record LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS
             $$ SELECT usename::text, passwd::text FROM pg_shadow WHERE usename = u $$;
           REVOKE ALL ON FUNCTION {AUTH_SCHEMA}.lookup(text) FROM PUBLIC;
           GRANT USAGE ON SCHEMA {AUTH_SCHEMA} TO "{auth_user}";
           GRANT EXECUTE ON FUNCTION {AUTH_SCHEMA}.lookup(text) TO "{auth_user}";"#
    ))
    .await?;
    tx.commit().await
}

/// The harness server's port and the database name of a harness `url`
/// (`postgres://user@127.0.0.1:PORT/DB?…`), to put a pooler in front of it.
fn port_and_db(url: &str) -> (u16, String) {
    let (_, rest) = url.rsplit_once('@').expect("url has a host");
    let (hostport, db) = rest.split_once('/').expect("url has a database");
    let port = hostport
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("url has a port");
    let db = db.split('?').next().unwrap_or_default().to_owned();
    (port, db)
}

/// A running PgBouncer.
pub struct Pooler {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

fn binary() -> Option<PathBuf> {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl Pooler {
    /// Starts PgBouncer in transaction mode in front of `127.0.0.1:upstream` and waits until it
    /// accepts connections.
    pub fn start(upstream: u16, opts: &PoolerOptions) -> Result<Pooler, String> {
        let bin = binary().ok_or("pgbouncer is not installed (apt-get install pgbouncer)")?;
        let dir =
            std::env::temp_dir().join(format!("ncy-pgbouncer-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let ignore = if opts.ignore_extra_float_digits {
            "ignore_startup_parameters = extra_float_digits\n"
        } else {
            ""
        };
        let auth = match &opts.auth_user {
            Some(u) => format!(
                "auth_type = scram-sha-256\nauth_user = {u}\nauth_query = SELECT username, password FROM {AUTH_SCHEMA}.lookup($1)\n"
            ),
            None => "auth_type = trust\n".into(),
        };
        let ini = format!(
            "[databases]\n* = host=127.0.0.1 port={upstream}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nunix_socket_dir =\n{auth}auth_file = {d}/users.txt\n\
             pool_mode = transaction\ndefault_pool_size = {size}\nmin_pool_size = 0\nmax_client_conn = 500\n\
             logfile = {d}/pgbouncer.log\npidfile = {d}/pgbouncer.pid\nadmin_users = postgres\n{ignore}",
            d = dir.display(),
            size = opts.pool_size,
        );
        std::fs::write(dir.join("pgbouncer.ini"), ini).map_err(|e| e.to_string())?;
        let mut users = String::from("\"postgres\" \"\"\n");
        if let Some(u) = &opts.auth_user {
            users.push_str(&format!("\"{u}\" \"\"\n"));
        }
        std::fs::write(dir.join("users.txt"), users).map_err(|e| e.to_string())?;
        crate::cluster::own_by_postgres(&dir)?;
        let child = crate::cluster::as_postgres(&bin)
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting pgbouncer: {e}"))?;
        let mut p = Pooler { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = p.child.try_wait() {
                return Err(format!("pgbouncer exited ({st}): {}", p.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("pgbouncer did not listen within 30 s: {}", p.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(p)
    }

    /// A pooler (`opts`) in front of the harness database of `url`, and that database's URL
    /// through it; panics when PgBouncer does not start (a test helper).
    pub fn in_front_of(url: &str, opts: &PoolerOptions) -> (Pooler, String) {
        let (port, db) = port_and_db(url);
        let p = Pooler::start(port, opts).unwrap_or_else(|e| panic!("pgbouncer: {e}"));
        let through = p.url(&db);
        (p, through)
    }

    /// A transaction-mode pooler in front of the harness database of `url` that authenticates
    /// every login (operators' SCRAM logins included) through an `auth_query` function it
    /// installs first on `db`, for a new auth user; and the database's URL through it.
    pub async fn with_auth_query(db: &ncy_core::db::Db, url: &str) -> (Pooler, String) {
        let auth_user = format!(
            "ncy_pgb_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        install_auth_query(db, &auth_user)
            .await
            .expect("auth_query function");
        Pooler::in_front_of(
            url,
            &PoolerOptions {
                auth_user: Some(auth_user),
                ..Default::default()
            },
        )
    }

    /// The URL of database `db` through this pooler, as the `postgres` user.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// PgBouncer's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        // runuser forwards SIGTERM to pgbouncer, which then exits.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
