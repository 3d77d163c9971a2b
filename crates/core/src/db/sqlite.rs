//! SQLite backend (rusqlite, SQLCipher-capable): one writing connection behind an async mutex,
//! WAL, foreign keys on, busy timeout; transactions hold the connection until commit or
//! rollback. Read transactions ([`SqliteDb::begin_read`]) run on a few read-only connections
//! beside it, so a long count does not hold up a page or a write.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};
use zeroize::Zeroizing;

use super::value::{format_ts, Row, Value};
use crate::error::{Error, Result};

/// A local SQLite store. Outside `db` only its path and [`SqliteDb::with_conn`] are
/// reachable (through [`super::Db::sqlite`]), for SQLite's own APIs (backup, pragmas).
#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    readers: Arc<Readers>,
}

/// Read transactions at once on one store; more wait for a free reader.
const MAX_READERS: u32 = 4;

/// The read-only connections: opened when first needed, kept while idle. A permit is held for
/// each one in use; [`SqliteDb::with_conn`] takes them all, so raw work (backups, bulk loads,
/// restores) runs alone, and it drops the idle ones after.
struct Readers {
    idle: std::sync::Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    /// The key and cipher settings the file was opened with (in memory only, wiped on drop).
    key: Option<Zeroizing<String>>,
    cipher: Option<Cipher>,
}

/// The HMAC with which SQLCipher authenticates each page (`cipher_hmac_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherHmac {
    /// HMAC-SHA512, SQLCipher 4's default.
    Sha512,
    /// HMAC-SHA256: the same protection for a page, and cheaper per page where the CPU
    /// hashes SHA-256 in hardware.
    Sha256,
}

/// The SQLCipher settings a file is made with; it opens only with the same ones (any other
/// reads as a wrong key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cipher {
    /// Page size in bytes (`cipher_page_size`; SQLCipher's default is 4096).
    pub page_size: u32,
    pub hmac: CipherHmac,
}

impl Readers {
    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().map(|mut v| v.pop()).unwrap_or(None)
    }

    fn clear(&self) {
        if let Ok(mut v) = self.idle.lock() {
            v.clear();
        }
    }
}

impl SqliteDb {
    /// Opens or creates the file, applies the key (SQLCipher) and the connection pragmas.
    pub(super) fn open(path: &Path, key: Option<&str>) -> Result<Self> {
        Self::open_with(path, key, None)
    }

    /// [`SqliteDb::open`] with SQLCipher settings other than its defaults (see [`Cipher`]).
    fn open_with(path: &Path, key: Option<&str>, cipher: Option<Cipher>) -> Result<Self> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            }
        }
        let conn = connect(path, key, cipher, false)?;
        Ok(SqliteDb {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path.to_owned()),
            readers: Arc::new(Readers {
                idle: std::sync::Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(MAX_READERS as usize)),
                key: key.map(|k| Zeroizing::new(k.to_owned())),
                cipher,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLCipher settings the file was opened with, when others than SQLCipher's defaults
    /// were asked for (`None`: the defaults, or a plain file).
    pub fn cipher(&self) -> Option<Cipher> {
        self.readers.cipher
    }

    /// Begins an IMMEDIATE transaction (takes the write lock up front: no upgrade deadlocks).
    pub(super) async fn begin(&self) -> Result<SqliteTx> {
        let guard = self.conn.clone().lock_owned().await;
        guard.execute_batch("BEGIN IMMEDIATE").map_err(map_err)?;
        Ok(SqliteTx {
            conn: Held::Write(guard),
            open: true,
        })
    }

    /// Begins a read transaction on a read-only connection (DEFERRED: its snapshot is taken
    /// at its first read). It waits neither for the writer nor for other readers (WAL); a
    /// write in it fails.
    pub(super) async fn begin_read(&self) -> Result<SqliteTx> {
        let permit = self
            .readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::db("the local workspace is closing"))?;
        let conn = match self.readers.take_idle() {
            Some(c) => c,
            None => {
                let r = &self.readers;
                connect(
                    &self.path,
                    r.key.as_deref().map(String::as_str),
                    r.cipher,
                    true,
                )?
            }
        };
        let reader = Reader {
            conn: Some(conn),
            readers: self.readers.clone(),
            _permit: permit,
        };
        reader.execute_batch("BEGIN").map_err(map_err)?;
        Ok(SqliteTx {
            conn: Held::Read(reader),
            open: true,
        })
    }

    /// Runs `f` with exclusive access to the raw connection (backups, bulk loads): no read
    /// transaction runs meanwhile, and the readers reopen afterwards.
    pub async fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().await;
        let _all = self
            .readers
            .permits
            .acquire_many(MAX_READERS)
            .await
            .map_err(|_| Error::db("the local workspace is closing"))?;
        let r = blocking(|| f(&mut guard));
        self.readers.clear();
        r
    }
}

