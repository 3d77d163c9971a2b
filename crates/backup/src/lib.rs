//! Backups of the NCY_8 platform database and of the local SQLite workspace, each proven
//! restorable.
//!
//! One handle, [`Backups`], serves both stores; the CLI (`ncy-admin backup ...`) and the desktop
//! Backups screen call the same functions:
//!
//! - [`Backups::create`]: PostgreSQL: `pg_dump --format=custom` inside an exported
//!   REPEATABLE READ snapshot (so the per-table row counts stored with the backup describe
//!   exactly what was dumped), streamed through SHA-256 into a temporary file renamed only when
//!   complete, then a `BackupSnapshot` row. SQLite: the online backup API.
//! - [`Backups::verify`]: checksum, `pg_restore --list`, a full test restore into a scratch
//!   database (dropped afterwards) and a per-table count comparison; the result is recorded.
//!   Extensions the role cannot create there (a non-superuser owner on a managed PostgreSQL)
//!   are left out and listed in `skipped_extensions`; the tables are still proven.
//! - [`Backups::list`], [`Backups::prune`] (never deletes the newest verified backup),
//!   [`Backups::restore`] (into a new database; replacing an existing one needs `force`).
//! - [`pitr`]: point-in-time recovery readiness and a PostgreSQL 12+ recovery script.
//!
//! Every operation checks its permission first (`backups.read`, `backups.run`,
//! `backups.restore`) and writes its AuditLog row in the same transaction as its change.
//! Results are `serde::Serialize`. Long work reports [`Progress`] and honours a cancel flag
//! through [`Work`] (core's one progress/cancel contract). All futures are `Send` (usable from Tauri commands).
//!
//! ```no_run
//! # async fn demo(db: ncy_core::db::Db, target: ncy_core::db::Target, op: ncy_core::auth::Operator) -> ncy_core::Result<()> {
//! use std::sync::atomic::AtomicBool;
//! use ncy_backup::{BackupRef, Backups, CreateOptions, Progress, Work};
//!
//! let backups = Backups::new(db, &target)?; // .with_sqlite_key(k) for an encrypted workspace
//! let cancel = AtomicBool::new(false);      // set it from the UI's Cancel button
//! let on_progress = |p: Progress| println!("{} {}/{} ({} bytes)", p.phase, p.done, p.total, p.bytes);
//! let hooks = Work::new(&on_progress, Some(&cancel));
//! let snap = backups.create(&op, &CreateOptions::new("/var/backups/ncy8"), hooks).await?;
//! let check = backups.verify(&op, &BackupRef::Id(snap.id), hooks).await?;
//! assert!(check.ok, "{:?}", check.problems);
//! let page = backups.list(&op, None, 50).await?; // page.last_verified_age_secs for the header
//! # Ok(()) }
//! ```

// `ncy_core::params!` builds a Vec passed as a slice.
#![allow(clippy::useless_vec)]

mod counts;
pub mod crypt;
mod extensions;
mod folder;
mod local;
mod pg;
mod pg_verify;
pub mod pgconn;
pub mod pitr;
pub mod prune;
mod snapshot;
mod stream;
pub mod tables;
pub mod tools;
mod types;

use std::path::{Path, PathBuf};

use ncy_core::auth::{perm, Operator};
use ncy_core::db::{Db, Target};
use ncy_core::{Error, Result};

pub use crypt::BackupKey;
pub use extensions::SkippedExtension;
pub use pgconn::PgConn;
pub use pitr::PitrReadiness;
pub use prune::{PrunePlan, PrunePolicy};
pub use snapshot::{BackupList, BackupRef, Snapshot};
pub use tables::{PlannedTable, RestorePlan};
pub use types::{
    CreateOptions, Progress, RestoreOptions, RestoreReport, TableCheck, Verification, Work,
};

/// Backups of one store: the PostgreSQL database behind a pool (with the URL's connection
/// parameters for pg_dump/pg_restore), or the local SQLite workspace.
#[derive(Clone)]
pub struct Backups {
    db: Db,
    pg: Option<PgConn>,
    /// A read replica that `create` dumps instead of the primary (the row is still recorded on
    /// the primary).
    replica: Option<(Db, PgConn)>,
    sqlite_key: Option<String>,
    folder: Option<PathBuf>,
    keys: crypt::Keys,
}

impl std::fmt::Debug for Backups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backups")
            .field("db", &self.db)
            .field("pg", &self.pg)
            .field("sqlite_key", &self.sqlite_key.as_ref().map(|_| "***"))
            .field("folder", &self.folder)
            .finish()
    }
}

