//! Portable parameter values and result rows shared by both stores.

use std::sync::Arc;

use chrono::NaiveDateTime;
use uuid::Uuid;

use crate::error::{Error, Result};

/// Timestamp text format used by the SQLite store (matches PostgreSQL's TIMESTAMP(3)).
pub const TS_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// The SQL type of a NULL parameter (PostgreSQL needs it to type the parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Float,
    Text,
    Uuid,
    Ts,
    Json,
    TextArray,
}

/// One parameter or result value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null(Kind),
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Uuid(Uuid),
    Ts(NaiveDateTime),
    Json(serde_json::Value),
    TextArray(Vec<String>),
}

impl Value {
    /// True for any NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null(_))
    }
}

macro_rules! value_from {
    ($t:ty, $variant:ident, $kind:ident) => {
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        }
        impl From<Option<$t>> for Value {
            fn from(v: Option<$t>) -> Self {
                match v {
                    Some(v) => Value::$variant(v.into()),
                    None => Value::Null(Kind::$kind),
                }
            }
        }
    };
}
value_from!(bool, Bool, Bool);
value_from!(i64, Int, Int);
value_from!(i32, Int, Int);
value_from!(f64, Float, Float);
value_from!(String, Text, Text);
value_from!(&str, Text, Text);
value_from!(Uuid, Uuid, Uuid);
value_from!(NaiveDateTime, Ts, Ts);
value_from!(serde_json::Value, Json, Json);
value_from!(Vec<String>, TextArray, TextArray);

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&Uuid> for Value {
    fn from(v: &Uuid) -> Self {
        Value::Uuid(*v)
    }
}

/// Builds a `Vec<Value>` from heterogeneous arguments.
#[macro_export]
macro_rules! params {
    () => { Vec::<$crate::db::Value>::new() };
    ($($v:expr),+ $(,)?) => { ::std::vec::Vec::<$crate::db::Value>::from([$($crate::db::Value::from($v)),+]) };
}

/// One result row: column names plus values, with typed accessors that accept both stores'
/// representations (e.g. a UUID arrives as `uuid` from PostgreSQL and as text from SQLite).
#[derive(Debug, Clone)]
pub struct Row {
    pub(crate) columns: Arc<Vec<String>>,
    pub(crate) values: Vec<Value>,
}

fn type_err(col: &str, want: &str, got: &Value) -> Error {
    Error::db(format!("column {col}: expected {want}, found {got:?}"))
}

impl Row {
    /// Column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Raw value by column name.
    pub fn get(&self, col: &str) -> Result<&Value> {
        self.columns
            .iter()
            .position(|c| c == col)
            .map(|i| &self.values[i])
            .ok_or_else(|| Error::db(format!("result has no column {col}")))
    }

    /// Raw values in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Optional text (enums, VARCHAR, TEXT, INET).
    pub fn opt_text(&self, col: &str) -> Result<Option<String>> {
        match self.get(col)? {
            Value::Null(_) => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            Value::Uuid(u) => Ok(Some(u.to_string())),
            Value::Int(i) => Ok(Some(i.to_string())),
            v => Err(type_err(col, "text", v)),
        }
    }

