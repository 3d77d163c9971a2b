//! Per-invocation context: which store to use, the connection, the operator's session.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use ncy_core::auth::{self, Client, Operator};
use ncy_core::db::{ConnectOptions, Db, Target};
use ncy_core::secrets::Secret;
use ncy_core::Error;

/// Options every command accepts.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// PostgreSQL URL (default: $DATABASE_URL; without either, the local workspace).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Use a local SQLite workspace file instead of PostgreSQL.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        conflicts_with = "database_url"
    )]
    pub local: Option<PathBuf>,
    /// A read replica (hot standby) of the --database-url server: audit and log searches,
    /// audit and GDPR exports and `backup create` read there; writes go to the primary.
    #[arg(long, global = true, value_name = "URL", env = "DATABASE_REPLICA_URL")]
    pub replica_url: Option<String>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    /// Work on this server profile's sync cache only; never touch the network
    /// (see `ncy-admin sync init`).
    #[arg(long, global = true, conflicts_with = "local")]
    pub offline: bool,
}

/// The default local workspace: `<data dir>/ncy-admin/workspace.db`.
pub fn default_workspace() -> Result<PathBuf> {
    match ncy_core::app::Paths::detect() {
        Ok(p) => Ok(p.workspace()),
        Err(Error::Config(m)) => Err(Error::Config(format!("{m}, or pass --local PATH")).into()),
        Err(e) => Err(e.into()),
    }
}

pub struct Ctx {
    pub global: Global,
    db: Option<Db>,
    replica: Option<Db>,
    cache: Option<ncy_sync::Cache>,
}

impl Ctx {
    pub fn new(global: Global) -> Self {
        Ctx {
            global,
            db: None,
            replica: None,
            cache: None,
        }
    }

    /// The PostgreSQL URL of this profile (--database-url or $DATABASE_URL), also with --offline.
    pub fn server_url(&self) -> Result<String> {
        if let Some(u) = &self.global.database_url {
            return Ok(u.clone());
        }
        match std::env::var("DATABASE_URL") {
            Ok(u) if !u.trim().is_empty() => Ok(u),
            _ => Err(Error::Config(
                "this needs the PostgreSQL server profile: pass --database-url URL or set DATABASE_URL".into(),
            )
            .into()),
        }
    }

    /// This profile's sync cache (opened with its key from the OS keychain).
    pub async fn sync_cache(&mut self) -> Result<ncy_sync::Cache> {
        if let Some(c) = &self.cache {
            return Ok(c.clone());
        }
        let c = ncy_sync::Cache::open_profile(&self.server_url()?).await?;
        self.cache = Some(c.clone());
        Ok(c)
    }

    /// True for `--json`.
    pub fn json(&self) -> bool {
        self.global.json
    }

    /// Resolves the target: --database-url, --local, $DATABASE_URL, default workspace.
    pub fn target(&self) -> Result<Target> {
        if self.global.offline {
            let dir = ncy_sync::cache::cache_dir()?;
            return Ok(Target::Local(ncy_sync::cache::cache_path(
                &dir,
                &self.server_url()?,
            )));
        }
        if let Some(u) = &self.global.database_url {
            return Ok(Target::Postgres(u.clone()));
        }
        if let Some(p) = &self.global.local {
            return Ok(Target::Local(p.clone()));
        }
        if let Ok(u) = std::env::var("DATABASE_URL") {
            if !u.trim().is_empty() {
                return Ok(Target::Postgres(u));
            }
        }
        Ok(Target::Local(default_workspace()?))
    }

    /// Connects without touching the schema (for `migrate`).
    pub async fn raw_db(&mut self) -> Result<Db> {
        if let Some(db) = &self.db {
            return Ok(db.clone());
        }
        if self.global.offline {
            let db = self.sync_cache().await?.db;
            self.db = Some(db.clone());
            return Ok(db);
        }
        let target = self.target()?;
        if let Target::Postgres(u) = &target {
            if let Some(w) = ncy_core::db::tls::weak_tls_warning(u) {
                eprintln!("warning: {w}");
            }
        }
        let db = match Db::connect(&target, &ConnectOptions::default()).await {
            Err(e @ Error::ServerUnreachable { .. }) => {
                return Err(ncy_sync::cache::offline_hint(&target, e).into())
            }
            r => r?,
        };
        self.db = Some(db.clone());
        Ok(db)
    }

    /// Connects and checks the schema: a local workspace is migrated on the spot; a
    /// PostgreSQL database must be current (`ncy-admin migrate up`).
    pub async fn db(&mut self) -> Result<Db> {
        let fresh = self.db.is_none();
        let db = self.raw_db().await?;
        if fresh {
            ncy_core::app::ready(&db).await?;
        }
        Ok(db)
    }

    /// The keychain entry holding this target's session token.
    pub fn session_secret(&self) -> Result<Secret> {
        let t = self.target()?;
        let key = match &t {
            Target::Postgres(u) => format!("session:{}", ncy_core::db::redact_url(u)),
            Target::Local(p) => format!("session:local:{}", p.display()),
        };
        Ok(Secret::new(key))
    }

    /// The logged-in operator (from the session token in the keychain).
    pub async fn operator(&mut self) -> Result<Operator> {
        if self.global.offline {
            return Ok(self.sync_cache().await?.offline_operator().await?);
        }
        let db = self.db().await?;
        // An operator's own database login is their identity: no session token needed.
        if let Some(op) = auth::identify(&db, Client::Cli).await? {
            return Ok(op);
        }
        let token = self.session_secret()?.get()?.ok_or_else(|| {
            Error::Unauthenticated(format!(
                "no session for {}",
                self.target().map(|t| t.describe()).unwrap_or_default()
            ))
        })?;
        Ok(auth::authenticate(&db, &token, Client::Cli).await?)
    }

    /// The read replica's URL, when one is configured and this is not an offline run.
    pub fn replica_url(&self) -> Option<String> {
        if self.global.offline || !matches!(self.target(), Ok(Target::Postgres(_))) {
            return None;
        }
        self.global
            .replica_url
            .clone()
            .filter(|u| !u.trim().is_empty())
    }

    /// The store heavy reads go to: the read replica when one is configured (its schema is the
    /// primary's, replayed), else [`Ctx::db`]. Replica reads may lag by the standby's replay
    /// delay.
    pub async fn read_db(&mut self) -> Result<Db> {
        let Some(url) = self.replica_url() else {
            return self.db().await;
        };
        if let Some(r) = &self.replica {
            return Ok(r.clone());
        }
        if let Some(w) = ncy_core::db::tls::weak_tls_warning(&url) {
            eprintln!("warning: {w}");
        }
        let r = Db::connect(&Target::Postgres(url), &ConnectOptions::default()).await?;
        self.replica = Some(r.clone());
        Ok(r)
    }

    pub async fn close(&mut self) {
        if let Some(db) = self.db.take() {
            db.close().await;
        }
        if let Some(db) = self.replica.take() {
            db.close().await;
        }
    }
}
