//! The store layer: one SQL surface over PostgreSQL (sqlx) and SQLite (rusqlite).
//!
//! Core code writes PostgreSQL-flavoured SQL with `$N` placeholders and `::type` casts; for
//! SQLite [`translate`] rewrites placeholders to `?N` and drops the casts, which SQLite does not
//! need (its schema stores enums as CHECKed text, UUIDs and JSON as text). Behaviour is then
//! written once and runs on both stores; dialect branches are kept for the few spots where the
//! two genuinely differ.

mod bulk;
mod connect;
mod de;
mod inline;
mod pg;
mod sqlite;
pub mod tls;
mod value;

use std::sync::OnceLock;

pub use connect::{redact_url, ConnectOptions, Target};
pub use value::{
    format_ts, now, parse_ts, truncate_ms, value_to_json, Kind, Row, Value, TS_FORMAT,
};

pub use de::DecodeError;
pub use pg::map_err as pg_map_err;
pub use sqlite::{Cipher, CipherHmac, SqliteDb};

use crate::error::{Error, Result};

/// Which SQL dialect a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// How statements reach a PostgreSQL server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A direct connection: the extended protocol with named prepared statements cached per
    /// connection.
    Prepared,
    /// Through a transaction-mode pooler (PgBouncer, Supavisor): the simple protocol with
    /// parameters inlined as typed literals, so no server connection keeps any state of ours
    /// between transactions.
    Simple,
}

/// A connected store: a PostgreSQL pool or the local SQLite file. Which one is private to
/// this module: callers use its methods, [`Db::pg`] for what only PostgreSQL has, and
/// [`Db::sqlite`] for the few places that need SQLite's own API (its backup API, pragmas).
#[derive(Clone)]
pub struct Db(Store);

#[derive(Clone)]
enum Store {
    Pg(sqlx::PgPool, Protocol, Side),
    Sqlite(sqlite::SqliteDb),
}

/// A PostgreSQL store's side pool ([`PgDb::side`]): made on first use, shared by the store's
/// clones.
type Side = std::sync::Arc<OnceLock<Db>>;

/// A PostgreSQL store. Functions that only make sense on PostgreSQL (health, pg_dump backups,
/// operator roles, partitioning, the sync server side, LISTEN) take `&PgDb`, so the
/// requirement shows in their signatures. It dereferences to [`Db`]: everything that works on
/// both stores takes it as it is. Made only from a PostgreSQL [`Db`] ([`Db::pg`]).
#[derive(Clone, ref_cast::RefCastCustom)]
#[repr(transparent)]
pub struct PgDb(Db);

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Store::Pg(_, p, _) => write!(f, "Db::Pg({p:?})"),
            Store::Sqlite(s) => write!(f, "Db::Sqlite({})", s.path().display()),
        }
    }
}

impl std::fmt::Debug for PgDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl PgDb {
    /// Wraps a pool (tests and tools that build their own pool).
    pub fn new(pool: sqlx::PgPool, proto: Protocol) -> PgDb {
        PgDb(Db(Store::Pg(pool, proto, Side::default())))
    }

    /// Only for a `db` holding [`Store::Pg`].
    #[ref_cast::ref_cast_custom]
    fn wrap(db: &Db) -> &PgDb;

    /// The sqlx pool, for PostgreSQL-only work the SQL surface does not cover (LISTEN,
    /// pool statistics, connections to other databases of the server).
    pub fn pool(&self) -> &sqlx::PgPool {
        match &self.0 .0 {
            Store::Pg(pool, ..) => pool,
            Store::Sqlite(_) => unreachable!("a PgDb is made only from a PostgreSQL store"),
        }
    }

    /// How statements reach the server (prepared, or a pooler's simple protocol).
    pub fn protocol(&self) -> Protocol {
        match &self.0 .0 {
            Store::Pg(_, proto, _) => *proto,
            Store::Sqlite(_) => Protocol::Prepared,
        }
    }

    /// A second, small pool beside this one: the same server, role and TLS, built on first use
    /// by `build` from this store's pool (e.g. its connect options, settings of its own made
    /// on each connection, a size of its own), kept for the store's life and closed with it
    /// ([`Db::close`]). For readers that need settings of their own on every connection without
    /// changing the connections the rest of the work borrows. One per store: the first
    /// caller's `build` makes it, later callers get that pool.
    pub fn side(&self, build: impl FnOnce(&sqlx::PgPool) -> sqlx::PgPool) -> &Db {
        match &self.0 .0 {
            Store::Pg(pool, proto, side) => {
                side.get_or_init(|| PgDb::new(build(pool), *proto).into())
            }
            Store::Sqlite(_) => unreachable!("a PgDb is made only from a PostgreSQL store"),
        }
    }

