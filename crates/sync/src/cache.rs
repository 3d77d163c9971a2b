//! The local cache of one PostgreSQL profile: a SQLCipher-encrypted SQLite file with the normal
//! schema plus the sync tables (SyncOutbox, SyncConflict, SyncState), under the user's data
//! directory at a path derived from the redacted server URL. Its key is random, made by
//! `sync init`, and lives only in the OS keychain (`cache-key:<profile>`); it is never written
//! to a file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ncy_core::auth::{Client, Operator};
use ncy_core::db::{now, redact_url, Cipher, CipherHmac, Db, Dialect, Tx};
use ncy_core::migrate::{self, MigrationSet};
use ncy_core::model::UserRole;
use ncy_core::secrets::Secret;
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rows::count;
use crate::tables::{self, Slice};

/// An open cache.
#[derive(Debug, Clone)]
pub struct Cache {
    pub db: Db,
    pub path: PathBuf,
}

/// The profile name of a server URL: the URL without its password (so the same server reached
/// with or without a password in the URL is one profile).
pub fn profile(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => redact_url(url),
    }
}

/// `$NCY_DATA_DIR/cache`, else `<user data dir>/ncy-admin/cache`.
pub fn cache_dir() -> Result<PathBuf> {
    Ok(ncy_core::app::Paths::detect()?.caches())
}

