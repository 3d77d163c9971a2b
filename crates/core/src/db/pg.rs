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

/// Decodes sqlx rows into portable rows.
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
    rows.iter()
        .map(|r| {
            let values = (0..columns.len())
                .map(|i| decode(r, i))
                .collect::<Result<Vec<_>>>()?;
            Ok(Row {
                columns: columns.clone(),
                values,
            })
        })
        .collect()
}

fn decode(row: &PgRow, i: usize) -> Result<Value> {
    let raw = row.try_get_raw(i).map_err(map_err)?;
    if raw.is_null() {
        return Ok(Value::Null(Kind::Text));
    }
    let ty = raw.type_info().name().to_owned();
    drop(raw);
    let e = |err: sqlx::Error| Error::db(format!("decoding column {i} ({ty}): {err}"));
    Ok(match ty.as_str() {
        "UUID" => Value::Uuid(row.try_get(i).map_err(e)?),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => Value::Text(row.try_get(i).map_err(e)?),
        "INT2" => Value::Int(row.try_get::<i16, _>(i).map_err(e)? as i64),
        "INT4" => Value::Int(row.try_get::<i32, _>(i).map_err(e)? as i64),
        "INT8" => Value::Int(row.try_get(i).map_err(e)?),
        "OID" => Value::Int(
            row.try_get::<sqlx::postgres::types::Oid, _>(i)
                .map_err(e)?
                .0 as i64,
        ),
        "FLOAT4" => Value::Float(row.try_get::<f32, _>(i).map_err(e)? as f64),
        "FLOAT8" => Value::Float(row.try_get(i).map_err(e)?),
        "BOOL" => Value::Bool(row.try_get(i).map_err(e)?),
        "BYTEA" => Value::Text(hex::encode(row.try_get::<Vec<u8>, _>(i).map_err(e)?)),
        "TIMESTAMP" => Value::Ts(row.try_get(i).map_err(e)?),
        "TIMESTAMPTZ" => Value::Ts(
            row.try_get::<chrono::DateTime<chrono::Utc>, _>(i)
                .map_err(e)?
                .naive_utc(),
        ),
        "JSON" | "JSONB" => Value::Json(
            row.try_get::<sqlx::types::Json<serde_json::Value>, _>(i)
                .map_err(e)?
                .0,
        ),
        "TEXT[]" | "VARCHAR[]" | "NAME[]" => Value::TextArray(row.try_get(i).map_err(e)?),
        "INET" | "CIDR" => Value::Text(
            row.try_get::<sqlx::types::ipnetwork::IpNetwork, _>(i)
                .map_err(e)?
                .ip()
                .to_string(),
        ),
        // Enum types arrive in text form; other exotic types must be cast to text in SQL.
        _ => Value::Text(row.try_get_unchecked::<String, _>(i).map_err(e)?),
    })
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
                    .any(|w| msg.contains(w)) =>
                {
                    Error::Forbidden {
                        permission: format!("a database privilege ({msg})"),
                    }
                }
                "28P01" | "28000" => Error::DatabaseAuth {
                    target: "the configured server".into(),
                    reason: msg,
                },
                // PgBouncer refusing a SCRAM login (a wrong password, or a role its auth_query
                // does not know) reports a protocol violation rather than 28P01.
                "08P01" if msg.contains("SASL authentication failed") => Error::DatabaseAuth {
                    target: "the configured server (through its connection pooler)".into(),
                    reason: format!("{msg}: wrong password, or a user the pooler cannot look up"),
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
        sqlx::Error::Io(io) => Error::ServerUnreachable {
            target: "the configured server".into(),
            reason: io.to_string(),
        },
        sqlx::Error::PoolTimedOut => Error::ServerUnreachable {
            target: "the configured server".into(),
            reason: "timed out waiting for a database connection".into(),
        },
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => Error::ServerUnreachable {
            target: "the configured server".into(),
            reason: e.to_string(),
        },
        sqlx::Error::Tls(t) => Error::ServerUnreachable {
            target: "the configured server".into(),
            reason: format!("TLS: {t}"),
        },
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
