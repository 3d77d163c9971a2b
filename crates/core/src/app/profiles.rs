//! Saved PostgreSQL connection profiles (a JSON file that never holds a password) and where
//! each one's password is: the OS keychain, or this session's memory when no keychain runs.
//! Renaming a profile or changing its login moves the stored password with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::files::{read_json, write_json};
use crate::db::Target;
use crate::error::{Error, Result};
use crate::secrets::Secret;

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

/// Where a profile's password is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum PasswordSource {
    /// The OS keychain.
    Keychain,
    /// This session's memory only (no keychain runs, or the operator chose so).
    Session,
    /// Nowhere: the connection asks the server without one.
    None,
}

/// A profile and where its password is.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProfileView {
    pub profile: Profile,
    pub password: PasswordSource,
}

/// Passwords kept in memory for this session only (profile name → password).
#[derive(Debug, Default)]
pub struct SessionPasswords(Mutex<HashMap<String, String>>);

impl SessionPasswords {
    fn get(&self, name: &str) -> Option<String> {
        self.0.lock().ok().and_then(|m| m.get(name).cloned())
    }

    fn set(&self, name: &str, password: String) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(name.to_owned(), password);
        }
    }

    fn rename(&self, from: &str, to: &str) {
        if let Ok(mut m) = self.0.lock() {
            if let Some(pw) = m.remove(from) {
                m.insert(to.to_owned(), pw);
            }
        }
    }

    fn remove(&self, name: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(name);
        }
    }
}

/// The saved profiles (at [`super::Paths::profiles`]) and their passwords.
pub struct Profiles<'a> {
    path: PathBuf,
    session: &'a SessionPasswords,
}

impl<'a> Profiles<'a> {
    /// The profiles file at `path`, with this session's in-memory passwords.
    pub fn new(path: impl Into<PathBuf>, session: &'a SessionPasswords) -> Self {
        Profiles {
            path: path.into(),
            session,
        }
    }

    /// Every saved profile, by name (none when the file does not exist yet).
    pub fn list(&self) -> Result<Vec<Profile>> {
        read_json(&self.path, "profiles")
    }

    /// Every saved profile with where its password is.
    pub fn views(&self) -> Result<Vec<ProfileView>> {
        Ok(self.list()?.into_iter().map(|p| self.view(p)).collect())
    }

    /// The saved profile called `name`.
    pub fn find(&self, name: &str) -> Result<Profile> {
        self.list()?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::not_found("connection profile", name))
    }

    /// The profile's password (this session's first, then the keychain's) and where it was.
    pub fn password(&self, p: &Profile) -> (Option<String>, PasswordSource) {
        if let Some(pw) = self.session.get(&p.name) {
            return (Some(pw), PasswordSource::Session);
        }
        match Secret::new(p.secret_account()).get() {
            Ok(Some(pw)) => (Some(pw), PasswordSource::Keychain),
            _ => (None, PasswordSource::None),
        }
    }

    /// `p` with where its password is.
    pub fn view(&self, p: Profile) -> ProfileView {
        let (_, password) = self.password(&p);
        ProfileView {
            profile: p,
            password,
        }
    }

    /// Saves a profile: a new one (`previous` None), or an edit of the profile named
    /// `previous` (which may rename it). A `password` goes to the keychain, or to this
    /// session's memory when `session_only`; left empty, an edit keeps the stored password,
    /// which moves with the profile when its keychain account (login, host, port, database)
    /// changes.
    pub fn save(
        &self,
        profile: Profile,
        password: Option<&str>,
        session_only: bool,
        previous: Option<&str>,
    ) -> Result<ProfileView> {
        profile.validate()?;
        let mut list = self.list()?;
        let previous = previous.filter(|n| !n.is_empty());
        if previous != Some(profile.name.as_str()) && list.iter().any(|p| p.name == profile.name) {
            return Err(Error::conflict(
                "name",
                format!(
                    "a profile named {} exists already: edit it, or choose another name",
                    profile.name
                ),
            ));
        }
        let password = password.filter(|p| !p.is_empty());
        if let Some(old) = previous.and_then(|n| list.iter().find(|p| p.name == n)) {
            let (from, to) = (old.secret_account(), profile.secret_account());
            if from != to {
                let old_secret = Secret::new(from);
                if password.is_none() {
                    if let Some(pw) = old_secret.get()? {
                        Secret::new(to).set_keychain(&pw)?;
                    }
                }
                let _ = old_secret.delete();
            }
            if old.name != profile.name {
                self.session.rename(&old.name, &profile.name);
            }
        }
        match password {
            Some(pw) if session_only => self.session.set(&profile.name, pw.to_owned()),
            Some(pw) => Secret::new(profile.secret_account()).set_keychain(pw)?,
            None => {}
        }
        list.retain(|p| p.name != profile.name && Some(p.name.as_str()) != previous);
        list.push(profile.clone());
        list.sort_by(|a, b| a.name.cmp(&b.name));
        write_json(&self.path, &list, "profiles")?;
        Ok(self.view(profile))
    }

    /// Removes a profile and its stored password.
    pub fn delete(&self, name: &str) -> Result<()> {
        let mut list = self.list()?;
        if let Some(p) = list.iter().find(|p| p.name == name) {
            let _ = Secret::new(p.secret_account()).delete();
        }
        self.session.remove(name);
        list.retain(|p| p.name != name);
        write_json(&self.path, &list, "profiles")
    }
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
        let session = SessionPasswords::default();
        let profiles = Profiles::new(&path, &session);
        assert!(profiles.list().unwrap().is_empty());
        let v = profiles.save(profile(), Some("pw"), true, None).unwrap();
        assert_eq!(v.password, PasswordSource::Session);
        assert_eq!(profiles.list().unwrap(), vec![profile()]);
        let mut renamed = profile();
        renamed.name = "production".into();
        let v = profiles.save(renamed, None, false, Some("prod")).unwrap();
        assert_eq!(
            v.password,
            PasswordSource::Session,
            "the password follows a rename"
        );
        assert_eq!(profiles.find("production").unwrap().host, "db.example.com");
        assert!(profiles.find("prod").is_err());
        let mut dup = profile();
        dup.name = "production".into();
        let e = profiles.save(dup, None, false, None).unwrap_err();
        assert!(e.to_string().contains("exists already"), "{e}");
        profiles.delete("production").unwrap();
        assert!(profiles.list().unwrap().is_empty());
        profiles.save(profile(), None, false, None).unwrap();
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
}