/// The cache file of a profile: a readable stem plus a hash of the whole redacted URL.
pub fn cache_path(dir: &Path, url: &str) -> PathBuf {
    let p = profile(url);
    let stem: String = p
        .trim_start_matches("postgresql://")
        .trim_start_matches("postgres://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(60)
        .collect();
    // FNV-1a: stable across builds, enough to keep two profiles apart.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in p.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    dir.join(format!("{stem}-{h:016x}.db"))
}

/// The keychain entry holding a profile's cache key.
pub fn key_secret(url: &str) -> Secret {
    Secret::new(format!("cache-key:{}", profile(url)))
}

/// Whether `permission` holds on the offline cache: reads, and task edits (which go through the
/// outbox to the server at the next push). Any other change would land in the cache alone and
/// be overwritten by the next pull, so the offline operator does not have it.
pub fn allowed_offline(permission: &str) -> bool {
    use ncy_core::auth::perm;
    permission.ends_with(".read")
        || permission.ends_with(".read_own")
        || permission == perm::TASKS_WRITE
        || permission == perm::TASKS_REVIEW_OWN
}

/// The error for an unreachable server, saying so when this profile has a sync cache that
/// commands can use with `--offline`. Any other error passes through.
pub fn offline_hint(target: &ncy_core::db::Target, e: Error) -> Error {
    let Error::ServerUnreachable {
        target: shown,
        reason,
        source,
    } = e
    else {
        return e;
    };
    let has_cache = match target {
        ncy_core::db::Target::Postgres(url) => cache_dir()
            .map(|d| cache_path(&d, url).exists())
            .unwrap_or(false),
        ncy_core::db::Target::Local(_) => false,
    };
    Error::ServerUnreachable {
        target: shown,
        reason: if has_cache {
            format!("{reason}. This server has an offline cache on this machine: add --offline to list and edit tasks there (your edits are pushed later by `ncy-admin sync run`)")
        } else {
            reason
        },
        source,
    }
}

/// A new random 256-bit key in SQLCipher's raw-key form (`x'…'`, no slow key derivation).
pub fn new_key() -> String {
    use rand::RngCore;
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    format!("x'{}'", hex::encode(k))
}

/// Reads a profile's cache key from the keychain; a clear error when there is none.
pub fn keychain_key(url: &str, path: &Path) -> Result<String> {
    key_secret(url).get()?.ok_or_else(|| Error::LocalStore {
        path: path.display().to_string(),
        reason: "its key is not in the OS keychain (the keychain was reset, or this is another user's cache); run `ncy-admin sync init --org …` online to rebuild it".into(),
        source: None,
    })
}

impl Cache {
    /// Creates (or replaces) a cache file encrypted with `key` and migrates it.
    pub async fn create(path: &Path, key: &str) -> Result<Cache> {
        Self::create_with(path, key, CIPHER).await
    }

    /// [`Cache::create`] with other cipher settings (one of [`EARLIER_CIPHERS`] makes a cache as
    /// earlier versions did: for tests and the benchmark).
    pub async fn create_with(path: &Path, key: &str, cipher: Cipher) -> Result<Cache> {
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("removing {}", p.display()), e)),
            }
        }
        Self::open_key(path, key, &[cipher]).await
    }

    /// Opens an existing cache with `key`. A wrong or missing key is a clear
    /// [`Error::LocalStore`], never garbage.
    pub async fn open(path: &Path, key: &str) -> Result<Cache> {
        if !path.exists() {
            return Err(Error::LocalStore {
                path: path.display().to_string(),
                reason: "no sync cache here yet; run `ncy-admin sync init --org SLUG` online first"
                    .into(),
                source: None,
            });
        }
        let [a, b] = EARLIER_CIPHERS;
        Self::open_key(path, key, &[CIPHER, a, b]).await
    }

    /// Opens a profile's cache with its key from the keychain.
    pub async fn open_profile(url: &str) -> Result<Cache> {
        let path = cache_path(&cache_dir()?, url);
        if !path.exists() {
            return Self::open(&path, "").await;
        }
        let key = keychain_key(url, &path)?;
        Self::open(&path, &key).await
    }

    /// Opens the cache with the first of `ciphers` that reads it (a file opens only with the
    /// settings it was made with, any other reading as a wrong key); a new file gets the first.
    async fn open_key(path: &Path, key: &str, ciphers: &[Cipher]) -> Result<Cache> {
        let fresh = std::fs::metadata(path)
            .map(|m| m.len() == 0)
            .unwrap_or(true);
        let tries = if fresh {
            &ciphers[..ciphers.len().min(1)]
        } else {
            ciphers
        };
        let mut opened = Err(Error::db("no cache cipher settings to try"));
        for &cipher in tries {
            opened = Db::open_sqlite_cipher(path, key, cipher);
            // Only a file that does not read with these settings is tried with the next ones;
            // any other failure (a locked file, say) is reported as it is.
            let unreadable = matches!(
                &opened,
                Err(Error::LocalStore { reason, .. }) if reason.contains("encryption key")
            );
            if !unreadable {
                break;
            }
        }
        let db = opened.map_err(|e| match e {
            Error::LocalStore { reason, source, .. } => Error::LocalStore {
                path: path.display().to_string(),
                reason,
                source,
            },
            other => other,
        })?;
        // The cache mirrors the server, which enforces the references; a slice is not closed
        // under every foreign key (audit rows, users outside the slice), so SQLite does not
        // check them here.
        if let Some(s) = db.sqlite() {
            // A larger page cache: every page read from this file is decrypted, and sync
            // touches rows all over the big tables (sized to the file, again by every pull).
            let sql = format!("PRAGMA foreign_keys = OFF; {}", cache_size_sql(path));
            s.with_conn(move |c| c.execute_batch(&sql).map_err(|e| Error::db(e.to_string())))
                .await?;
        }
        // Guards are lifted while migrations run (a later migration may rewrite rows).
        set_guards(&db, false).await?;
        migrate::up(&db, &MigrationSet::embedded(Dialect::Sqlite)?).await?;
        set_guards(&db, true).await?;
        Ok(Cache {
            db,
            path: path.to_owned(),
        })
    }

    /// Copies the write-ahead log into the cache file on a blocking thread of its own, then
    /// turns SQLite's automatic checkpoint back on (see [`defer_checkpoint`]). PASSIVE: it
    /// never waits for a reader; the next cache operation waits for it if it has not finished;
    /// a failure only leaves the log to the next checkpoint.
    pub(crate) fn checkpoint_soon(&self) {
        let db = self.db.clone();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let Some(s) = db.sqlite() else { return };
            let t = std::time::Instant::now();
            let r = rt.block_on(s.with_conn(|c| {
                let frames = c
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
                    .map_err(|e| Error::db(e.to_string()));
                c.execute_batch(&format!("PRAGMA wal_autocheckpoint = {AUTO_CHECKPOINT};"))
                    .map_err(|e| Error::db(e.to_string()))?;
                frames
            }));
            match r {
                Ok(frames) => tracing::debug!(
                    ms = t.elapsed().as_secs_f64() * 1000.0,
                    frames,
                    "cache checkpoint"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "cache checkpoint failed; the next one copies the log")
                }
            }
        });
    }

    /// The slice this cache holds.
    pub async fn slice(&self) -> Result<Slice> {
        let mut tx = self.db.begin().await?;
        let s = get_state(&mut tx, "slice").await?;
        tx.rollback().await?;
        let s: SliceState = parse_state("slice", s)?;
        Ok(Slice {
            orgs: s.orgs.iter().map(|o| o.id).collect(),
            operator: s.operator,
            own_tasks_only: s.own_tasks_only,
            review_orgs: s
                .orgs
                .iter()
                .filter(|o| o.own_tasks)
                .map(|o| o.id)
                .collect(),
        })
    }

    /// The operator as last seen online (for offline work).
    pub async fn operator(&self) -> Result<Operator> {
        let mut tx = self.db.begin().await?;
        let s = get_state(&mut tx, "operator").await?;
        tx.rollback().await?;
        let o: OperatorState = parse_state("operator", s)?;
        Ok(o.into_operator())
    }

    /// The operator as it works on the cache while offline: the one last seen online, keeping
    /// only the permissions [`allowed_offline`] grants (the same rule for the CLI's `--offline`
    /// and the window's offline mode).
    pub async fn offline_operator(&self) -> Result<Operator> {
        let mut op = self.operator().await?;
        op.permissions.retain(|p| allowed_offline(p));
        Ok(op)
    }

    /// Sync state for `sync status`.
    pub async fn status(&self) -> Result<Status> {
        let mut tx = self.db.begin().await?;
        let slice: SliceState = parse_state("slice", get_state(&mut tx, "slice").await?)?;
        let op: OperatorState = parse_state("operator", get_state(&mut tx, "operator").await?)?;
        let initial: Option<InitialState> = get_state(&mut tx, "initial")
            .await?
            .and_then(|s| serde_json::from_str(&s).ok());
        let mut st = Status {
            path: self.path.display().to_string(),
            profile: get_state(&mut tx, "profile").await?.unwrap_or_default(),
            organizations: slice.orgs.iter().map(|o| o.slug.clone()).collect(),
            operator: op.email,
            initial_sync_done: initial.map(|i| i.done).unwrap_or(false),
            last_pull_at: get_state(&mut tx, "last_pull_at").await?,
            last_push_at: get_state(&mut tx, "last_push_at").await?,
            watermark: get_state(&mut tx, "watermark").await?,
            pending: 0,
            conflicts: 0,
            rows: Default::default(),
        };
        st.pending = count(
            &mut tx,
            r#"SELECT count(*) AS n FROM "SyncOutbox" WHERE "status" = 'pending'"#,
            &[],
        )
        .await?;
        st.conflicts = count(
            &mut tx,
            r#"SELECT count(*) AS n FROM "SyncConflict" WHERE "resolved_at" IS NULL"#,
            &[],
        )
        .await?;
        for t in tables::ALL {
            let n = count(
                &mut tx,
                &format!(r#"SELECT count(*) AS n FROM "{}""#, t.name),
                &[],
            )
            .await?;
            st.rows.insert(t.name.to_owned(), n);
        }
        tx.rollback().await?;
        Ok(st)
    }
}

