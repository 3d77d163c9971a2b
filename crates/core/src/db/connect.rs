//! Resolving and opening a store: `DATABASE_URL` (PostgreSQL) or a local SQLite path.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::ConnectOptions as _;

use super::{pg, tls, Db, PgDb, Protocol};
use crate::error::{Error, Result};

/// Where the data lives.
#[derive(Clone)]
pub enum Target {
    /// A PostgreSQL URL (`postgres://user:pass@host:port/db?sslmode=...`).
    Postgres(String),
    /// A local SQLite workspace file.
    Local(PathBuf),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Postgres(u) => write!(f, "Postgres({})", redact_url(u)),
            Target::Local(p) => write!(f, "Local({})", p.display()),
        }
    }
}

impl Target {
    /// A description safe to print (password removed).
    pub fn describe(&self) -> String {
        match self {
            Target::Postgres(u) => redact_url(u),
            Target::Local(p) => format!("local workspace {}", p.display()),
        }
    }
}

/// Pool settings. Defaults follow the platform: 20 connections, 20 s acquire timeout
/// (`connection_limit=20&pool_timeout=20`); both can also be given in the URL that way.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Timeout of the first connection attempt (fail fast when the server is down).
    pub connect_timeout: Duration,
    /// `application_name` reported to the server.
    pub application_name: String,
    /// Through a transaction-mode pooler (`pgbouncer=true` in the URL): see [`Protocol::Simple`].
    pub pooler: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: 20,
            acquire_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            application_name: "ncy-admin".into(),
            pooler: false,
        }
    }
}

/// Removes the password from a database URL for display.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparseable database URL>".into(),
    }
}

/// Splits the platform's Prisma-style pool parameters off the URL.
fn split_pool_params(url: &str, opts: &ConnectOptions) -> Result<(String, ConnectOptions)> {
    let mut u = url::Url::parse(url).map_err(|e| {
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
    let mut o = opts.clone();
    let mut kept = Vec::new();
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "connection_limit" => {
                o.max_connections = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::DatabaseUrl(format!("connection_limit={v} is not a positive number"))
                })?
            }
            "pool_timeout" => {
                let secs: u64 = v.parse().map_err(|_| {
                    Error::DatabaseUrl(format!("pool_timeout={v} is not a number of seconds"))
                })?;
                o.acquire_timeout = Duration::from_secs(secs.max(1));
            }
            // Prisma's flag for PgBouncer in transaction mode; Supavisor URLs carry it too.
            "pgbouncer" => {
                o.pooler = match v.as_ref() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(Error::DatabaseUrl(format!(
                            "pgbouncer={v} must be true or false"
                        )))
                    }
                }
            }
            "schema" | "socket_timeout" | "statement_cache_size" => {}
            _ => kept.push((k.into_owned(), v.into_owned())),
        }
    }
    if kept.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((u.to_string(), o))
}

/// Connects: PostgreSQL is tried once directly (so a dead server or a wrong password is
/// reported at once, not after the pool's retry window), then a lazy pool is built. A pooler
/// that refuses sqlx's `extra_float_digits` startup parameter (PgBouncer's default) is taken as
/// a transaction-mode pooler even when the URL does not say `pgbouncer=true`.
pub(super) async fn connect(target: &Target, opts: &ConnectOptions) -> Result<Db> {
    match target {
        Target::Local(path) => Db::open_sqlite(path),
        Target::Postgres(url) => {
            let shown = redact_url(url);
            let host = url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            // Adapters show tls::weak_tls_warning themselves (stderr, a toast).
            let url = tls::with_default_sslmode(url);
            let (url, mut o) = split_pool_params(&url, opts)?;
            let base = PgConnectOptions::from_str(&url)
                .map_err(|e| Error::DatabaseUrl(format!("{shown} is invalid: {e}")))?
                .application_name(&o.application_name)
                .log_statements(tracing::log::LevelFilter::Trace);
            let pg = match try_connect(&pooled(base.clone(), o.pooler), &o).await {
                Ok(()) => pooled(base, o.pooler),
                Err(e) if !o.pooler && refused_startup_parameter(&e) => {
                    tracing::info!(target = %shown, "a connection pooler refused a startup parameter; using the pooler-safe protocol");
                    o.pooler = true;
                    let pg = pooled(base, true);
                    try_connect(&pg, &o)
                        .await
                        .map_err(|e| connect_err(e, &shown))?;
                    pg
                }
                Err(e) => return Err(tls::map_tls(connect_err(e, &shown), &host)),
            };
            let pool = PgPoolOptions::new()
                .max_connections(o.max_connections)
                .acquire_timeout(o.acquire_timeout)
                .connect_lazy_with(pg);
            let proto = if o.pooler {
                Protocol::Simple
            } else {
                Protocol::Prepared
            };
            Ok(PgDb::new(pool, proto).into())
        }
    }
}