    /// Required text.
    pub fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?
            .ok_or_else(|| Error::db(format!("column {col} is NULL")))
    }

    /// Optional UUID.
    pub fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        match self.get(col)? {
            Value::Null(_) => Ok(None),
            Value::Uuid(u) => Ok(Some(*u)),
            Value::Text(s) => Uuid::parse_str(s)
                .map(Some)
                .map_err(|_| Error::db(format!("column {col}: not a UUID: {s}"))),
            v => Err(type_err(col, "uuid", v)),
        }
    }

    /// Required UUID.
    pub fn uuid(&self, col: &str) -> Result<Uuid> {
        self.opt_uuid(col)?
            .ok_or_else(|| Error::db(format!("column {col} is NULL")))
    }

    /// Optional integer.
    pub fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        match self.get(col)? {
            Value::Null(_) => Ok(None),
            Value::Int(i) => Ok(Some(*i)),
            Value::Float(f) => Ok(Some(*f as i64)),
            Value::Bool(b) => Ok(Some(*b as i64)),
            Value::Text(s) => s
                .parse()
                .map(Some)
                .map_err(|_| Error::db(format!("column {col}: not an integer: {s}"))),
            v => Err(type_err(col, "integer", v)),
        }
    }

    /// Required integer.
    pub fn int(&self, col: &str) -> Result<i64> {
        self.opt_int(col)?
            .ok_or_else(|| Error::db(format!("column {col} is NULL")))
    }

    /// Optional float.
    pub fn opt_float(&self, col: &str) -> Result<Option<f64>> {
        match self.get(col)? {
            Value::Null(_) => Ok(None),
            Value::Float(f) => Ok(Some(*f)),
            Value::Int(i) => Ok(Some(*i as f64)),
            Value::Text(s) => s
                .parse()
                .map(Some)
                .map_err(|_| Error::db(format!("column {col}: not a number: {s}"))),
            v => Err(type_err(col, "number", v)),
        }
    }

    /// Required boolean (SQLite stores 0/1).
    pub fn bool(&self, col: &str) -> Result<bool> {
        match self.get(col)? {
            Value::Bool(b) => Ok(*b),
            Value::Int(i) => Ok(*i != 0),
            v => Err(type_err(col, "boolean", v)),
        }
    }

    /// Optional timestamp.
    pub fn opt_ts(&self, col: &str) -> Result<Option<NaiveDateTime>> {
        match self.get(col)? {
            Value::Null(_) => Ok(None),
            Value::Ts(t) => Ok(Some(*t)),
            Value::Text(s) => parse_ts(s)
                .map(Some)
                .ok_or_else(|| Error::db(format!("column {col}: not a timestamp: {s}"))),
            v => Err(type_err(col, "timestamp", v)),
        }
    }

    /// Required timestamp.
    pub fn ts(&self, col: &str) -> Result<NaiveDateTime> {
        self.opt_ts(col)?
            .ok_or_else(|| Error::db(format!("column {col} is NULL")))
    }

    /// Optional JSON (SQLite stores JSON as text).
    pub fn opt_json(&self, col: &str) -> Result<Option<serde_json::Value>> {
        match self.get(col)? {
            Value::Null(_) => Ok(None),
            Value::Json(j) => Ok(Some(j.clone())),
            Value::Text(s) => serde_json::from_str(s)
                .map(Some)
                .map_err(|e| Error::db(format!("column {col}: invalid JSON: {e}"))),
            v => Err(type_err(col, "json", v)),
        }
    }

    /// Text array (PostgreSQL TEXT[], SQLite JSON array text).
    pub fn text_array(&self, col: &str) -> Result<Vec<String>> {
        match self.get(col)? {
            Value::Null(_) => Ok(vec![]),
            Value::TextArray(v) => Ok(v.clone()),
            Value::Text(s) => serde_json::from_str(s)
                .map_err(|e| Error::db(format!("column {col}: invalid JSON array: {e}"))),
            Value::Json(j) => serde_json::from_value(j.clone())
                .map_err(|e| Error::db(format!("column {col}: invalid JSON array: {e}"))),
            v => Err(type_err(col, "text array", v)),
        }
    }

    /// The row as a JSON object (for exports and diff views).
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (c, v) in self.columns.iter().zip(&self.values) {
            map.insert(c.clone(), value_to_json(v));
        }
        serde_json::Value::Object(map)
    }
}

/// Converts a value to JSON (timestamps as ISO-8601 text, UUIDs as text).
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null(_) => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => J::from(*f),
        Value::Text(s) => J::String(s.clone()),
        Value::Uuid(u) => J::String(u.to_string()),
        Value::Ts(t) => J::String(format_ts(t)),
        Value::Json(j) => j.clone(),
        Value::TextArray(a) => J::from(a.clone()),
    }
}

/// Formats a timestamp as the stores keep it (`YYYY-MM-DD HH:MM:SS.mmm`).
pub fn format_ts(t: &NaiveDateTime) -> String {
    t.format(TS_FORMAT).to_string()
}

/// Parses the stores' timestamp text (also accepts ISO `T` separators and a trailing `Z`).
pub fn parse_ts(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().trim_end_matches('Z');
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// The current UTC time truncated to milliseconds (the precision both stores keep).
pub fn now() -> NaiveDateTime {
    let n = chrono::Utc::now().naive_utc();
    truncate_ms(n)
}

/// Truncates a timestamp to milliseconds.
pub fn truncate_ms(t: NaiveDateTime) -> NaiveDateTime {
    use chrono::Timelike;
    let ns = t.nanosecond() / 1_000_000 * 1_000_000;
    t.with_nanosecond(ns).unwrap_or(t)
}
