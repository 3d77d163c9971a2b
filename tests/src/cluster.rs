//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory and `pg_ctl start` on a
//! free loopback port. As root, both run as the `postgres` user (initdb refuses root).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// A role that must log in with a password (scram-sha-256) on every harness cluster.
pub const PASSWORD_ROLE: &str = "ncy_password_user";

/// Cluster settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Load pg_stat_statements through shared_preload_libraries.
    pub stat_statements: bool,
    /// Turn on WAL archiving into `<dir>/wal_archive`.
    pub archive: bool,
    /// Trade durability for speed (fsync off): right for tests and benchmarks.
    pub fast: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stat_statements: true,
            archive: true,
            fast: true,
        }
    }
}

/// A running cluster. Dropping it does not stop it: call [`Cluster::stop`].
#[derive(Debug)]
pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
    pub bin: PathBuf,
}

fn pg_bin() -> PathBuf {
    if let Ok(d) = std::env::var("NCY_PG_BIN") {
        return PathBuf::from(d);
    }
    for v in ["17", "16", "15"] {
        let p = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"));
        if p.join("initdb").exists() {
            return p;
        }
    }
    PathBuf::from("/usr/lib/postgresql/15/bin")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A command running `bin` as the `postgres` user when the tests run as root (initdb, the
/// server and PgBouncer refuse root). Server binaries unpacked from npm (scripts/pg.sh) carry
/// their libraries in ../lib: the server, and only the server, is run with them.
pub(crate) fn as_postgres(bin: &Path) -> Command {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    if let Some(lib) = bin.parent().and_then(|b| b.parent()).map(|r| r.join("lib")) {
        if lib.join("libpq.so.5").exists() {
            cmd.env("LD_LIBRARY_PATH", lib);
        }
    }
    cmd
}

/// Gives `path` (recursively) to the `postgres` user when the tests run as root.
pub(crate) fn own_by_postgres(path: &Path) -> Result<(), String> {
    if !is_root() {
        return Ok(());
    }
    let st = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .map_err(|e| e.to_string())?;
    if !st.success() {
        return Err(format!("chown of {} failed", path.display()));
    }
    Ok(())
}

fn run_as_pg(bin: &Path, args: &[&str]) -> std::io::Result<std::process::Output> {
    as_postgres(bin).args(args).env_remove("PGDATA").output()
}

/// Writes `conf` and a free port into `<data>/postgresql.auto.conf` and starts the server,
/// returning once it accepts connections; tries five ports (another process may take one).
fn start_on_free_port(bin: &Path, dir: &Path, data: &Path, conf: &str) -> Result<u16, String> {
    let conf_path = data.join("postgresql.auto.conf");
    let log = dir.join("server.log");
    let mut last_err = String::new();
    for _ in 0..5 {
        let port = free_port();
        std::fs::write(&conf_path, format!("{conf}port = {port}\n")).map_err(|e| e.to_string())?;
        own_by_postgres(&conf_path)?;
        let out = run_as_pg(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-l",
                log.to_str().unwrap_or_default(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map_err(|e| format!("pg_ctl: {e}"))?;
        if out.status.success() {
            return Ok(port);
        }
        last_err = format!(
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    Err(last_err)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("local addr").port()
}

impl Cluster {
    /// Creates and starts a cluster in a new temporary directory.
    pub fn start(opts: Options) -> Result<Cluster, String> {
        let bin = pg_bin();
        if !bin.join("initdb").exists() {
            return Err(format!(
                "PostgreSQL server binaries not found in {}; install postgresql-15 or set NCY_PG_BIN",
                bin.display()
            ));
        }
        let base = std::env::var("NCY_TEST_TMP").unwrap_or_else(|_| "/tmp".into());
        let dir = PathBuf::from(base).join(format!("ncy-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir.join("wal_archive")).map_err(|e| e.to_string())?;
        own_by_postgres(&dir)?;
        let data = dir.join("data");
        let out = run_as_pg(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-N",
            ],
        )
        .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // Trust for the harness, but password auth for one role so tests can prove that a wrong
        // database password gives a clear error, and for every operator's own login (members of
        // ncy_operator), so their SCRAM verifiers are proven by real logins.
        let hba = format!(
            "local all all trust\nlocal replication all trust\nhost all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\nhost all +ncy_operator 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
        );
        std::fs::write(data.join("pg_hba.conf"), hba).map_err(|e| e.to_string())?;
        let mut conf = String::from(
            "listen_addresses = '127.0.0.1'\nmax_connections = 300\nshared_buffers = 128MB\nlog_min_messages = warning\n",
        );
        conf.push_str(&format!("unix_socket_directories = '{}'\n", dir.display()));
        if opts.fast {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        if opts.stat_statements {
            conf.push_str("shared_preload_libraries = 'pg_stat_statements'\n");
        }
        if opts.archive {
            conf.push_str(&format!(
                "wal_level = replica\narchive_mode = on\narchive_command = 'cp %p {}/%f'\n",
                dir.join("wal_archive").display()
            ));
        }
        let port = start_on_free_port(&bin, &dir, &data, &conf)?;
        Ok(Cluster { dir, port, bin })
    }

    /// Starts a hot standby of this cluster: `pg_basebackup -R` over the unix socket into a new
    /// directory, then `pg_ctl start` on another free port (returns once it accepts read-only
    /// connections). Stop it with [`Cluster::stop`] like any cluster.
    pub fn standby(&self) -> Result<Cluster, String> {
        let dir = self
            .dir
            .with_file_name(format!("ncy-pg-standby-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        own_by_postgres(&dir)?;
        let data = dir.join("data");
        let port_s = self.port.to_string();
        let out = run_as_pg(
            &self.bin.join("pg_basebackup"),
            &[
                "-h",
                self.dir.to_str().unwrap_or_default(),
                "-p",
                &port_s,
                "-U",
                "postgres",
                "-D",
                data.to_str().unwrap_or_default(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        )
        .map_err(|e| format!("pg_basebackup: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_basebackup failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // The copy carries the primary's port and socket directory (postgresql.auto.conf, which
        // -R appended primary_conninfo to): the lines written after them win.
        let copied = std::fs::read_to_string(data.join("postgresql.auto.conf"))
            .map_err(|e| e.to_string())?;
        let conf = format!(
            "{copied}\nunix_socket_directories = '{}'\narchive_mode = off\n",
            dir.display()
        );
        let port = start_on_free_port(&self.bin, &dir, &data, &conf)?;
        Ok(Cluster {
            dir,
            port,
            bin: self.bin.clone(),
        })
    }

    /// Superuser URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the server (fast shutdown) and removes the directory.
    pub fn stop(&self) {
        let data = self.dir.join("data");
        let _ = run_as_pg(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static AT_EXIT: Mutex<Vec<Cluster>> = Mutex::new(Vec::new());

extern "C" fn stop_all() {
    if let Ok(mut v) = AT_EXIT.lock() {
        for c in v.drain(..) {
            c.stop();
        }
    }
}

/// Stops `c` when the process exits (test binaries end with `exit()`, which runs this).
pub fn stop_at_exit(c: Cluster) {
    let mut v = AT_EXIT.lock().unwrap_or_else(|p| p.into_inner());
    if v.is_empty() {
        // SAFETY: registering a plain extern "C" function with atexit is sound.
        unsafe {
            libc::atexit(stop_all);
        }
    }
    v.push(c);
}
