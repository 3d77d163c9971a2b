//! Backups of the local SQLite workspace through SQLite's online backup API: a consistent copy
//! of the live file (row counts taken in the same read transaction), verified by a test
//! restore into memory, restorable into a new file or over the workspace itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ncy_core::audit::{self, Entry};
use ncy_core::auth::Operator;
use ncy_core::db::{now, Cipher, CipherHmac, Db, SqliteDb};
use ncy_core::{Error, Result};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde_json::json;

use crate::counts::{self, sqlite_counts};
use crate::snapshot::{self, NewSnapshot, Snapshot};
use crate::stream::{sha256_file, Partial};
use crate::{file_name, CreateOptions, RestoreOptions, RestoreReport, Verification, Work};

const PAGES_PER_STEP: i32 = 256;

fn sqlite(db: &Db) -> Result<&SqliteDb> {
    db.sqlite()
        .ok_or_else(|| Error::Config("not a local workspace".into()))
}

fn lite_err(what: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if f.code == rusqlite::ErrorCode::DiskFull {
                return Error::DiskFull(what.to_owned());
            }
        }
        Error::db(format!("{what}: {e}"))
    }
}

fn is_encrypted(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    Ok(n == 16 && &head != b"SQLite format 3\0")
}

/// The key to use for copies of `path`: none for a plain file; the caller's key for a
/// SQLCipher file (a copy keyed alike, never plaintext), which is required.
fn key_for<'k>(path: &Path, key: Option<&'k str>) -> Result<Option<&'k str>> {
    if !is_encrypted(path)? {
        return Ok(None);
    }
    key.map(Some).ok_or_else(|| {
        Error::invalid(
            "key",
            format!(
                "{} is encrypted (SQLCipher): its key is needed to back it up, verify or restore it (Backups::with_sqlite_key; copies stay encrypted with the same key)",
                path.display()
            ),
        )
    })
}

/// SQLCipher's default settings: 4 KiB pages, HMAC-SHA512.
fn is_default(c: Cipher) -> bool {
    c.page_size == 4096 && c.hmac == CipherHmac::Sha512
}

/// The refusal of a file that does not read with the key and SQLCipher's default settings.
fn other_cipher(path: &Path) -> Error {
    Error::invalid(
        "key",
        format!(
            "{} does not open with the given key and SQLCipher's default settings: give the \
             workspace's own key (Backups::with_sqlite_key). A file made with other SQLCipher \
             settings, such as the offline sync cache, is not backed up here: \
             `ncy-admin sync init` rebuilds a cache from the server",
            path.display()
        ),
    )
}

/// Opens a SQLite file, applying `key` (SQLCipher) when given. A keyed file opened to be read
/// (`flags` given) must read with it: a wrong key or other cipher settings are one clear error
/// here, before any copy. A copy's new file is not read before the copy fills it.
fn open(path: &Path, flags: Option<OpenFlags>, key: Option<&str>) -> Result<Connection> {
    let what = format!("opening {}", path.display());
    let c = match flags {
        Some(f) => Connection::open_with_flags(path, f),
        None => Connection::open(path),
    }
    .map_err(lite_err(&what))?;
    if let Some(k) = key {
        ncy_cipher::install();
        c.pragma_update(None, "key", k).map_err(lite_err(&what))?;
        if flags.is_none() {
            return Ok(c);
        }
        let read = c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        });
        if let Err(e) = read {
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
                return Err(other_cipher(path));
            }
            return Err(lite_err(&what)(e));
        }
    }
    Ok(c)
}

