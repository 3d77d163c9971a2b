//! PostgreSQL backend: binds [`Value`]s to sqlx, decodes rows by column type, maps errors.

use std::sync::Arc;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Column, Postgres, Row as _, TypeInfo, ValueRef};

use super::value::{Kind, Row, Value};
use super::{inline, Protocol};
use crate::error::{Error, Result};

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

fn bind<'q>(mut q: PgQuery<'q>, params: &'q [Value]) -> PgQuery<'q> {
    for p in params {
        q = match p {
            Value::Null(k) => match k {
                Kind::Bool => q.bind(None::<bool>),
                Kind::Int => q.bind(None::<i64>),
                Kind::Float => q.bind(None::<f64>),
                Kind::Text => q.bind(None::<String>),
                Kind::Uuid => q.bind(None::<uuid::Uuid>),
                Kind::Ts => q.bind(None::<chrono::NaiveDateTime>),
                Kind::Json => q.bind(None::<sqlx::types::Json<serde_json::Value>>),
                Kind::TextArray => q.bind(None::<Vec<String>>),
            },
            Value::Bool(b) => q.bind(*b),
            Value::Int(i) => q.bind(*i),
            Value::Float(f) => q.bind(*f),
            Value::Text(s) => q.bind(s.as_str()),
            Value::Uuid(u) => q.bind(*u),
            Value::Ts(t) => q.bind(*t),
            Value::Json(j) => q.bind(sqlx::types::Json(j)),
            Value::TextArray(a) => q.bind(a.as_slice()),
        };
    }
    q
}

pub(super) async fn query(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    proto: Protocol,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>> {
    let rows = match proto {
        Protocol::Prepared => bind(sqlx::query(sql), params).fetch_all(&mut **tx).await,
        Protocol::Simple => simple_rows(tx, &inline::inline(sql, params)?).await,
    }
    .map_err(map_err)?;
    decode_rows(rows)
}

/// One statement straight on the pool: its own (implicit) transaction, one round trip.
pub(super) async fn query_pool(
    pool: &sqlx::PgPool,
    proto: Protocol,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>> {
    use sqlx::Executor as _;
    let rows = match proto {
        Protocol::Prepared => bind(sqlx::query(sql), params).fetch_all(pool).await,
        Protocol::Simple => {
            pool.fetch_all(sqlx::raw_sql(&inline::inline(sql, params)?))
                .await
        }
    }
    .map_err(map_err)?;
    decode_rows(rows)
}

/// A parameterless script as one simple-protocol message (one implicit transaction).
pub(super) async fn query_script(pool: &sqlx::PgPool, sql: &str) -> Result<Vec<Row>> {
    use sqlx::Executor as _;
    let rows = pool.fetch_all(sqlx::raw_sql(sql)).await.map_err(map_err)?;
    decode_rows(rows)
}

pub(super) async fn execute(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    proto: Protocol,
    sql: &str,
    params: &[Value],
) -> Result<u64> {
    let r = match proto {
        Protocol::Prepared => bind(sqlx::query(sql), params).execute(&mut **tx).await,
        Protocol::Simple => simple_execute(tx, &inline::inline(sql, params)?).await,
    }
    .map_err(map_err)?;
    Ok(r.rows_affected())
}

// Through the connection's `Executor` methods, whose futures are boxed as `Send`: the
// `RawSql` conveniences are not provably `Send` for every lifetime, which async callers (Tauri
// commands) need.
async fn simple_rows(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    sql: &str,
) -> std::result::Result<Vec<PgRow>, sqlx::Error> {
    use sqlx::Executor as _;
    (&mut **tx).fetch_all(sqlx::raw_sql(sql)).await
}

async fn simple_execute(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    sql: &str,
) -> std::result::Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    use sqlx::Executor as _;
    (&mut **tx).execute(sqlx::raw_sql(sql)).await
}

/// Decodes sqlx rows into portable rows. Each column's decoder is chosen once, from the
/// first row's column types (every row of a result has the same), not again for every cell.
pub(crate) fn decode_rows(rows: Vec<PgRow>) -> Result<Vec<Row>> {
    let Some(first) = rows.first() else {
        return Ok(vec![]);
    };
    let columns: Arc<Vec<String>> = Arc::new(
        first
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect(),
    );
    let kinds: Vec<Col> = first
        .columns()
        .iter()
        .map(|c| Col::of(c.type_info().name()))
        .collect();
    rows.iter()
        .map(|r| {
            let values = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| decode(r, i, *k))
                .collect::<Result<Vec<_>>>()?;
            Ok(Row {
                columns: columns.clone(),
                values,
            })
        })
        .collect()
}