/// Opens one connection to the file: the key, the cipher settings, a check that the key is right,
/// then the pragmas (a reader is read-only and `query_only`; the writer turns on foreign keys
/// and WAL).
fn connect(
    path: &Path,
    key: Option<&str>,
    cipher: Option<Cipher>,
    read_only: bool,
) -> Result<Connection> {
    let local_err = |reason: String, e: rusqlite::Error| Error::LocalStore {
        path: path.display().to_string(),
        reason,
        source: Some(Box::new(e)),
    };
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| local_err(e.to_string(), e))?;
    if let Some(key) = key {
        ncy_cipher::install();
        conn.pragma_update(None, "key", key)
            .map_err(|e| local_err(e.to_string(), e))?;
        if let Some(c) = cipher {
            conn.pragma_update(None, "cipher_page_size", c.page_size)
                .map_err(|e| local_err(e.to_string(), e))?;
            let hmac = match c.hmac {
                CipherHmac::Sha512 => "HMAC_SHA512",
                CipherHmac::Sha256 => "HMAC_SHA256",
            };
            conn.pragma_update(None, "cipher_hmac_algorithm", hmac)
                .map_err(|e| local_err(e.to_string(), e))?;
        }
    }
    // Reading the schema proves the key (or the absence of one) is right.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => local_err(
            if key.is_some() {
                "wrong encryption key, or the file is not an NCY Admin workspace".into()
            } else {
                "the file is encrypted or is not a database; open it with its key".into()
            },
            e,
        ),
        _ => local_err(e.to_string(), e),
    })?;
    if read_only {
        conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;")
            .map_err(|e| local_err(e.to_string(), e))?;
        return Ok(conn);
    }
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
    )
    .map_err(|e| local_err(e.to_string(), e))?;
    let _: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| local_err(e.to_string(), e))?;
    Ok(conn)
}

/// A read-only connection lent to one read transaction; back to the idle list on drop.
struct Reader {
    conn: Option<Connection>,
    readers: Arc<Readers>,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for Reader {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until dropped")
    }
}

impl std::ops::DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Kept only when no transaction is left open on it.
        if let Some(c) = self.conn.take().filter(Connection::is_autocommit) {
            if let Ok(mut idle) = self.readers.idle.lock() {
                idle.push(c);
            }
        }
    }
}

/// The connection a transaction holds: the writer's, or a reader's.
enum Held {
    Write(OwnedMutexGuard<Connection>),
    Read(Reader),
}

impl std::ops::Deref for Held {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Held::Write(g) => g,
            Held::Read(r) => r,
        }
    }
}

impl std::ops::DerefMut for Held {
    fn deref_mut(&mut self) -> &mut Connection {
        match self {
            Held::Write(g) => g,
            Held::Read(r) => r,
        }
    }
}

impl super::Db {
    /// Opens a local SQLite store encrypted with SQLCipher under `key`, with the `cipher`
    /// settings (a new file is made with them; an existing one opens only with the settings it
    /// was made with, any other reading as a wrong key).
    pub fn open_sqlite_cipher(path: &Path, key: &str, cipher: Cipher) -> Result<super::Db> {
        Ok(super::Db(super::Store::Sqlite(SqliteDb::open_with(
            path,
            Some(key),
            Some(cipher),
        )?)))
    }
}

/// An open SQLite transaction; rolls back on drop unless committed.
pub(super) struct SqliteTx {
    conn: Held,
    open: bool,
}

struct P<'a>(&'a Value);