impl Backups {
    /// Backups of the store `db` reached through `target` (the same target the pool was
    /// opened from; the PostgreSQL URL gives pg_dump its connection parameters).
    pub fn new(db: Db, target: &Target) -> Result<Backups> {
        match (target, db.dialect()) {
            (Target::Postgres(url), ncy_core::db::Dialect::Postgres) => Ok(Backups {
                pg: Some(PgConn::from_url(url)?),
                replica: None,
                db,
                sqlite_key: None,
                folder: None,
                keys: crypt::Keys::default(),
            }),
            (Target::Local(_), ncy_core::db::Dialect::Sqlite) => Ok(Backups {
                db,
                pg: None,
                replica: None,
                sqlite_key: None,
                folder: None,
                keys: crypt::Keys::default(),
            }),
            _ => Err(Error::Config(
                "backups: the target and the open store are of different kinds".into(),
            )),
        }
    }

    /// Backups of a PostgreSQL database given its URL.
    pub fn postgres(db: Db, url: &str) -> Result<Backups> {
        Backups::new(db, &Target::Postgres(url.to_owned()))
    }

    /// The SQLCipher key of an encrypted local workspace: its backups are copies encrypted
    /// with the same key, and verify/restore open them with it. A store made with other
    /// SQLCipher settings than the defaults (the offline sync cache, which is rebuilt from the
    /// server instead) is refused with a clear error before anything is written.
    pub fn with_sqlite_key(mut self, key: impl Into<String>) -> Backups {
        self.sqlite_key = Some(key.into());
        self
    }

    /// Dumps a read replica (a hot standby at `url`, connected as `replica`) instead of the
    /// primary: pg_dump and the row counts run there, in one exported snapshot, and the
    /// backup is recorded on the primary. Verify and restore still use the primary, which
    /// can create the scratch and target databases.
    pub fn with_replica(mut self, replica: Db, url: &str) -> Result<Backups> {
        if self.pg.is_none() || replica.pg().is_none() {
            return Err(Error::invalid(
                "replica",
                "a read replica is for PostgreSQL backups; the local workspace has none",
            ));
        }
        if replica.pooled() {
            return Err(Error::Config(
                "backups need a direct connection to the replica, not one through a \
                 transaction-mode pooler (pgbouncer=true)"
                    .into(),
            ));
        }
        self.replica = Some((replica, PgConn::from_url(url)?));
        Ok(self)
    }

    /// The backup folder (default: [`default_dir`]). Verify, restore and prune touch a
    /// recorded backup's file only when it lies inside it: a `BackupSnapshot` row naming a
    /// file elsewhere is refused (see [`Backups::verify`]).
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Backups {
        self.folder = Some(dir.into());
        self
    }

    /// Decrypts encrypted backups with the identities of an age identity file instead of the
    /// keychain's backup keys.
    pub fn with_identity_file(mut self, file: &Path) -> Result<Backups> {
        self.keys = crypt::Keys {
            given: crypt::identities_from_file(file)?,
            given_from: Some(file.to_path_buf()),
        };
        Ok(self)
    }

    /// The backup folder in use.
    pub fn folder(&self) -> Result<PathBuf> {
        match &self.folder {
            Some(f) => Ok(f.clone()),
            None => default_dir(),
        }
    }

    /// The file of `snap` to read: one the operator named explicitly (`which` is a path) is
    /// used as given; one coming from the row must lie inside the backup folder.
    fn file_of(&self, snap: &Snapshot, which: &BackupRef) -> Result<PathBuf> {
        match which {
            BackupRef::Path(p) => Ok(p.clone()),
            BackupRef::Id(_) => folder::require_inside(&self.folder()?, Path::new(&snap.path)),
        }
    }

    fn key(&self) -> Option<&str> {
        self.sqlite_key.as_deref()
    }

    /// The store these backups belong to.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// pg_dump, pg_restore and the scratch databases of a verification keep session state
    /// (SET, snapshots, CREATE DATABASE outside a transaction) that a transaction-mode pooler
    /// does not keep: they need the server's direct URL.
    fn direct(&self) -> Result<()> {
        if self.db.pooled() {
            return Err(Error::Config(
                "backups need a direct connection to PostgreSQL, and this one goes through a \
                 transaction-mode pooler (pgbouncer=true): pg_dump and pg_restore keep session \
                 state a pooler does not. Use the server's direct URL (Supabase: port 5432, not \
                 6543) for backup commands"
                    .into(),
            ));
        }
        Ok(())
    }

    fn pg(&self) -> Option<(&sqlx::PgPool, &PgConn)> {
        match (self.db.pg(), &self.pg) {
            (Some(p), Some(c)) => Some((p.pool(), c)),
            _ => None,
        }
    }