/// The message of a write to a synced table outside the sync-aware operations.
pub const GUARD_MESSAGE: &str = "the offline cache changes only through sync-aware operations, so that every offline write is pushed later; edit tasks offline with `ncy-admin --offline sync edit TASK_ID --status …` (other changes need a connection)";

/// Makes every write to a synced table of the cache fail unless it comes from this crate (which
/// marks its transactions with a `writer` row in SyncState): a write that bypassed the outbox
/// would never reach the server, so it is refused instead of silently lost.
async fn set_guards(db: &Db, on: bool) -> Result<()> {
    let mut sql = String::new();
    for t in tables::ALL {
        for (op, tag) in [("INSERT", "ins"), ("UPDATE", "upd"), ("DELETE", "del")] {
            let name = format!("{}_sync_guard_{tag}", t.name);
            if on {
                sql.push_str(&format!(
                    r#"CREATE TRIGGER IF NOT EXISTS "{name}" BEFORE {op} ON "{table}"
                       WHEN NOT EXISTS (SELECT 1 FROM "SyncState" WHERE "key" = 'writer')
                       BEGIN SELECT RAISE(ABORT, '{msg}'); END;
"#,
                    table = t.name,
                    msg = GUARD_MESSAGE.replace('\'', "''")
                ));
            } else {
                sql.push_str(&format!("DROP TRIGGER IF EXISTS \"{name}\";\n"));
            }
        }
    }
    let mut tx = db.begin().await?;
    tx.batch(&sql).await?;
    tx.commit().await
}