/// How a column's values are decoded, by its PostgreSQL type.
#[derive(Debug, Clone, Copy)]
enum Col {
    Uuid,
    Text,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Bool,
    Bytea,
    Ts,
    TsTz,
    Json,
    TextArray,
    Inet,
    /// Enum types arrive in text form; other exotic types must be cast to text in SQL.
    Other,
}

impl Col {
    fn of(type_name: &str) -> Col {
        match type_name {
            "UUID" => Col::Uuid,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => Col::Text,
            "INT2" => Col::Int2,
            "INT4" => Col::Int4,
            "INT8" => Col::Int8,
            "OID" => Col::Oid,
            "FLOAT4" => Col::Float4,
            "FLOAT8" => Col::Float8,
            "BOOL" => Col::Bool,
            "BYTEA" => Col::Bytea,
            "TIMESTAMP" => Col::Ts,
            "TIMESTAMPTZ" => Col::TsTz,
            "JSON" | "JSONB" => Col::Json,
            "TEXT[]" | "VARCHAR[]" | "NAME[]" => Col::TextArray,
            "INET" | "CIDR" => Col::Inet,
            _ => Col::Other,
        }
    }
}

// The column's type was matched once above, so each cell is read without sqlx's per-cell
// type-compatibility check (`try_get_unchecked`); a value that does not parse still fails.
fn decode(row: &PgRow, i: usize, col: Col) -> Result<Value> {
    let raw = row.try_get_raw(i).map_err(map_err)?;
    if raw.is_null() {
        return Ok(Value::Null(Kind::Text));
    }
    drop(raw);
    let e = |err: sqlx::Error| {
        let ty = row.columns()[i].type_info().name().to_owned();
        Error::db(format!("decoding column {i} ({ty}): {err}"))
    };
    Ok(match col {
        Col::Uuid => Value::Uuid(row.try_get_unchecked(i).map_err(e)?),
        Col::Text | Col::Other => Value::Text(row.try_get_unchecked(i).map_err(e)?),
        Col::Int2 => Value::Int(row.try_get_unchecked::<i16, _>(i).map_err(e)? as i64),
        Col::Int4 => Value::Int(row.try_get_unchecked::<i32, _>(i).map_err(e)? as i64),
        Col::Int8 => Value::Int(row.try_get_unchecked(i).map_err(e)?),
        Col::Oid => Value::Int(
            row.try_get_unchecked::<sqlx::postgres::types::Oid, _>(i)
                .map_err(e)?
                .0 as i64,
        ),
        Col::Float4 => Value::Float(row.try_get_unchecked::<f32, _>(i).map_err(e)? as f64),
        Col::Float8 => Value::Float(row.try_get_unchecked(i).map_err(e)?),
        Col::Bool => Value::Bool(row.try_get_unchecked(i).map_err(e)?),
        Col::Bytea => Value::Text(hex::encode(
            row.try_get_unchecked::<Vec<u8>, _>(i).map_err(e)?,
        )),
        Col::Ts => Value::Ts(row.try_get_unchecked(i).map_err(e)?),
        Col::TsTz => Value::Ts(
            row.try_get_unchecked::<chrono::DateTime<chrono::Utc>, _>(i)
                .map_err(e)?
                .naive_utc(),
        ),
        Col::Json => Value::Json(
            row.try_get_unchecked::<sqlx::types::Json<serde_json::Value>, _>(i)
                .map_err(e)?
                .0,
        ),
        Col::TextArray => Value::TextArray(row.try_get_unchecked(i).map_err(e)?),
        Col::Inet => Value::Text(
            row.try_get_unchecked::<sqlx::types::ipnetwork::IpNetwork, _>(i)
                .map_err(e)?
                .ip()
                .to_string(),
        ),
    })
}