    /// Takes a backup and records it (`backups.run`). Nothing is left behind on failure or
    /// cancellation: no partial file, no snapshot row.
    pub async fn create(
        &self,
        op: &Operator,
        opts: &CreateOptions,
        hooks: Work<'_>,
    ) -> Result<Snapshot> {
        op.require(perm::BACKUPS_RUN)?;
        self.direct()?;
        let source = match &self.replica {
            Some((r, conn)) => r.pg().map(|p| (p.pool(), conn)),
            None => self.pg(),
        };
        match source {
            Some((pool, conn)) => pg::create(&self.db, pool, conn, op, opts, hooks).await,
            None => local::create(&self.db, op, opts, self.key(), hooks).await,
        }
    }

    /// Proves a backup restorable and records the result on its snapshot row (`backups.run`).
    /// A failed verification is a result (`ok == false`, with `problems`), not an error; a
    /// row whose file lies outside the backup folder is an error (nothing is read).
    pub async fn verify(
        &self,
        op: &Operator,
        which: &BackupRef,
        hooks: Work<'_>,
    ) -> Result<Verification> {
        op.require(perm::BACKUPS_RUN)?;
        let mut snap = snapshot::resolve(&self.db, which)
            .await?
            .ok_or_else(|| not_recorded(which))?;
        let file = self.file_of(&snap, which)?;
        let recorded = snap.clone();
        snap.path = file.display().to_string();
        self.direct()?;
        let v = match self.pg() {
            Some((pool, conn)) => pg_verify::verify(pool, conn, &snap, &self.keys, hooks).await?,
            None => local::verify(&snap, self.key(), hooks).await?,
        };
        snapshot::record_verification(&self.db, op, &recorded, &v).await?;
        Ok(v)
    }

    /// Backups recorded for this database, newest first, in keyset pages (`backups.read`).
    pub async fn list(&self, op: &Operator, after: Option<&str>, limit: u32) -> Result<BackupList> {
        op.require(perm::BACKUPS_READ)?;
        snapshot::list(&self.db, after, limit).await
    }

    /// The age of the newest verified backup against `backups.max_age_hours`
    /// (`backups.read`): `fresh == false` when there is none or it is older.
    pub async fn check(&self, op: &Operator) -> Result<ncy_core::admin::backup_age::BackupAge> {
        op.require(perm::BACKUPS_READ)?;
        ncy_core::admin::backup_age::read(&self.db).await
    }

    /// One recorded backup (`backups.read`).
    pub async fn get(&self, op: &Operator, which: &BackupRef) -> Result<Snapshot> {
        op.require(perm::BACKUPS_READ)?;
        snapshot::resolve(&self.db, which)
            .await?
            .ok_or_else(|| not_recorded(which))
    }

    /// Deletes backups outside the retention policy (files and rows), never the newest
    /// verified one nor a file outside the backup folder (listed in `refused`) (`backups.run`).
    /// With `dry_run`, only returns the plan.
    pub async fn prune(
        &self,
        op: &Operator,
        policy: &PrunePolicy,
        dry_run: bool,
    ) -> Result<PrunePlan> {
        op.require(perm::BACKUPS_RUN)?;
        prune::run(&self.db, op, policy, &self.folder()?, dry_run).await
    }

    /// Pins a backup (`backups.run`): prune keeps it whatever the policy, until unpinned.
    /// Pinning again replaces the reason; audited (`BACKUP_PIN`).
    pub async fn pin(
        &self,
        op: &Operator,
        id: uuid::Uuid,
        reason: Option<&str>,
    ) -> Result<Snapshot> {
        op.require(perm::BACKUPS_RUN)?;
        snapshot::set_pin(&self.db, op, id, Some(reason.unwrap_or(""))).await
    }

    /// Unpins a backup (`backups.run`): the retention policy applies to it again; audited
    /// (`BACKUP_UNPIN`). Unpinning a backup that is not pinned is a conflict.
    pub async fn unpin(&self, op: &Operator, id: uuid::Uuid) -> Result<Snapshot> {
        op.require(perm::BACKUPS_RUN)?;
        snapshot::set_pin(&self.db, op, id, None).await
    }