    /// Runs statements outside any transaction block, for the commands that refuse one
    /// (`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`).
    pub async fn batch_autocommit(&self, sql: &str) -> Result<()> {
        use sqlx::Executor;
        self.pool()
            .execute(sqlx::raw_sql(sql))
            .await
            .map(|_| ())
            .map_err(pg::map_err)
    }
}

impl std::ops::Deref for PgDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.0
    }
}

impl From<PgDb> for Db {
    fn from(p: PgDb) -> Db {
        p.0
    }
}

impl Db {
    /// Connects to a target (fails fast with a clear error when unreachable).
    pub async fn connect(target: &Target, opts: &ConnectOptions) -> Result<Db> {
        connect::connect(target, opts).await
    }

    /// Opens (creating if needed) a local SQLite store at `path`.
    pub fn open_sqlite(path: &std::path::Path) -> Result<Db> {
        Ok(Db(Store::Sqlite(sqlite::SqliteDb::open(path, None)?)))
    }

    /// Opens a local SQLite store encrypted with SQLCipher under `key`.
    pub fn open_sqlite_encrypted(path: &std::path::Path, key: &str) -> Result<Db> {
        Ok(Db(Store::Sqlite(sqlite::SqliteDb::open(path, Some(key))?)))
    }

    /// The dialect of this store.
    pub fn dialect(&self) -> Dialect {
        match &self.0 {
            Store::Pg(..) => Dialect::Postgres,
            Store::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The PostgreSQL store, when this is one.
    pub fn pg(&self) -> Option<&PgDb> {
        match &self.0 {
            Store::Pg(..) => Some(PgDb::wrap(self)),
            Store::Sqlite(_) => None,
        }
    }

    /// The PostgreSQL store, or the error that `what` needs a PostgreSQL database.
    pub fn as_pg(&self, what: &str) -> Result<&PgDb> {
        self.pg().ok_or_else(|| {
            Error::invalid(
                "database",
                format!(
                    "{what} needs a PostgreSQL database, and this is the local SQLite workspace"
                ),
            )
        })
    }

    /// The local SQLite store, when this is one.
    pub fn sqlite(&self) -> Option<&sqlite::SqliteDb> {
        match &self.0 {
            Store::Pg(..) => None,
            Store::Sqlite(s) => Some(s),
        }
    }

    /// True when this PostgreSQL store goes through a transaction-mode connection pooler
    /// (`pgbouncer=true` in the URL, or detected at connect): features that need session state
    /// on the server (pg_dump, pg_restore, ALTER SYSTEM) need the server's direct URL.
    pub fn pooled(&self) -> bool {
        matches!(self.0, Store::Pg(_, Protocol::Simple, _))
    }

    /// The SQLite file path, when this is a local store.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.sqlite().map(sqlite::SqliteDb::path)
    }

    /// Starts a transaction. Every core operation runs inside one.
    pub async fn begin(&self) -> Result<Tx> {
        match &self.0 {
            Store::Pg(pool, proto, _) => Ok(Tx(TxInner::Pg(
                pool.begin().await.map_err(pg::map_err)?,
                *proto,
            ))),
            Store::Sqlite(s) => Ok(Tx(TxInner::Sqlite(s.begin().await?))),
        }
    }

    /// Starts a transaction that only reads (lists, counts, details). On SQLite it runs on a
    /// read-only connection beside the writer's, so it waits neither for a write nor for
    /// another read, and a write in it fails; on PostgreSQL it is [`Db::begin`].
    pub async fn begin_read(&self) -> Result<Tx> {
        match &self.0 {
            Store::Pg(..) => self.begin().await,
            Store::Sqlite(s) => Ok(Tx(TxInner::Sqlite(s.begin_read().await?))),
        }
    }

    /// Runs one statement in its own transaction and returns the rows (on PostgreSQL straight
    /// on the pool: the statement is its own transaction, one round trip).
    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        if let Store::Pg(pool, proto, _) = &self.0 {
            return pg::query_pool(pool, *proto, sql, params).await;
        }
        let mut tx = self.begin().await?;
        let rows = tx.query(sql, params).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Runs one statement as [`Db::query`] and decodes every row into `T` (see [`Row::decode`]).
    pub async fn query_as<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<T>> {
        decode_all(&self.query(sql, params).await?)
    }

    /// Runs one statement as [`Db::query`], expecting exactly one row, decoded into `T`.
    pub async fn query_one_as<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<T> {
        self.query(sql, params)
            .await?
            .first()
            .ok_or_else(|| Error::db("query returned no row"))?
            .decode()
    }

    /// Runs a script of statements without parameters as one message and returns their rows
    /// (they must share their columns: e.g. `SET LOCAL`s, then one query). On PostgreSQL: one
    /// round trip and one implicit transaction, so `SET LOCAL` holds for the whole script and an
    /// error rolls all of it back. On SQLite: one statement, as [`Db::query`].
    pub async fn query_script(&self, sql: &str) -> Result<Vec<Row>> {
        match &self.0 {
            Store::Pg(pool, ..) => pg::query_script(pool, sql).await,
            Store::Sqlite(_) => self.query(sql, &[]).await,
        }
    }

    /// Closes the store (waits for pooled connections to close).
    pub async fn close(&self) {
        if let Store::Pg(pool, _, side) = &self.0 {
            if let Some(side) = side.get() {
                Box::pin(side.close()).await;
            }
            pool.close().await;
        }
    }
}

/// Decodes every row into `T` (see [`Row::decode`]).
fn decode_all<T: serde::de::DeserializeOwned>(rows: &[Row]) -> Result<Vec<T>> {
    rows.iter().map(Row::decode).collect()
}

/// An open transaction on either store. Dropping it without [`Tx::commit`] rolls back.
pub struct Tx(TxInner);

enum TxInner {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>, Protocol),
    Sqlite(sqlite::SqliteTx),
}