/// The writer's page cache for a cache file of `bytes`, in KiB: 1/32 of the file, at least
/// 64 MiB and at most 512 MiB. A pull looks its changed rows up by key in the big tables' two
/// B-trees (the key's index, then the table); when their inner pages (about 1 % of a big file)
/// stay cached, each row costs two leaf pages read and decrypted. On 10M tasks a fixed 64 MiB
/// no longer held them, and a pull of 1 000 changes read its rows in 33-46 ms against 19-25 ms
/// on 1M (BENCHMARKS.md, issue 17). Pages are only held once read.
pub fn page_cache_kib(bytes: u64) -> u64 {
    (bytes / 32 / 1024).clamp(64 * 1024, 512 * 1024)
}

/// Sizes the page cache of the open transaction's connection to the cache file (see
/// [`page_cache_kib`]); the file grows with the first sync and with the slice.
pub(crate) fn fit_page_cache(tx: &mut Tx, path: &Path) -> Result<()> {
    let sql = cache_size_sql(path);
    tx.with_sqlite_conn(|c| c.execute_batch(&sql).map_err(|e| Error::db(e.to_string())))
}

/// `PRAGMA cache_size` for the cache file at `path` as it is now (see [`page_cache_kib`]).
fn cache_size_sql(path: &Path) -> String {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    format!("PRAGMA cache_size = -{};", page_cache_kib(bytes))
}

/// The cipher settings of new caches.
/// - 1 KiB pages: a pull writes (and encrypts, and authenticates) every page holding a changed
///   row, and the changed rows of a big slice are scattered one per page: smaller pages mean
///   fewer bytes per changed row.
/// - HMAC-SHA256: a pull reads and writes a few thousand scattered pages, each authenticated on
///   the way in and out; SHA-256 costs less per page than SQLCipher's default SHA-512
///   (BENCHMARKS.md, issue 17: 1 000 changes in a 1M-task slice, 44.6 against 49.7 ms).
pub const CIPHER: Cipher = Cipher {
    page_size: PAGE_SIZE,
    hmac: CipherHmac::Sha256,
};

/// The page size of new caches, in bytes (SQLCipher's `cipher_page_size`).
pub const PAGE_SIZE: u32 = 1024;

/// SQLCipher's defaults (4 KiB pages, HMAC-SHA512): the first caches were made with them.
pub const LEGACY_CIPHER: Cipher = Cipher {
    page_size: 4096,
    hmac: CipherHmac::Sha512,
};

/// The settings caches were made with before [`CIPHER`], newest first: they still open and sync
/// as they are.
pub const EARLIER_CIPHERS: [Cipher; 2] = [
    Cipher {
        page_size: PAGE_SIZE,
        hmac: CipherHmac::Sha512,
    },
    LEGACY_CIPHER,
];

/// SQLite's automatic checkpoint threshold (its default), in WAL pages.
const AUTO_CHECKPOINT: u32 = 1000;

/// Keeps the commit of the open transaction from copying the write-ahead log into the file
/// (SQLite does that in the commit that brings the log past 1 000 pages, and a pull of 1 000
/// changes writes about that many): the caller runs [`Cache::checkpoint_soon`] after the
/// commit, whether it succeeded or not, which also turns the automatic checkpoint back on.
pub(crate) fn defer_checkpoint(tx: &mut Tx) -> Result<()> {
    tx.with_sqlite_conn(|c| {
        c.execute_batch("PRAGMA wal_autocheckpoint = 0;")
            .map_err(|e| Error::db(e.to_string()))
    })
}

/// Marks the open cache transaction as a sync-aware writer (see [`GUARD_MESSAGE`]).
pub async fn writer_on(tx: &mut Tx) -> Result<()> {
    set_state(tx, "writer", "sync").await
}

/// Clears the writer mark before the transaction commits.
pub async fn writer_off(tx: &mut Tx) -> Result<()> {
    tx.execute(r#"DELETE FROM "SyncState" WHERE "key" = 'writer'"#, &[])
        .await?;
    Ok(())
}

/// What `sync status` shows.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Status {
    pub path: String,
    pub profile: String,
    pub organizations: Vec<String>,
    pub operator: String,
    pub initial_sync_done: bool,
    pub last_pull_at: Option<String>,
    pub last_push_at: Option<String>,
    pub watermark: Option<String>,
    pub pending: u64,
    pub conflicts: u64,
    pub rows: std::collections::BTreeMap<String, u64>,
}

