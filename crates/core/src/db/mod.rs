//! The store layer: one SQL surface over PostgreSQL (sqlx) and SQLite (rusqlite).
//!
//! Core code writes PostgreSQL-flavoured SQL with `$N` placeholders and `::type` casts; for
//! SQLite [`translate`] rewrites placeholders to `?N` and drops the casts, which SQLite does not
//! need (its schema stores enums as CHECKed text, UUIDs and JSON as text). Behaviour is then
//! written once and runs on both stores; dialect branches are kept for the few spots where the
//! two genuinely differ.

mod connect;
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

pub use pg::map_err as pg_map_err;
pub(crate) use sqlite::map_err as sqlite_map_err;
pub use sqlite::{SqliteDb, SqliteTx};

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

/// A connected store: a PostgreSQL pool or the local SQLite file.
#[derive(Clone)]
pub enum Db {
    Pg(sqlx::PgPool, Protocol),
    Sqlite(sqlite::SqliteDb),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Db::Pg(_, p) => write!(f, "Db::Pg({p:?})"),
            Db::Sqlite(s) => write!(f, "Db::Sqlite({})", s.path().display()),
        }
    }
}

impl Db {
    /// Connects to a target (fails fast with a clear error when unreachable).
    pub async fn connect(target: &Target, opts: &ConnectOptions) -> Result<Db> {
        connect::connect(target, opts).await
    }

    /// Opens (creating if needed) a local SQLite store at `path`.
    pub fn open_sqlite(path: &std::path::Path) -> Result<Db> {
        Ok(Db::Sqlite(sqlite::SqliteDb::open(path, None)?))
    }

    /// Opens a local SQLite store encrypted with SQLCipher under `key`.
    pub fn open_sqlite_encrypted(path: &std::path::Path, key: &str) -> Result<Db> {
        Ok(Db::Sqlite(sqlite::SqliteDb::open(path, Some(key))?))
    }

    /// The dialect of this store.
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Pg(..) => Dialect::Postgres,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The PostgreSQL pool, when this is a PostgreSQL store.
    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match self {
            Db::Pg(p, _) => Some(p),
            Db::Sqlite(_) => None,
        }
    }

    /// True when this PostgreSQL store goes through a transaction-mode connection pooler
    /// (`pgbouncer=true` in the URL, or detected at connect): features that need session state
    /// on the server (pg_dump, pg_restore, ALTER SYSTEM) need the server's direct URL.
    pub fn pooled(&self) -> bool {
        matches!(self, Db::Pg(_, Protocol::Simple))
    }

    /// The SQLite file path, when this is a local store.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            Db::Pg(..) => None,
            Db::Sqlite(s) => Some(s.path()),
        }
    }

    /// Starts a transaction. Every core operation runs inside one.
    pub async fn begin(&self) -> Result<Tx> {
        match self {
            Db::Pg(pool, proto) => Ok(Tx::Pg(pool.begin().await.map_err(pg::map_err)?, *proto)),
            Db::Sqlite(s) => Ok(Tx::Sqlite(s.begin().await?)),
        }
    }

    /// Runs one statement in its own transaction and returns the rows (on PostgreSQL straight
    /// on the pool: the statement is its own transaction, one round trip).
    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        if let Db::Pg(pool, proto) = self {
            return pg::query_pool(pool, *proto, sql, params).await;
        }
        let mut tx = self.begin().await?;
        let rows = tx.query(sql, params).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Runs a script of statements without parameters as one message and returns their rows
    /// (they must share their columns: e.g. `SET LOCAL`s, then one query). On PostgreSQL: one
    /// round trip and one implicit transaction, so `SET LOCAL` holds for the whole script and an
    /// error rolls all of it back. On SQLite: one statement, as [`Db::query`].
    pub async fn query_script(&self, sql: &str) -> Result<Vec<Row>> {
        match self {
            Db::Pg(pool, _) => pg::query_script(pool, sql).await,
            Db::Sqlite(_) => self.query(sql, &[]).await,
        }
    }

    /// Closes the store (waits for pooled connections to close).
    pub async fn close(&self) {
        if let Db::Pg(p, _) = self {
            p.close().await;
        }
    }
}

/// An open transaction on either store. Dropping it without [`Tx::commit`] rolls back.
pub enum Tx {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>, Protocol),
    Sqlite(sqlite::SqliteTx),
}

impl Tx {
    /// The dialect of the underlying store.
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Pg(..) => Dialect::Postgres,
            Tx::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Runs a query and returns all rows.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match self {
            Tx::Pg(tx, proto) => pg::query(tx, *proto, sql, params).await,
            Tx::Sqlite(tx) => tx.query(&translate(sql), params),
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

    /// Runs a statement and returns the number of affected rows.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Tx::Pg(tx, proto) => pg::execute(tx, *proto, sql, params).await,
            Tx::Sqlite(tx) => tx.execute(&translate(sql), params),
        }
    }

    /// Runs a script of several statements without parameters (migrations).
    pub async fn batch(&mut self, sql: &str) -> Result<()> {
        match self {
            Tx::Pg(tx, _) => {
                sqlx::raw_sql(sql)
                    .execute(&mut **tx)
                    .await
                    .map_err(pg::map_err)?;
                Ok(())
            }
            Tx::Sqlite(tx) => tx.batch(sql),
        }
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Pg(tx, _) => tx.commit().await.map_err(pg::map_err),
            Tx::Sqlite(tx) => tx.commit(),
        }
    }

    /// Rolls the transaction back explicitly.
    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Pg(tx, _) => tx.rollback().await.map_err(pg::map_err),
            Tx::Sqlite(tx) => tx.rollback(),
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
}