/// [`Error::ServerUnreachable`] for the configured server, keeping the driver's error.
fn unreachable_from(reason: String, e: sqlx::Error) -> Error {
    Error::ServerUnreachable {
        target: "the configured server".into(),
        reason,
        source: Some(Box::new(e)),
    }
}

/// Maps a sqlx error to a core error a person can act on.
pub fn map_err(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let msg = db.message().to_owned();
            let constraint = db.constraint().unwrap_or("").to_owned();
            match code.as_str() {
                "23505" => Error::conflict(
                    constraint_field(&constraint),
                    format!(
                        "duplicate value: {} already exists",
                        constraint_field(&constraint)
                    ),
                ),
                "23503" => Error::invalid(
                    constraint_field(&constraint),
                    format!("refers to a row that does not exist or is still referenced ({msg})"),
                ),
                "22001" => Error::invalid("value", format!("too long for its column ({msg})")),
                "22P02" | "22023" => Error::invalid("value", msg),
                "23514" | "23502" => Error::invalid(constraint_field(&constraint), msg),
                "53100" => Error::DiskFull(msg),
                // The database enforces the RBAC matrix for operators' own roles (migration 0010).
                "42501" if msg.contains("this needs the ") => Error::Forbidden {
                    permission: msg
                        .split_once("this needs the ")
                        .map(|(_, rest)| rest.trim_end_matches(" permission").to_owned())
                        .unwrap_or_default(),
                },
                "42501"
                    if [
                        "for table",
                        "for column",
                        "for schema",
                        "for sequence",
                        "temporary",
                    ]
                    .iter()
                    .any(|w| msg.contains(w))
                        || msg.contains("row-level security policy")
                        || msg.starts_with("permission denied: only ") =>
                {
                    Error::Forbidden {
                        permission: format!("a database privilege ({msg})"),
                    }
                }
                "28P01" | "28000" => Error::DatabaseAuth {
                    target: "the configured server".into(),
                    reason: msg,
                    source: Some(Box::new(e)),
                },
                // PgBouncer refusing a SCRAM login (a wrong password, or a role its auth_query
                // does not know) reports a protocol violation rather than 28P01.
                "08P01" if msg.contains("SASL authentication failed") => Error::DatabaseAuth {
                    target: "the configured server (through its connection pooler)".into(),
                    reason: format!("{msg}: wrong password, or a user the pooler cannot look up"),
                    source: Some(Box::new(e)),
                },
                "57014" => Error::db(format!("statement cancelled: {msg}")),
                "25006" => Error::ReadOnly(msg),
                // Named statements of another client on a shared server connection: a
                // transaction-mode pooler the URL did not name.
                "42P05" | "26000" if msg.contains("sqlx_s_") => Error::Config(format!(
                    "the server is behind a connection pooler in transaction mode (PgBouncer, \
                     Supavisor) that shares server connections between clients ({msg}); add \
                     pgbouncer=true to the database URL"
                )),
                _ => Error::Database {
                    message: format!("{msg} (SQLSTATE {code})"),
                    source: Some(Box::new(e)),
                },
            }
        }
        sqlx::Error::Io(io) => unreachable_from(io.to_string(), e),
        sqlx::Error::PoolTimedOut => {
            unreachable_from("timed out waiting for a database connection".into(), e)
        }
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => unreachable_from(e.to_string(), e),
        sqlx::Error::Tls(t) => unreachable_from(format!("TLS: {t}"), e),
        _ => Error::Database {
            message: e.to_string(),
            source: Some(Box::new(e)),
        },
    }
}

/// Guesses the field a constraint is about from its name (`User_email_key` → `email`).
pub(crate) fn constraint_field(constraint: &str) -> String {
    let parts: Vec<&str> = constraint.split('_').collect();
    if parts.len() >= 3 {
        parts[1..parts.len() - 1].join("_")
    } else {
        constraint.to_owned()
    }
}