/// One chosen organization.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgRef {
    pub id: Uuid,
    pub slug: String,
    /// Only the operator's own tasks of this organization (a plain MEMBER of it).
    #[serde(default)]
    pub own_tasks: bool,
}

/// The stored slice definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SliceState {
    pub orgs: Vec<OrgRef>,
    pub operator: Uuid,
    /// Only the operator's own tasks (they may not read others').
    #[serde(default)]
    pub own_tasks_only: bool,
}

/// The stored operator (permissions as last seen online).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorState {
    pub user_id: Uuid,
    pub email: String,
    pub role: UserRole,
    pub roles: Vec<String>,
    pub permissions: BTreeSet<String>,
    pub seen_at: String,
}

impl OperatorState {
    /// Captures an online operator.
    pub fn of(op: &Operator) -> Self {
        OperatorState {
            user_id: op.user_id,
            email: op.email.clone(),
            role: op.role,
            roles: op.roles.clone(),
            permissions: op.permissions.clone(),
            seen_at: ncy_core::db::format_ts(&now()),
        }
    }

    fn into_operator(self) -> Operator {
        Operator {
            user_id: self.user_id,
            email: self.email,
            role: self.role,
            roles: self.roles,
            permissions: self.permissions,
            client: Client::Cli,
            session_id: None,
        }
    }
}

/// Progress of the first sync (a checkpoint per table and keyset cursor).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InitialState {
    pub done: bool,
    /// Index into [`tables::ALL`] of the table being streamed.
    pub table: usize,
    /// Key of the last row stored from that table.
    pub last: Option<Vec<String>>,
    /// The cache's indexes on synced tables, by name with their `CREATE` statements, dropped
    /// for the first sync and made again in the transaction that ends it.
    #[serde(default)]
    pub deferred_indexes: Vec<(String, String)>,
}

fn parse_state<T: serde::de::DeserializeOwned>(key: &str, v: Option<String>) -> Result<T> {
    let v = v.ok_or_else(|| {
        Error::Config(format!(
            "the sync cache has no {key} recorded; run `ncy-admin sync init --org SLUG` online"
        ))
    })?;
    serde_json::from_str(&v).map_err(|e| Error::db(format!("sync state {key} is unreadable: {e}")))
}

/// Reads one sync state value.
pub async fn get_state(tx: &mut Tx, key: &str) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct State {
        value: String,
    }
    Ok(tx
        .query_opt_as::<State>(
            r#"SELECT "value" FROM "SyncState" WHERE "key" = $1"#,
            &params![key],
        )
        .await?
        .map(|s| s.value))
}

/// Writes one sync state value.
pub async fn set_state(tx: &mut Tx, key: &str, value: &str) -> Result<()> {
    tx.execute(
        r#"INSERT INTO "SyncState" ("key", "value") VALUES ($1, $2)
           ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value""#,
        &params![key, value],
    )
    .await?;
    Ok(())
}

/// Writes a JSON sync state value.
pub async fn set_json<T: Serialize>(tx: &mut Tx, key: &str, v: &T) -> Result<()> {
    let s = serde_json::to_string(v).map_err(|e| Error::db(e.to_string()))?;
    set_state(tx, key, &s).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_hide_passwords_and_keep_profiles_apart() {
        let d = Path::new("/x");
        let a = cache_path(d, "postgres://u:secret@h:5432/db");
        let b = cache_path(d, "postgres://u:other@h:5432/db");
        let c = cache_path(d, "postgres://u:secret@h:5432/db2");
        assert_eq!(a, b, "the password is not part of the profile");
        assert_eq!(a, cache_path(d, "postgres://u@h:5432/db"));
        assert_ne!(a, c);
        assert!(!a.display().to_string().contains("secret"));
        assert!(new_key().starts_with("x'") && new_key().len() == 67);
    }

    #[test]
    fn the_page_cache_follows_the_file_within_bounds() {
        let mib = 1024 * 1024;
        assert_eq!(page_cache_kib(0), 64 * 1024);
        assert_eq!(page_cache_kib(500 * mib), 64 * 1024);
        assert_eq!(page_cache_kib(4096 * mib), 128 * 1024);
        assert_eq!(page_cache_kib(5632 * mib), 176 * 1024);
        assert_eq!(page_cache_kib(64 * 1024 * mib), 512 * 1024);
    }
}