impl Tx {
    /// A transaction on a connection of the caller's own (tests of the pooler protocol).
    pub fn from_pg(tx: sqlx::Transaction<'static, sqlx::Postgres>, proto: Protocol) -> Tx {
        Tx(TxInner::Pg(tx, proto))
    }

    /// The dialect of the underlying store.
    pub fn dialect(&self) -> Dialect {
        match &self.0 {
            TxInner::Pg(..) => Dialect::Postgres,
            TxInner::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Runs a query and returns all rows.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match &mut self.0 {
            TxInner::Pg(tx, proto) => pg::query(tx, *proto, sql, params).await,
            TxInner::Sqlite(tx) => tx.query(&translate(sql), params),
        }
    }

    /// Runs a query expected to return at most one row.
    pub async fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs a query expected to return exactly one row.
    pub async fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row> {
        self.query_opt(sql, params)
            .await?
            .ok_or_else(|| Error::db("query returned no row"))
    }

    /// Runs a query and decodes every row into `T` (see [`Row::decode`]).
    pub async fn query_as<T: serde::de::DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<T>> {
        decode_all(&self.query(sql, params).await?)
    }

    /// Runs a query expected to return at most one row, decoded into `T`.
    pub async fn query_opt_as<T: serde::de::DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<Option<T>> {
        self.query_opt(sql, params)
            .await?
            .as_ref()
            .map(Row::decode)
            .transpose()
    }

    /// Runs a query expected to return exactly one row, decoded into `T`.
    pub async fn query_one_as<T: serde::de::DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<T> {
        self.query_one(sql, params).await?.decode()
    }

    /// Runs a statement and returns the number of affected rows.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        match &mut self.0 {
            TxInner::Pg(tx, proto) => pg::execute(tx, *proto, sql, params).await,
            TxInner::Sqlite(tx) => tx.execute(&translate(sql), params),
        }
    }

    /// Runs a script of several statements without parameters (migrations).
    pub async fn batch(&mut self, sql: &str) -> Result<()> {
        match &mut self.0 {
            TxInner::Pg(tx, _) => {
                // Called on the connection (not `raw_sql(..).execute(conn)`), so the future is
                // `Send` for every lifetime and callers need no blocking-thread detour.
                use sqlx::Executor;
                (&mut **tx)
                    .execute(sqlx::raw_sql(sql))
                    .await
                    .map_err(pg::map_err)?;
                Ok(())
            }
            TxInner::Sqlite(tx) => tx.batch(sql),
        }
    }

    /// Loads rows of text values (`None` = NULL) into `table`'s `cols` as fast as the store
    /// allows: `COPY … FROM STDIN` on PostgreSQL, one prepared INSERT on SQLite. Returns the
    /// rows loaded.
    pub async fn bulk_load(
        &mut self,
        table: &str,
        cols: &[&str],
        rows: impl Iterator<Item = Vec<Option<String>>>,
    ) -> Result<u64> {
        match &mut self.0 {
            TxInner::Pg(tx, _) => bulk::copy_in(tx, table, cols, rows).await,
            TxInner::Sqlite(tx) => bulk::insert(tx.conn(), table, cols, rows),
        }
    }

    /// Runs `COPY (<select>) TO STDOUT` (text format) on PostgreSQL and hands each chunk of
    /// the output to `chunk` as it arrives. Refused on SQLite.
    pub async fn copy_out(
        &mut self,
        select: &str,
        chunk: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        match &mut self.0 {
            TxInner::Pg(tx, _) => bulk::copy_out(tx, select, chunk).await,
            TxInner::Sqlite(_) => Err(Error::db("COPY needs a PostgreSQL server")),
        }
    }

    /// [`Tx::copy_out`] of a `select` with `$N` parameters, inlined as typed literals (COPY
    /// takes no bound parameters; the same literals as through a pooler).
    pub async fn copy_out_with(
        &mut self,
        select: &str,
        params: &[Value],
        chunk: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let select = inline::inline(select, params)?;
        self.copy_out(&select, chunk).await
    }

    /// Runs `f` on this transaction's raw SQLite connection (the sync cache's bulk writes).
    /// `f` must not end the transaction. Refused on PostgreSQL.
    pub fn with_sqlite_conn<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T>,
    ) -> Result<T> {
        match &mut self.0 {
            TxInner::Sqlite(tx) => f(tx.conn()),
            TxInner::Pg(..) => Err(Error::db("this needs the local SQLite store")),
        }
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<()> {
        match self.0 {
            TxInner::Pg(tx, _) => tx.commit().await.map_err(pg::map_err),
            TxInner::Sqlite(tx) => tx.commit(),
        }
    }

    /// Rolls the transaction back explicitly.
    pub async fn rollback(self) -> Result<()> {
        match self.0 {
            TxInner::Pg(tx, _) => tx.rollback().await.map_err(pg::map_err),
            TxInner::Sqlite(tx) => tx.rollback(),
        }
    }
}