    /// Restores a backup into a new database (or file); replacing an existing one needs
    /// `force` (`backups.restore`). The target appears only once the restore is complete. A
    /// recorded backup whose file lies outside the backup folder is refused.
    pub async fn restore(
        &self,
        op: &Operator,
        which: &BackupRef,
        opts: &RestoreOptions,
        hooks: Work<'_>,
    ) -> Result<RestoreReport> {
        op.require(perm::BACKUPS_RESTORE)?;
        self.direct()?;
        if !opts.tables.is_empty() && self.pg().is_none() {
            return Err(Error::invalid(
                "table",
                "per-table restore is for PostgreSQL backups; restore the workspace file whole",
            ));
        }
        let snap = snapshot::resolve(&self.db, which).await?;
        let path = match (&snap, which) {
            (Some(s), _) => self.file_of(s, which)?,
            (None, BackupRef::Path(p)) => p.clone(),
            (None, BackupRef::Id(_)) => return Err(not_recorded(which)),
        };
        match self.pg() {
            Some((pool, conn)) => {
                pg::restore(
                    &self.db,
                    pool,
                    conn,
                    op,
                    snap.as_ref(),
                    &path,
                    &self.keys,
                    opts,
                    hooks,
                )
                .await
            }
            None => {
                local::restore(&self.db, op, snap.as_ref(), &path, opts, self.key(), hooks).await
            }
        }
    }

    /// What [`Backups::restore`] with `opts` would do, without doing it (`backups.restore`):
    /// the target created or replaced, the tables it will hold with their rows at backup
    /// time, and whether it is allowed as asked.
    pub async fn restore_plan(
        &self,
        op: &Operator,
        which: &BackupRef,
        opts: &RestoreOptions,
    ) -> Result<RestorePlan> {
        op.require(perm::BACKUPS_RESTORE)?;
        self.direct()?;
        let snap = snapshot::resolve(&self.db, which).await?;
        match (&snap, which) {
            (Some(s), _) => {
                self.file_of(s, which)?;
            }
            (None, BackupRef::Id(_)) => return Err(not_recorded(which)),
            (None, BackupRef::Path(_)) => {}
        }
        let exists =
            match self.pg() {
                Some((pool, _)) => pg::database_exists(pool, &opts.into).await?,
                None if !opts.tables.is_empty() => return Err(Error::invalid(
                    "table",
                    "per-table restore is for PostgreSQL backups; restore the workspace file whole",
                )),
                None => Path::new(&opts.into).exists(),
            };
        let mut plan = tables::plan(snap.as_ref(), &opts.tables, &opts.into, exists, opts.force)?;
        if let Some((pool, _)) = self.pg() {
            if !pg::can_create_databases(pool).await? {
                plan.allowed = false;
                plan.notes.push("this login may not create databases, which a restore needs: grant it CREATEDB (`ALTER ROLE <user> CREATEDB`) or restore with the schema owner's connection".into());
            }
        }
        Ok(plan)
    }

    /// PostgreSQL point-in-time recovery readiness (`backups.read`).
    pub async fn pitr_readiness(&self, op: &Operator) -> Result<PitrReadiness> {
        op.require(perm::BACKUPS_READ)?;
        self.direct()?;
        let pg = self.db.pg().ok_or_else(|| {
            Error::invalid(
                "store",
                "point-in-time recovery concerns the PostgreSQL server; the local workspace has none",
            )
        })?;
        pitr::readiness(pg.pool()).await
    }
}

fn not_recorded(which: &BackupRef) -> Error {
    match which {
        BackupRef::Id(id) => Error::not_found("backup", id),
        BackupRef::Path(p) => Error::not_found(
            "backup",
            format!("{} (no BackupSnapshot row records this file)", p.display()),
        ),
    }
}

/// The file name of a backup taken at `at`: `ncy8_YYYYMMDD_HHMMSS.<ext>`.
pub fn file_name(at: chrono::NaiveDateTime, ext: &str) -> String {
    format!("ncy8_{}.{ext}", at.format("%Y%m%d_%H%M%S"))
}

/// The default backup directory: `$NCY_BACKUP_DIR`, else `<data dir>/ncy-admin/backups`.
pub fn default_dir() -> Result<PathBuf> {
    Ok(ncy_core::app::Paths::detect()?.backups())
}

/// Compile-time proof that the operations' futures are `Send` (the desktop runs them on a
/// multi-threaded runtime).
#[cfg(test)]
#[allow(dead_code, clippy::let_underscore_future)]
mod send_check {
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    async fn all(b: Backups, op: Operator) {
        let r = BackupRef::Id(uuid::Uuid::nil());
        let c = CreateOptions::new("/tmp");
        let ro = RestoreOptions::default();
        let p = PrunePolicy::default();
        is_send(&b.create(&op, &c, Work::none()));
        is_send(&b.verify(&op, &r, Work::none()));
        is_send(&b.list(&op, None, 10));
        is_send(&b.get(&op, &r));
        is_send(&b.check(&op));
        is_send(&b.prune(&op, &p, true));
        is_send(&b.pin(&op, uuid::Uuid::nil(), None));
        is_send(&b.unpin(&op, uuid::Uuid::nil()));
        is_send(&b.restore(&op, &r, &ro, Work::none()));
        is_send(&b.restore_plan(&op, &r, &ro));
        is_send(&b.pitr_readiness(&op));
    }
}
