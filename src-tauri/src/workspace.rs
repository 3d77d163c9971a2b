//! Where the app keeps things: the embedded local workspace (SQLite in the user's data
//! directory, migrated and seeded on first start) and the PostgreSQL connection profiles
//! (a JSON file in the config directory, never holding a password).

use std::path::{Path, PathBuf};

use ncy_core::db::{ConnectOptions, Db, Target};
use ncy_core::migrate::{self, MigrationSet};
use ncy_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Directories of this app. `NCY_DATA_DIR` (used by tests) overrides both.
#[derive(Debug, Clone)]
pub struct Paths {
    pub data: PathBuf,
    pub config: PathBuf,
}

impl Paths {
    /// From `NCY_DATA_DIR`, else the OS data and config directories.
    pub fn detect() -> Result<Paths> {
        if let Some(d) = std::env::var_os("NCY_DATA_DIR").filter(|d| !d.is_empty()) {
            let d = PathBuf::from(d);
            return Ok(Paths {
                config: d.join("config"),
                data: d,
            });
        }
        let none = || Error::Config("no user data directory: set HOME or NCY_DATA_DIR".into());
        Ok(Paths {
            data: dirs::data_dir().ok_or_else(none)?.join("ncy-admin"),
            config: dirs::config_dir().ok_or_else(none)?.join("ncy-admin"),
        })
    }

    /// The local workspace file (the same one `ncy-admin` uses by default).
    pub fn workspace(&self) -> PathBuf {
        self.data.join("workspace.db")
    }

    /// The connection profiles file.
    pub fn profiles(&self) -> PathBuf {
        self.config.join("profiles.json")
    }
}

/// Opens the local workspace, creating, migrating and seeding it with the development data on
/// first start. Returns the database and whether it was just created.
pub async fn open_local(path: &Path) -> Result<(Db, bool)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let fresh = !path.exists();
    let db = Db::open_sqlite(path)?;
    let set = MigrationSet::embedded(db.dialect())?;
    migrate::up(&db, &set).await?;
    if fresh {
        ncy_core::seed::dev(&db, false).await?;
    }
    Ok((db, fresh))
}

/// Runs a core future on a blocking thread. The migrator's futures are not `Send` for every
/// lifetime (a compiler limitation), which Tauri commands require; this sidesteps it.
pub async fn off_thread<T, F>(f: impl FnOnce() -> F + Send + 'static) -> Result<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T>>,
{
    tauri::async_runtime::spawn_blocking(move || tauri::async_runtime::block_on(f()))
        .await
        .map_err(|e| Error::Config(format!("background task failed: {e}")))?
}

/// [`open_local`] via [`off_thread`].
pub async fn open_local_task(path: PathBuf) -> Result<(Db, bool)> {
    off_thread(move || async move { open_local(&path).await }).await
}

/// [`connect`] via [`off_thread`].
pub async fn connect_task(p: Profile, password: Option<String>) -> Result<Db> {
    off_thread(move || async move { connect(&p, password.as_deref()).await }).await
}

/// A PostgreSQL connection profile (no password: that lives in the keychain or in memory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Profile {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    /// disable | prefer | require | verify-ca | verify-full
    pub sslmode: String,
    /// The CA certificate file that signed the server's certificate (`sslrootcert`), for
    /// verify-ca / verify-full; None: the system CA store.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Through a transaction-mode pooler (PgBouncer, Supavisor): `pgbouncer=true`.
    #[serde(default)]
    pub pooler: bool,
    /// A read replica (hot standby) of this server, reached with the same database, login and
    /// TLS settings: audit and log searches, exports and backups read there.
    #[serde(default)]
    pub replica_host: Option<String>,
    /// The replica's port (default: the primary's).
    #[serde(default)]
    pub replica_port: Option<u16>,
}

const SSLMODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