/// Copies `src` into `dst` page by page, reporting `phase` progress; stops on cancel before
/// each step (an interrupted copy commits nothing). A cancel during the last step comes too
/// late for the copy: callers writing a new file check again before keeping it.
fn copy_pages(src: &Connection, dst: &mut Connection, phase: &str, hooks: Work<'_>) -> Result<u64> {
    let err = lite_err("copying the database");
    let b = Backup::new(src, dst).map_err(&err)?;
    let mut busy = 0;
    loop {
        if hooks.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let r = b.step(PAGES_PER_STEP).map_err(&err)?;
        let p = b.progress();
        let total = p.pagecount.max(0) as u64;
        hooks.report_bytes(
            phase,
            total.saturating_sub(p.remaining.max(0) as u64),
            total,
            0,
        );
        match r {
            StepResult::Done => return Ok(total),
            StepResult::More => busy = 0,
            _ => {
                busy += 1;
                if busy > 50 {
                    return Err(Error::conflict(
                        "workspace",
                        "the workspace stayed locked by another program; close it and retry",
                    ));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// Makes a copied file self-contained (rollback journal instead of WAL).
fn finish_copy(dst: &Connection) -> Result<()> {
    let _: String = dst
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(lite_err("finishing the copy"))?;
    Ok(())
}

pub(crate) async fn create(
    db: &Db,
    op: &Operator,
    opts: &CreateOptions,
    key: Option<&str>,
    hooks: Work<'_>,
) -> Result<Snapshot> {
    let s = sqlite(db)?;
    if opts.encrypt || opts.recipient.is_some() {
        return Err(Error::invalid(
            "encrypt",
            "age encryption is for PostgreSQL backups; a local workspace backup is a copy of the workspace file, encrypted with the workspace's own key when the workspace is",
        ));
    }
    let key = key_for(s.path(), key)?;
    // SQLite's backup API copies pages into a file keyed with SQLCipher's defaults, so a store
    // made with other settings (the sync cache's) would be copied into a broken file (SQLCipher
    // crashes on it): refused before anything is written.
    if key.is_some() && s.cipher().is_some_and(|c| !is_default(c)) {
        return Err(other_cipher(s.path()));
    }
    hooks.check()?;
    let started = Instant::now();
    let created_at = now();
    let name = file_name(created_at, "sqlite");
    let (partial, file) = Partial::create(&opts.dir, &name).await?;
    drop(file);
    let tmp = partial.path.clone();
    let table_counts = s
        .with_conn(|conn| {
            // One read transaction: the counts and the copy see the same state.
            conn.execute_batch("BEGIN")
                .map_err(lite_err("starting the backup"))?;
            let r = (|| {
                let counts = sqlite_counts(conn)?;
                let mut dst = open(&tmp, None, key)?;
                copy_pages(conn, &mut dst, "copy", hooks)?;
                finish_copy(&dst)?;
                dst.close()
                    .map_err(|(_, e)| lite_err("closing the backup file")(e))?;
                Ok(counts)
            })();
            let _ = conn.execute_batch("COMMIT");
            r
        })
        .await?;
    let (size, sha) = sha256_file(&tmp, "checksum", hooks).await?;
    let duration_ms = started.elapsed().as_millis() as i64;
    let published = partial.publish(&name)?;
    let path = std::fs::canonicalize(&published).unwrap_or(published);
    let database = s
        .path()
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let recorded = snapshot::insert(
        db,
        op,
        NewSnapshot {
            path: &path,
            size,
            created_at,
            sha256: &sha,
            duration_ms,
            database: &database,
            server_version: &format!("SQLite {}", rusqlite::version()),
            format: "sqlite",
            compression: None,
            table_counts: &table_counts,
            encrypted_to: None,
        },
    )
    .await;
    if recorded.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    recorded
}

/// Restores a backup file into memory (or, for an encrypted backup, into a temporary file
/// keyed alike) and checks it; returns (pages, counts, integrity problems).
async fn test_restore(
    path: &Path,
    key: Option<&str>,
    hooks: Work<'_>,
) -> Result<(u64, BTreeMap<String, i64>, Vec<String>)> {
    let scratch = match key {
        Some(_) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let (p, f) = Partial::create(dir, "verify.sqlite").await?;
            drop(f);
            Some(p)
        }
        None => None,
    };
    let src = open(path, Some(OpenFlags::SQLITE_OPEN_READ_ONLY), key)?;
    let mut dst = match &scratch {
        Some(p) => open(&p.path, None, key)?,
        None => Connection::open_in_memory().map_err(lite_err("opening memory"))?,
    };
    let pages = copy_pages(&src, &mut dst, "restore", hooks)?;
    let mut st = dst
        .prepare("PRAGMA integrity_check")
        .map_err(lite_err("checking integrity"))?;
    let msgs: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(lite_err("checking integrity"))?;
    drop(st);
    let problems = if msgs == ["ok"] { vec![] } else { msgs };
    let counts = sqlite_counts(&dst)?;
    drop(dst);
    drop(scratch);
    Ok((pages, counts, problems))
}

pub(crate) async fn verify(
    snap: &Snapshot,
    key: Option<&str>,
    hooks: Work<'_>,
) -> Result<Verification> {
    let path = PathBuf::from(&snap.path);
    let mut v = Verification {
        snapshot_id: Some(snap.id),
        path: snap.path.clone(),
        ok: false,
        checksum_ok: false,
        expected_sha256: snap.sha256.clone(),
        actual_sha256: None,
        readable: false,
        entries: 0,
        scratch_database: Some(":memory:".into()),
        restore_ms: None,
        tables: vec![],
        problems: vec![],
        skipped_extensions: vec![],
        verified_at: now(),
    };
    if !path.is_file() {
        v.problems
            .push(format!("the backup file {} is missing", path.display()));
        return Ok(v);
    }
    let (size, sum) = sha256_file(&path, "checksum", hooks).await?;
    v.checksum_ok = snap.sha256.as_deref() == Some(sum.as_str());
    if size as i64 != snap.size {
        v.problems.push(format!(
            "the file is {size} bytes, {} were written: it was truncated or altered",
            snap.size
        ));
    }
    if !v.checksum_ok {
        v.problems.push(format!(
            "checksum mismatch: recorded {}, file has {sum}: the file was altered or corrupted",
            snap.sha256.as_deref().unwrap_or("nothing")
        ));
    }
    v.actual_sha256 = Some(sum);
    let started = Instant::now();
    let restored = match key_for(&path, key) {
        Ok(k) => test_restore(&path, k, hooks).await,
        Err(e) => Err(e),
    };
    match restored {
        Ok((pages, actual, integrity)) => {
            v.readable = integrity.is_empty();
            v.entries = pages;
            v.restore_ms = Some(started.elapsed().as_millis() as i64);
            v.problems
                .extend(integrity.into_iter().map(|m| format!("integrity: {m}")));
            v.tables = counts::compare(snap.table_counts.as_ref(), &actual);
            for t in v.tables.iter().filter(|t| !t.ok) {
                v.problems.push(format!(
                    "table {}: {:?} rows at backup time, {:?} after restore",
                    t.table, t.expected, t.actual
                ));
            }
        }
        Err(Error::Cancelled) => return Err(Error::Cancelled),
        Err(e) => v.problems.push(format!("test restore failed: {e}")),
    }
    v.ok = v.problems.is_empty();
    Ok(v)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

pub(crate) async fn restore(
    db: &Db,
    op: &Operator,
    snap: Option<&Snapshot>,
    path: &Path,
    opts: &RestoreOptions,
    key: Option<&str>,
    hooks: Work<'_>,
) -> Result<RestoreReport> {
    let s = sqlite(db)?;
    if opts.into.trim().is_empty() {
        return Err(Error::invalid("into", "no file to restore into was named"));
    }
    if !path.is_file() {
        return Err(Error::not_found("backup file", path.display()));
    }
    let into = PathBuf::from(&opts.into);
    let exists = into.exists();
    if exists && !opts.force {
        return Err(Error::conflict(
            "restore_into",
            format!(
                "{} already exists; it is replaced only when asked to (force)",
                into.display()
            ),
        ));
    }
    if let Some(expected) = snap.and_then(|s| s.sha256.as_deref()) {
        let (_, sum) = sha256_file(path, "checksum", hooks).await?;
        if sum != expected {
            return Err(Error::conflict(
                "backup",
                format!("{} does not match its recorded checksum (recorded {expected}, file has {sum}): it was altered or corrupted; restore another backup", path.display()),
            ));
        }
    }
    let key = key_for(path, key)?;
    let live = same_file(&into, s.path());
    if live && key.is_some() && s.cipher().is_some_and(|c| !is_default(c)) {
        return Err(other_cipher(s.path()));
    }
    let started = Instant::now();
    let actual = if live {
        // Over the open workspace: the backup API replaces its pages in place.
        s.with_conn(|conn| {
            let src = open(path, Some(OpenFlags::SQLITE_OPEN_READ_ONLY), key)?;
            copy_pages(&src, conn, "restore", hooks)?;
            let _: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(lite_err("reopening the workspace"))?;
            sqlite_counts(conn)
        })
        .await?
    } else {
        let dir = into
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let fname = into
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "restored.db".into());
        let (partial, file) = Partial::create(&dir, &fname).await?;
        drop(file);
        let counts = {
            let src = open(path, Some(OpenFlags::SQLITE_OPEN_READ_ONLY), key)?;
            let mut dst = open(&partial.path, None, key)?;
            copy_pages(&src, &mut dst, "restore", hooks)?;
            // The partial file is not kept yet: a cancel now still leaves nothing behind.
            hooks.check()?;
            finish_copy(&dst)?;
            let c = sqlite_counts(&dst)?;
            dst.close()
                .map_err(|(_, e)| lite_err("closing the restored file")(e))?;
            c
        };
        for side in ["-wal", "-shm"] {
            let mut p = into.clone().into_os_string();
            p.push(side);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        partial.persist_as(&into)?;
        counts
    };
    let report = RestoreReport {
        snapshot_id: snap.map(|s| s.id),
        path: path.display().to_string(),
        into: into.display().to_string(),
        replaced: exists,
        duration_ms: started.elapsed().as_millis() as i64,
        tables: counts::compare(snap.and_then(|s| s.table_counts.as_ref()), &actual),
        skipped_extensions: vec![],
    };
    let mut tx = db.begin().await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "BACKUP_RESTORE",
            table: "BackupSnapshot",
            target_id: snap.map(|s| s.id),
            old: None,
            new: Some(json!({
                "path": report.path,
                "into": report.into,
                "replaced": exists,
                "duration_ms": report.duration_ms,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}