impl rusqlite::ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as V;
        Ok(match self.0 {
            Value::Null(_) => ToSqlOutput::Owned(V::Null),
            Value::Bool(b) => ToSqlOutput::Owned(V::Integer(*b as i64)),
            Value::Int(i) => ToSqlOutput::Owned(V::Integer(*i)),
            Value::Float(f) => ToSqlOutput::Owned(V::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Uuid(u) => ToSqlOutput::Owned(V::Text(u.to_string())),
            Value::Ts(t) => ToSqlOutput::Owned(V::Text(format_ts(t))),
            Value::Json(j) => ToSqlOutput::Owned(V::Text(j.to_string())),
            Value::TextArray(a) => ToSqlOutput::Owned(V::Text(
                serde_json::to_string(a).unwrap_or_else(|_| "[]".into()),
            )),
        })
    }
}

fn bind_params(params: &[Value]) -> Vec<P<'_>> {
    params.iter().map(P).collect()
}

impl SqliteTx {
    /// The raw connection inside this transaction.
    pub(super) fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(super) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        // A read may be long (a dashboard count): it tells the runtime it blocks.
        if matches!(self.conn, Held::Read(_)) {
            blocking(|| self.query_now(sql, params))
        } else {
            self.query_now(sql, params)
        }
    }

    fn query_now(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let columns: Arc<Vec<String>> =
            Arc::new(stmt.column_names().iter().map(|s| s.to_string()).collect());
        let n = columns.len();
        let p = bind_params(params);
        let mut rows = stmt
            .query(rusqlite::params_from_iter(p.iter()))
            .map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(map_err)? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(match r.get_ref(i).map_err(map_err)? {
                    ValueRef::Null => Value::Null(super::Kind::Text),
                    ValueRef::Integer(i) => Value::Int(i),
                    ValueRef::Real(f) => Value::Float(f),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Text(hex::encode(b)),
                });
            }
            out.push(Row {
                columns: columns.clone(),
                values,
            });
        }
        Ok(out)
    }

    pub(super) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let p = bind_params(params);
        let n = stmt
            .execute(rusqlite::params_from_iter(p.iter()))
            .map_err(map_err)?;
        Ok(n as u64)
    }

    pub(super) fn batch(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(map_err)
    }

    pub(super) fn commit(mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(map_err)?;
        self.open = false;
        Ok(())
    }

    pub(super) fn rollback(mut self) -> Result<()> {
        self.open = false;
        self.conn.execute_batch("ROLLBACK").map_err(map_err)
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Runs blocking SQLite work from async code. On a multi-threaded runtime the worker first
/// hands its queued tasks to another thread (`block_in_place`): a task this one woke, such as
/// the next waiter for a lock it released, would otherwise sit in this worker's LIFO slot,
/// which no other worker steals, until the statement ends (measured: a 200-row page waited
/// 48 ms, the length of the dashboard's counts on 1M users). Elsewhere it simply runs.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Maps a rusqlite error to a core error a person can act on.
pub(crate) fn map_err(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        let msg = msg.clone().unwrap_or_default();
        match f.code {
            C::ConstraintViolation => {
                if let Some(rest) = msg.strip_prefix("UNIQUE constraint failed: ") {
                    let field = rest
                        .split(", ")
                        .map(|c| c.split('.').nth(1).unwrap_or(c))
                        .collect::<Vec<_>>()
                        .join("_");
                    return Error::conflict(
                        field.clone(),
                        format!("duplicate value: {field} already exists"),
                    );
                }
                if msg.starts_with("FOREIGN KEY") {
                    return Error::invalid(
                        "reference",
                        "refers to a row that does not exist or is still referenced",
                    );
                }
                return Error::invalid("value", msg);
            }
            C::DiskFull => return Error::DiskFull(msg),
            C::NotADatabase => {
                return Error::LocalStore {
                    path: String::new(),
                    reason: "not a database, or the wrong encryption key".into(),
                    source: Some(Box::new(e)),
                }
            }
            C::DatabaseBusy | C::DatabaseLocked => {
                return Error::db(format!(
                    "the local workspace is busy (another ncy-admin is writing); retry: {msg}"
                ))
            }
            _ => {}
        }
    }
    Error::Database {
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}
