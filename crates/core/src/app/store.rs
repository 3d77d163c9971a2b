//! Opening a store the way every front end does: the local workspace (created, migrated and
//! seeded on first start) or a saved profile's server (its schema checked current).

use std::path::Path;
use std::time::Duration;

use super::Profile;
use crate::db::{ConnectOptions, Db, Target};
use crate::error::{Error, Result};
use crate::migrate::{self, MigrationSet};

/// Opens the local workspace at `path`, creating, migrating and seeding it with the
/// development data on first start. Returns the store and whether it was just created.
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
        crate::seed::dev(&db, false).await?;
    }
    Ok((db, fresh))
}

/// Makes a store ready for work: a local workspace is migrated on the spot; a PostgreSQL
/// database must be current already (its migrations are the owner's to run).
pub async fn ready(db: &Db) -> Result<()> {
    let set = MigrationSet::embedded(db.dialect())?;
    match db.dialect() {
        crate::db::Dialect::Sqlite => migrate::up(db, &set).await.map(|_| ()),
        crate::db::Dialect::Postgres => migrate::ensure_current(db, &set).await,
    }
}

/// Connects to a profile's server (5 s timeout, `application_name` = `app`) and checks its
/// schema is current.
pub async fn connect_profile(p: &Profile, password: Option<&str>, app: &str) -> Result<Db> {
    p.validate()?;
    let opts = ConnectOptions {
        max_connections: 5,
        connect_timeout: Duration::from_secs(5),
        application_name: app.into(),
        ..ConnectOptions::default()
    };
    let db = Db::connect(&p.target(password), &opts).await?;
    ready(&db).await?;
    Ok(db)
}

/// Connects to the profile's read replica, when it names one (its schema is the primary's).
/// Returns the store and its URL (which holds the password: keep it in memory).
pub async fn connect_replica(
    p: &Profile,
    password: Option<&str>,
    app: &str,
) -> Result<Option<(Db, String)>> {
    let Some(Target::Postgres(url)) = p.replica_target(password) else {
        return Ok(None);
    };
    let opts = ConnectOptions {
        max_connections: 3,
        connect_timeout: Duration::from_secs(5),
        application_name: format!("{app} (reads)"),
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

/// Connects once to a profile's server (and its read replica, when it names one) and says
/// what was reached.
pub async fn check_profile(p: &Profile, password: Option<&str>, app: &str) -> Result<String> {
    let db = connect_profile(p, password, app).await?;
    db.close().await;
    let replica = match connect_replica(p, password, app).await? {
        Some((r, _)) => {
            r.close().await;
            format!(
                "; read replica {} reached",
                p.replica_host().unwrap_or_default()
            )
        }
        None => String::new(),
    };
    Ok(format!(
        "connected to {} as {}: the schema is current{replica}",
        p.host, p.user
    ))
}

#[cfg(test)]
mod tests {
    use super::open_local;

    #[tokio::test]
    async fn first_start_creates_and_seeds_the_local_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("workspace.db");
        let (_db, fresh) = open_local(&path).await.unwrap();
        assert!(fresh);
        let (db, fresh) = open_local(&path).await.unwrap();
        assert!(!fresh);
        let r = crate::auth::login(
            &db,
            "admin@ncy-8.com",
            "admin123",
            crate::auth::Client::Desktop,
            &crate::auth::LockoutPolicy::default(),
        )
        .await
        .unwrap();
        assert_eq!(r.operator.email, "admin@ncy-8.com");
    }

    /// The window runs these on a multi-threaded runtime: their futures must be `Send` (for
    /// every lifetime, which the migrator's once were not).
    #[allow(dead_code)]
    fn futures_are_send(p: &super::Profile, path: &std::path::Path) {
        fn is_send<T: Send>(_: T) {}
        is_send(open_local(path));
        is_send(super::connect_profile(p, None, "x"));
        is_send(super::connect_replica(p, None, "x"));
    }
}