/// Rewrites PostgreSQL-flavoured SQL for SQLite: `$N` → `?N`, drops `::type` casts,
/// `ILIKE` → `LIKE` (ASCII case-insensitive in SQLite), drops `FOR UPDATE`.
pub fn translate(sql: &str) -> String {
    static RE: OnceLock<[(regex::Regex, &'static str); 4]> = OnceLock::new();
    let res = RE.get_or_init(|| {
        let r = |p: &str| regex::Regex::new(p).expect("static regex");
        [
            (r(r"\$(\d+)"), "?$1"),
            (
                r(r#"::(?:"[A-Za-z_][A-Za-z0-9_]*"|[a-z_][a-z0-9_]*)(?:\[\])?"#),
                "",
            ),
            (r(r"(?i)\bILIKE\b"), "LIKE"),
            (
                r(r"(?i)\s+FOR\s+(?:UPDATE|SHARE)(?:\s+SKIP\s+LOCKED)?\b"),
                "",
            ),
        ]
    });
    let mut out = sql.to_owned();
    for (re, rep) in res.iter() {
        if re.is_match(&out) {
            out = re.replace_all(&out, *rep).into_owned();
        }
    }
    out
}

/// Quotes an identifier for both dialects (`"Name"`).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn translate_rewrites_placeholders_and_casts() {
        assert_eq!(
            translate(
                r#"UPDATE "User" SET "role" = $1::"UserRole", "id" = $2::uuid WHERE x ILIKE $10 FOR UPDATE"#
            ),
            r#"UPDATE "User" SET "role" = ?1, "id" = ?2 WHERE x LIKE ?10"#
        );
        assert_eq!(translate("SELECT $1::text[]"), "SELECT ?1");
    }

    /// Every keyed store (workspace, offline cache) encrypts through `ncy_cipher`, not
    /// SQLCipher's OpenSSL provider (the cost per page, BENCHMARKS.md, issue 17).
    #[tokio::test]
    async fn keyed_stores_encrypt_through_the_rustcrypto_provider() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cipher = super::Cipher {
            page_size: 1024,
            hmac: super::CipherHmac::Sha256,
        };
        let db =
            super::Db::open_sqlite_cipher(&dir.path().join("w.db"), "a key", cipher).expect("open");
        let provider: String = db
            .sqlite()
            .expect("a SQLite store")
            .with_conn(|c| {
                c.query_row("PRAGMA cipher_provider", [], |r| r.get(0))
                    .map_err(|e| crate::Error::db(e.to_string()))
            })
            .await
            .expect("cipher_provider");
        assert_eq!(provider, "rustcrypto");
    }
}