/// Connect options for a pooler: no startup parameter PgBouncer refuses, no statement cache.
fn pooled(pg: PgConnectOptions, pooler: bool) -> PgConnectOptions {
    if pooler {
        pg.extra_float_digits(None).statement_cache_capacity(0)
    } else {
        pg
    }
}

enum Attempt {
    Timeout(u64),
    Failed(sqlx::Error),
}

/// One direct connection attempt, closed at once.
async fn try_connect(
    pg: &PgConnectOptions,
    o: &ConnectOptions,
) -> std::result::Result<(), Attempt> {
    let conn = tokio::time::timeout(o.connect_timeout, sqlx::PgConnection::connect_with(pg))
        .await
        .map_err(|_| Attempt::Timeout(o.connect_timeout.as_secs()))?
        .map_err(Attempt::Failed)?;
    use sqlx::Connection as _;
    let _ = conn.close().await;
    Ok(())
}

/// PgBouncer's answer to a startup parameter it does not know (`extra_float_digits`).
fn refused_startup_parameter(a: &Attempt) -> bool {
    match a {
        Attempt::Failed(sqlx::Error::Database(d)) => {
            d.message().contains("unsupported startup parameter")
        }
        _ => false,
    }
}

fn connect_err(a: Attempt, shown: &str) -> Error {
    match a {
        Attempt::Timeout(secs) => Error::ServerUnreachable {
            target: shown.to_owned(),
            reason: format!("no answer within {secs} s"),
            source: None,
        },
        Attempt::Failed(e) => with_target(pg::map_err(e), shown),
    }
}

fn with_target(e: Error, shown: &str) -> Error {
    match e {
        Error::ServerUnreachable { reason, source, .. } => Error::ServerUnreachable {
            target: shown.to_owned(),
            reason,
            source,
        },
        Error::DatabaseAuth { reason, source, .. } => Error::DatabaseAuth {
            target: shown.to_owned(),
            reason,
            source,
        },
        Error::Database { message, .. } if message.contains("3D000") => Error::DatabaseUrl(
            format!("{message} at {shown}; create the database first (createdb) or fix its name"),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_params_come_from_the_url() {
        let (u, o) = split_pool_params(
            "postgres://a:b@h:5432/db?connection_limit=5&pool_timeout=3&sslmode=require",
            &ConnectOptions::default(),
        )
        .unwrap();
        assert_eq!(o.max_connections, 5);
        assert_eq!(o.acquire_timeout, Duration::from_secs(3));
        assert_eq!(u, "postgres://a:b@h:5432/db?sslmode=require");
        let (_, d) = split_pool_params("postgres://h/db", &ConnectOptions::default()).unwrap();
        assert_eq!(d.max_connections, 20);
        assert_eq!(d.acquire_timeout, Duration::from_secs(20));
    }

    #[test]
    fn bad_urls_are_database_url_errors_that_name_no_flag() {
        for url in [
            "mysql://h/db",
            "not a url",
            "postgres://h/db?pgbouncer=maybe",
        ] {
            match split_pool_params(url, &ConnectOptions::default()) {
                Err(e @ Error::DatabaseUrl(_)) => {
                    assert_eq!(e.code(), "config");
                    let m = e.to_string();
                    assert!(!m.contains("DATABASE_URL") && !m.contains("--"), "{m}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn redaction_hides_the_password() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert!(!redact_url("postgres://u:secret@h/db").contains("secret"));
    }
}
