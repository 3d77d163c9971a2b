//! The values the [`Backups`](crate::Backups) operations take and return: progress and
//! cancellation (core's [`Work`]), options, and the outcomes of verify and restore.

use std::path::PathBuf;

use ncy_core::{Error, Result};
use serde::Serialize;

use crate::crypt;
use crate::extensions::SkippedExtension;

/// Progress of long work (phase `"snapshot"`, `"dump"`, `"checksum"`, `"restore"`, `"compare"`,
/// `"copy"`; units done and expected, 0 = unknown; bytes written or read so far): core's one
/// contract.
pub use ncy_core::{Progress, Work};

/// Options of [`Backups::create`].
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Directory receiving the file (created if missing).
    pub dir: PathBuf,
    /// pg_dump compression level 0..=9 (default 9). Ignored for SQLite.
    pub compression: u32,
    /// Encrypt the file with age (PostgreSQL backups): to `recipient`, or to the keychain's
    /// default backup key (see [`crypt::create_key`]).
    pub encrypt: bool,
    /// The age recipient (`age1…`) to encrypt to; implies `encrypt`.
    pub recipient: Option<String>,
}

impl CreateOptions {
    /// Level-9 compression into `dir`, not encrypted.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CreateOptions {
            dir: dir.into(),
            compression: 9,
            encrypt: false,
            recipient: None,
        }
    }

    /// The same, encrypted to the default backup key when `on`.
    pub fn encrypted(self, on: bool) -> Self {
        CreateOptions {
            encrypt: on,
            ..self
        }
    }

    /// The recipient to encrypt to, if the backup is to be encrypted.
    pub(crate) fn recipient(&self) -> Result<Option<age::x25519::Recipient>> {
        if let Some(r) = &self.recipient {
            return crypt::parse_recipient(r).map(Some);
        }
        if !self.encrypt {
            return Ok(None);
        }
        match crypt::default_recipient()? {
            Some(r) => crypt::parse_recipient(&r).map(Some),
            None => Err(Error::invalid(
                "encrypt",
                "no backup key yet: the OS keychain holds no default backup key and no recipient was named",
            )),
        }
    }
}

/// Options of [`Backups::restore`].
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// PostgreSQL: the database to create. SQLite: the file to write.
    pub into: String,
    /// Replace an existing database / file.
    pub force: bool,
    /// PostgreSQL: skip ownership and privileges (`--no-owner --no-acl`), for restoring as a
    /// role that does not own the original objects.
    pub no_owner: bool,
    /// PostgreSQL: only these tables (`Task` or `schema.Task`) into the new database; empty =
    /// the whole backup. See [`tables`].
    pub tables: Vec<String>,
}

/// The outcome of [`Backups::verify`] (also stored in `BackupSnapshot.verification`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Verification {
    pub snapshot_id: Option<uuid::Uuid>,
    pub path: String,
    /// True when every check passed.
    pub ok: bool,
    pub checksum_ok: bool,
    pub expected_sha256: Option<String>,
    pub actual_sha256: Option<String>,
    /// `pg_restore --list` (or SQLite `integrity_check`) read the file.
    pub readable: bool,
    /// Entries in the archive's table of contents (PostgreSQL) or pages (SQLite).
    pub entries: u64,
    /// The scratch database the test restore used (dropped afterwards).
    pub scratch_database: Option<String>,
    pub restore_ms: Option<i64>,
    pub tables: Vec<TableCheck>,
    /// What failed, in words.
    pub problems: Vec<String>,
    /// Extensions of the backup the test restore could not create (e.g. one only a superuser
    /// may create on a managed PostgreSQL): left out, everything else restored and compared.
    #[serde(default)]
    pub skipped_extensions: Vec<SkippedExtension>,
    pub verified_at: chrono::NaiveDateTime,
}

/// One table's row count at dump time and after the test restore.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct TableCheck {
    pub table: String,
    pub expected: Option<i64>,
    pub actual: Option<i64>,
    pub ok: bool,
}

/// The outcome of [`Backups::restore`].
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub snapshot_id: Option<uuid::Uuid>,
    pub path: String,
    /// The database name (PostgreSQL) or file (SQLite) restored into.
    pub into: String,
    /// An existing database/file was replaced (`force`).
    pub replaced: bool,
    pub duration_ms: i64,
    /// Row counts of the restored copy, compared with the counts taken at backup time when
    /// the backup has a snapshot row.
    pub tables: Vec<TableCheck>,
    /// Extensions of the backup the restoring role could not create, left out.
    pub skipped_extensions: Vec<SkippedExtension>,
}