impl Profile {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() || self.name.len() > 80 {
            return Err(Error::invalid(
                "name",
                "give the profile a name (1 to 80 characters)",
            ));
        }
        if self.host.trim().is_empty() || self.host.contains(['/', ' ', '@']) {
            return Err(Error::invalid(
                "host",
                "give a host name or IP address, e.g. db.example.com",
            ));
        }
        if self.port == 0 {
            return Err(Error::invalid(
                "port",
                "must be between 1 and 65535 (PostgreSQL uses 5432)",
            ));
        }
        if let Some(h) = self.replica_host() {
            if h.contains(['/', ' ', '@']) {
                return Err(Error::invalid(
                    "replica_host",
                    "give the read replica's host name or IP address, or leave it empty",
                ));
            }
        }
        if self.replica_port == Some(0) {
            return Err(Error::invalid(
                "replica_port",
                "must be between 1 and 65535, or empty for the primary's port",
            ));
        }
        if self.database.trim().is_empty() {
            return Err(Error::invalid("database", "give the database name"));
        }
        if self.user.trim().is_empty() {
            return Err(Error::invalid("user", "give the database user"));
        }
        if !SSLMODES.contains(&self.sslmode.as_str()) {
            return Err(Error::invalid(
                "sslmode",
                format!("must be one of {}", SSLMODES.join(", ")),
            ));
        }
        if let Some(ca) = self.ca_file.as_deref().filter(|c| !c.trim().is_empty()) {
            if !Path::new(ca.trim()).is_file() {
                return Err(Error::invalid(
                    "ca_file",
                    format!("{ca} is not a readable file: give the path of the CA certificate (PEM) that signed the server's certificate, or leave it empty for the system store"),
                ));
            }
            if !matches!(
                self.sslmode.as_str(),
                "require" | "verify-ca" | "verify-full"
            ) {
                return Err(Error::invalid(
                    "ca_file",
                    format!("a CA file is used to verify the server, which sslmode={} does not do: choose verify-full", self.sslmode),
                ));
            }
        }
        Ok(())
    }

    /// The keychain account holding this profile's password.
    pub fn secret_account(&self) -> String {
        format!(
            "db-password:{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }

    /// The read replica's host, when the profile names one.
    pub fn replica_host(&self) -> Option<&str> {
        self.replica_host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
    }

    /// The connection target with the password filled in.
    pub fn target(&self, password: Option<&str>) -> Target {
        self.target_at(self.host.trim(), self.port, password)
    }

    /// The read replica's target (same database, login and TLS settings), if any.
    pub fn replica_target(&self, password: Option<&str>) -> Option<Target> {
        let host = self.replica_host()?;
        Some(self.target_at(host, self.replica_port.unwrap_or(self.port), password))
    }

    fn target_at(&self, host: &str, port: u16, password: Option<&str>) -> Target {
        let mut u = url::Url::parse("postgres://localhost/").expect("static URL parses");
        let _ = u.set_host(Some(host));
        let _ = u.set_port(Some(port));
        u.set_path(self.database.trim());
        let _ = u.set_username(self.user.trim());
        if let Some(p) = password.filter(|p| !p.is_empty()) {
            let _ = u.set_password(Some(p));
        }
        u.query_pairs_mut().append_pair("sslmode", &self.sslmode);
        if let Some(ca) = self
            .ca_file
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            u.query_pairs_mut().append_pair("sslrootcert", ca);
        }
        if self.pooler {
            u.query_pairs_mut().append_pair("pgbouncer", "true");
        }
        Target::Postgres(u.to_string())
    }
}

