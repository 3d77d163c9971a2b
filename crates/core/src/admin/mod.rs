//! Everything an administrator does, store-agnostic: users, organizations, teams, projects,
//! tasks and the log viewers. Each operation checks a permission first, validates its input,
//! runs in one transaction and writes its AuditLog row in that same transaction.

pub mod backup_age;
pub mod logs;
pub mod operators;
pub mod orgs;
pub mod projects;
pub mod settings;
pub mod stats;
pub mod task_batch;
pub mod tasks;
pub mod users;
mod validate;

use base64::Engine as _;
use chrono::NaiveDateTime;
use serde::Serialize;
use uuid::Uuid;

pub use validate::{
    email as validate_email, json_object as validate_json_object, slug as validate_slug,
    text as validate_text,
};

use crate::db::{format_ts, parse_ts, Tx, Value};
use crate::error::{Error, Result};
use crate::params;

/// One page of a keyset-paginated list. `next_cursor` is opaque; pass it back as `after`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A keyset position: the `(timestamp, id)` of the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub ts: NaiveDateTime,
    pub id: Uuid,
}

impl Cursor {
    /// Opaque text form.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "{}|{}",
            format_ts(&self.ts),
            self.id
        ))
    }

    /// Parses the opaque text form; a clear error for anything else.
    pub fn decode(s: &str) -> Result<Cursor> {
        let bad = || {
            Error::invalid(
                "cursor",
                "not a cursor returned by a previous page; start from the first page",
            )
        };
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim())
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (ts, id) = raw.split_once('|').ok_or_else(bad)?;
        Ok(Cursor {
            ts: parse_ts(ts).ok_or_else(bad)?,
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }
}

/// Page size bounds.
pub const MAX_LIMIT: u32 = 1000;

/// Clamps a requested page size, refusing zero.
pub fn limit(n: u32) -> Result<i64> {
    if n == 0 || n > MAX_LIMIT {
        return Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok(n as i64)
}

/// Builds a page from rows fetched with `limit + 1` (the extra row proves a next page exists).
pub(crate) fn page_of<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|t| key(t).encode())
    } else {
        None
    };
    Page { items, next_cursor }
}

/// A dynamic WHERE clause with numbered parameters.
#[derive(Default)]
pub(crate) struct Where {
    pub clauses: Vec<String>,
    pub params: Vec<Value>,
}

impl Where {
    /// Adds a parameter and returns its placeholder (`$N`).
    pub fn param(&mut self, v: impl Into<Value>) -> String {
        self.params.push(v.into());
        format!("${}", self.params.len())
    }

    /// Adds a clause built with the next placeholder.
    pub fn push(&mut self, f: impl FnOnce(&str) -> String, v: impl Into<Value>) {
        let p = self.param(v);
        self.clauses.push(f(&p));
    }

    /// Adds a keyset condition `(ts_col, id_col) < (cursor)` for descending order.
    pub fn before(&mut self, ts_col: &str, id_col: &str, c: &Cursor) {
        let a = self.param(c.ts);
        let b = self.param(c.id);
        self.clauses
            .push(format!("({ts_col}, {id_col}) < ({a}, {b})"));
    }

    /// `WHERE a AND b ...` or empty.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// Escapes LIKE wildcards and wraps in `%...%` (use with `ESCAPE '\'`).
pub(crate) fn like_pattern(s: &str) -> String {
    let esc = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{esc}%")
}

/// Resolves a user given as UUID or email (deleted users included: restore needs them).
pub async fn resolve_user(tx: &mut Tx, id_or_email: &str) -> Result<Uuid> {
    let s = id_or_email.trim();
    let found: Option<Uuid> = if let Ok(id) = Uuid::parse_str(s) {
        tx.query_opt_as(r#"SELECT "id" FROM "User" WHERE "id" = $1"#, &params![id])
            .await?
    } else {
        if !s.contains('@') {
            return Err(Error::invalid(
                "user",
                format!("{s:?} is neither a user id (UUID) nor an email address"),
            ));
        }
        tx.query_opt_as(
            r#"SELECT "id" FROM "User" WHERE lower("email") = $1"#,
            &params![s.to_lowercase()],
        )
        .await?
    };
    found.ok_or_else(|| Error::not_found("user", s))
}

/// Parses a UUID argument, naming the field on error.
pub fn parse_id(field: &str, s: &str) -> Result<Uuid> {
    Uuid::parse_str(s.trim())
        .map_err(|_| Error::invalid(field, format!("{s:?} is not an id (UUID)")))
}

/// Serialises a value for an audit snapshot.
pub(crate) fn snapshot<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            ts: crate::db::now(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("garbage").is_err());
        assert!(Cursor::decode("").is_err());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
