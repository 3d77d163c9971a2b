//! Connection parameters for pg_dump / pg_restore, taken from the database URL and handed to
//! the child process through libpq's environment variables: the password never appears on a
//! command line (where `ps` would show it).

use std::fmt;

use ncy_core::{Error, Result};
use percent_encoding::percent_decode_str;

/// libpq variables a child process must not inherit from our own environment (they would
/// override or mix with the URL's parameters).
const CLEARED: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGSERVICE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGREQUIRESSL",
    "PGAPPNAME",
];

/// URL query parameters passed on, and the libpq variable each becomes.
const QUERY_ENV: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("options", "PGOPTIONS"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
];

/// Connection parameters of one PostgreSQL database. `Debug` hides the password.
#[derive(Clone)]
pub struct PgConn {
    database: String,
    /// (libpq variable, value), password included.
    env: Vec<(&'static str, String)>,
}

impl fmt::Debug for PgConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    if *k == "PGPASSWORD" {
                        "***"
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("PgConn")
            .field("database", &self.database)
            .field("env", &shown)
            .finish()
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl PgConn {
    /// Parses `postgres://user:password@host:port/database?sslmode=...` (Prisma-style pool
    /// parameters such as `connection_limit` are ignored).
    pub fn from_url(url: &str) -> Result<PgConn> {
        let u = url::Url::parse(url).map_err(|e| {
            Error::DatabaseUrl(format!(
                "not a valid URL ({e}); expected postgres://user:password@host:5432/database"
            ))
        })?;
        if !matches!(u.scheme(), "postgres" | "postgresql") {
            return Err(Error::DatabaseUrl(format!(
                "it must start with postgres:// or postgresql://, not {}://",
                u.scheme()
            )));
        }
        let mut env: Vec<(&'static str, String)> = Vec::new();
        if let Some(h) = u.host_str().filter(|h| !h.is_empty()) {
            env.push((
                "PGHOST",
                decode(h.trim_start_matches('[').trim_end_matches(']')),
            ));
        }
        if let Some(p) = u.port() {
            env.push(("PGPORT", p.to_string()));
        }
        if !u.username().is_empty() {
            env.push(("PGUSER", decode(u.username())));
        }
        if let Some(p) = u.password() {
            env.push(("PGPASSWORD", decode(p)));
        }
        let mut database = decode(u.path().trim_start_matches('/'));
        for (k, v) in u.query_pairs() {
            if k == "dbname" {
                database = v.into_owned();
            } else if let Some((_, var)) = QUERY_ENV.iter().find(|(q, _)| *q == k) {
                env.retain(|(e, _)| e != var);
                env.push((var, v.into_owned()));
            }
        }
        if database.is_empty() {
            return Err(Error::DatabaseUrl(
                "it names no database: add /<database> after the host".into(),
            ));
        }
        env.push(("PGAPPNAME", "ncy-admin-backup".into()));
        Ok(PgConn { database, env })
    }

    /// The database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The same server, another database.
    pub fn with_database(&self, name: &str) -> PgConn {
        PgConn {
            database: name.to_owned(),
            env: self.env.clone(),
        }
    }

    /// Sets the child's libpq environment (and clears inherited libpq variables).
    pub fn apply(&self, cmd: &mut tokio::process::Command) {
        for v in CLEARED {
            cmd.env_remove(v);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.env("PGDATABASE", &self.database);
    }

    /// `host:port/database`, safe to show.
    pub fn describe(&self) -> String {
        format!(
            "{}:{}/{}",
            self.env_value("PGHOST").unwrap_or("localhost"),
            self.env_value("PGPORT").unwrap_or("5432"),
            self.database
        )
    }

    /// The value of one libpq variable (tests, diagnostics).
    pub fn env_value(&self, var: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_becomes_libpq_environment_without_leaking_the_password() {
        let c = PgConn::from_url(
            "postgres://ad%40min:s%3Acret@db.example:6543/ncy8?sslmode=require&connection_limit=5",
        )
        .unwrap();
        assert_eq!(c.database(), "ncy8");
        assert_eq!(c.env_value("PGHOST"), Some("db.example"));
        assert_eq!(c.env_value("PGPORT"), Some("6543"));
        assert_eq!(c.env_value("PGUSER"), Some("ad@min"));
        assert_eq!(c.env_value("PGPASSWORD"), Some("s:cret"));
        assert_eq!(c.env_value("PGSSLMODE"), Some("require"));
        assert!(!format!("{c:?}").contains("s:cret"));
        assert_eq!(c.with_database("other").database(), "other");
    }

    #[test]
    fn bad_urls_are_refused_with_the_fix() {
        assert!(PgConn::from_url("mysql://x@h/db")
            .unwrap_err()
            .to_string()
            .contains("postgres://"));
        assert!(PgConn::from_url("postgres://x@h")
            .unwrap_err()
            .to_string()
            .contains("no database"));
        assert!(matches!(
            PgConn::from_url("not a url"),
            Err(Error::DatabaseUrl(_))
        ));
    }
}