/// Reads one of the app's JSON files (`what` names it in errors); the default when it does
/// not exist yet.
pub fn read_json<T: serde::de::DeserializeOwned + Default>(path: &Path, what: &str) -> Result<T> {
    match std::fs::read_to_string(path) {
        Ok(s) => serde_json::from_str(&s).map_err(|e| {
            Error::Config(format!(
                "{} is not a valid {what} file ({e}); fix or delete it",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// Writes one of the app's JSON files atomically (a temp file, then rename).
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T, what: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Config(format!("cannot encode the {what}: {e}")))?;
    std::fs::write(&tmp, body).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Loads the saved profiles (none when the file does not exist yet).
pub fn load_profiles(path: &Path) -> Result<Vec<Profile>> {
    read_json(path, "profiles")
}

/// The saved profile called `name`.
pub fn find_profile(path: &Path, name: &str) -> Result<Profile> {
    load_profiles(path)?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::not_found("connection profile", name))
}

/// Saves the profiles atomically (write to a temp file, then rename).
pub fn save_profiles(path: &Path, profiles: &[Profile]) -> Result<()> {
    write_json(path, profiles, "profiles")
}

/// Connects to the profile's read replica, when it names one (its schema is the primary's).
pub async fn connect_replica(p: &Profile, password: Option<&str>) -> Result<Option<(Db, String)>> {
    let Some(Target::Postgres(url)) = p.replica_target(password) else {
        return Ok(None);
    };
    let opts = ConnectOptions {
        max_connections: 3,
        connect_timeout: std::time::Duration::from_secs(5),
        application_name: "ncy-desktop (reads)".into(),
        ..ConnectOptions::default()
    };
    let db = Db::connect(&Target::Postgres(url.clone()), &opts)
        .await
        .map_err(|e| {
            Error::Config(format!(
                "the read replica {}: {e}",
                p.replica_host().unwrap_or_default()
            ))
        })?;
    Ok(Some((db, url)))
}

/// [`connect_replica`] via [`off_thread`].
pub async fn connect_replica_task(
    p: Profile,
    password: Option<String>,
) -> Result<Option<(Db, String)>> {
    off_thread(move || async move { connect_replica(&p, password.as_deref()).await }).await
}

/// Connects to a profile (short timeout) and checks the schema is current.
pub async fn connect(p: &Profile, password: Option<&str>) -> Result<Db> {
    p.validate()?;
    let opts = ConnectOptions {
        max_connections: 5,
        connect_timeout: std::time::Duration::from_secs(5),
        application_name: "ncy-desktop".into(),
        ..ConnectOptions::default()
    };
    let db = Db::connect(&p.target(password), &opts).await?;
    let set = MigrationSet::embedded(db.dialect())?;
    migrate::ensure_current(&db, &set).await?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            name: "prod".into(),
            host: "db.example.com".into(),
            port: 5432,
            database: "ncy".into(),
            user: "admin".into(),
            sslmode: "require".into(),
            ca_file: None,
            pooler: false,
            replica_host: None,
            replica_port: None,
        }
    }

    #[test]
    fn profiles_round_trip_without_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg").join("profiles.json");
        assert!(load_profiles(&path).unwrap().is_empty());
        save_profiles(&path, &[profile()]).unwrap();
        assert_eq!(load_profiles(&path).unwrap(), vec![profile()]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("password"), "{text}");
    }

    #[test]
    fn bad_profiles_name_the_field() {
        let mut p = profile();
        p.sslmode = "maybe".into();
        assert!(p.validate().unwrap_err().to_string().contains("sslmode"));
        let mut p = profile();
        p.port = 0;
        assert!(p.validate().unwrap_err().to_string().contains("port"));
    }

    #[test]
    fn targets_escape_passwords() {
        match profile().target(Some("p@ss/word")) {
            Target::Postgres(u) => {
                assert!(
                    u.starts_with("postgres://admin:p%40ss%2Fword@db.example.com:5432/ncy"),
                    "{u}"
                );
                assert!(u.ends_with("sslmode=require"), "{u}");
            }
            Target::Local(_) => panic!("expected postgres"),
        }
    }

    #[test]
    fn a_ca_file_and_a_pooler_reach_the_url_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let mut p = profile();
        p.sslmode = "verify-full".into();
        p.ca_file = Some(ca.display().to_string());
        p.pooler = true;
        p.validate().unwrap();
        match p.target(None) {
            Target::Postgres(u) => {
                assert!(u.contains("sslmode=verify-full"), "{u}");
                assert!(u.contains("sslrootcert="), "{u}");
                assert!(u.ends_with("pgbouncer=true"), "{u}");
            }
            Target::Local(_) => panic!("expected postgres"),
        }
        p.ca_file = Some(dir.path().join("missing.pem").display().to_string());
        assert!(p.validate().unwrap_err().to_string().contains("ca_file"));
        p.ca_file = Some(ca.display().to_string());
        p.sslmode = "prefer".into();
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("verify-full"));
        // Profiles saved before these fields existed still load.
        let old: Profile = serde_json::from_str(
            r#"{"name":"a","host":"h","port":5432,"database":"d","user":"u","sslmode":"prefer"}"#,
        )
        .unwrap();
        assert!(!old.pooler && old.ca_file.is_none() && old.replica_host.is_none());
    }

    #[test]
    fn a_read_replica_shares_the_login_and_tls_settings() {
        let mut p = profile();
        assert!(p.replica_target(None).is_none());
        p.replica_host = Some("  ".into());
        assert!(p.replica_target(None).is_none(), "blank means none");
        p.replica_host = Some("replica.example.com".into());
        match p.replica_target(Some("pw")) {
            Some(Target::Postgres(u)) => assert!(
                u.starts_with("postgres://admin:pw@replica.example.com:5432/ncy?sslmode=require"),
                "{u}"
            ),
            other => panic!("expected a replica URL, got {other:?}"),
        }
        p.replica_port = Some(6432);
        match p.replica_target(None) {
            Some(Target::Postgres(u)) => assert!(u.contains("replica.example.com:6432"), "{u}"),
            other => panic!("expected a replica URL, got {other:?}"),
        }
        p.replica_port = Some(0);
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("replica_port"));
        p.replica_port = None;
        p.replica_host = Some("bad host".into());
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("replica_host"));
    }

    #[tokio::test]
    async fn first_start_creates_and_seeds_the_local_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("workspace.db");
        let (_db, fresh) = open_local(&path).await.unwrap();
        assert!(fresh);
        let (db, fresh) = open_local(&path).await.unwrap();
        assert!(!fresh);
        let r = ncy_core::auth::login(
            &db,
            "admin@ncy-8.com",
            "admin123",
            ncy_core::auth::Client::Desktop,
            &ncy_core::auth::LockoutPolicy::default(),
        )
        .await
        .unwrap();
        assert_eq!(r.operator.email, "admin@ncy-8.com");
    }
}
