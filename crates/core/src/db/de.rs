//! Typed rows: `serde::Deserializer` for [`Row`] (its columns as a map) and [`Value`], so
//! `let u: UserRow = row.decode()?` works for any `#[derive(Deserialize)]` struct on both
//! stores.
//!
//! Each value is read the way the typed accessors of [`Row`] read it, whichever store it came
//! from: a UUID arrives as `uuid` from PostgreSQL and as text from SQLite, a boolean as `bool`
//! or `0`/`1`, JSON as `jsonb` or as text, a text array as `text[]` or as JSON text, and a
//! timestamp as `timestamp` or as text. Enums decode from their text (`#[serde(rename_all)]`
//! as usual); a missing column decodes as `None` into an `Option` field and is an error
//! otherwise; extra columns are ignored. A row of one column also decodes as that column's
//! value (`let n: i64 = row.decode()?`, likewise `String`, `Option<_>`, `Uuid`, an enum), and
//! a row as a tuple of its columns in order (`let (name, def): (String, String)`).

use std::fmt;

use serde::de::value::{SeqDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, Visitor};

use super::value::{format_ts, parse_ts, Row, Value};
use crate::error::{Error, Result};

/// Why a row did not decode (the column and what was wrong).
#[derive(Debug)]
pub struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError(msg.to_string())
    }
}

fn json_err(e: serde_json::Error) -> DecodeError {
    DecodeError(e.to_string())
}

impl Row {
    /// Decodes this row into `T` (a `#[derive(Deserialize)]` struct whose fields are named
    /// after the columns).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        T::deserialize(self).map_err(|e| Error::db(format!("decoding a row: {e}")))
    }
}

/// Whether a visitor says it expects exactly `want`, to tell a timestamp or a JSON value apart
/// from a string (SQLite keeps all three as text). Compared as it is written, without
/// building the text: this runs for every text cell decoded.
fn expects<'de, V: Visitor<'de>>(v: &V, want: &str) -> bool {
    struct Expecting<'a, V>(&'a V);
    impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.expecting(f)
        }
    }
    /// Consumes `rest` as matching text is written; fails at the first difference.
    struct Match<'a> {
        rest: &'a str,
    }
    impl fmt::Write for Match<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            match self.rest.strip_prefix(s) {
                Some(r) => {
                    self.rest = r;
                    Ok(())
                }
                None => Err(fmt::Error),
            }
        }
    }
    let mut m = Match { rest: want };
    fmt::write(&mut m, format_args!("{}", Expecting(v))).is_ok() && m.rest.is_empty()
}

/// chrono's `NaiveDateTime` visitor (it parses only the ISO `T` form).
fn wants_datetime<'de, V: Visitor<'de>>(v: &V) -> bool {
    expects(v, "a formatted date and time string")
}

/// serde_json's `Value` visitor.
fn wants_json<'de, V: Visitor<'de>>(v: &V) -> bool {
    expects(v, "any valid JSON value")
}

/// Text that may be a JSON document (checked before asking the visitor).
fn json_shaped(s: &str) -> bool {
    matches!(
        s.trim_start().as_bytes().first(),
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    )
}

/// Text in the stores' timestamp shape (`YYYY-MM-DD…`).
fn ts_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit)
}

fn iso(t: &chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

impl Value {
    fn unexpected(&self) -> de::Unexpected<'_> {
        match self {
            Value::Null(_) => de::Unexpected::Option,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Int(i) => de::Unexpected::Signed(*i),
            Value::Float(f) => de::Unexpected::Float(*f),
            Value::Text(s) => de::Unexpected::Str(s),
            Value::Uuid(_) => de::Unexpected::Other("a uuid"),
            Value::Ts(_) => de::Unexpected::Other("a timestamp"),
            Value::Json(_) => de::Unexpected::Other("a JSON value"),
            Value::TextArray(_) => de::Unexpected::Seq,
        }
    }

    fn int(&self, exp: &dyn de::Expected) -> std::result::Result<i64, DecodeError> {
        match self {
            Value::Int(i) => Ok(*i),
            Value::Float(f) => Ok(*f as i64),
            Value::Bool(b) => Ok(*b as i64),
            Value::Text(s) => s
                .parse()
                .map_err(|_| de::Error::invalid_value(self.unexpected(), exp)),
            v => Err(de::Error::invalid_type(v.unexpected(), exp)),
        }
    }
}

macro_rules! ints {
    ($($method:ident => $visit:ident as $t:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DecodeError> {
            match self {
                Value::Null(_) => Err(de::Error::invalid_type(de::Unexpected::Option, &visitor)),
                v => {
                    let i = v.int(&visitor)?;
                    let n = <$t>::try_from(i)
                        .map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(i), &visitor))?;
                    visitor.$visit(n)
                }
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &'de Value {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        match self {
            Value::Null(_) => visitor.visit_none(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Text(s) if json_shaped(s) && wants_json(&visitor) => {
                match serde_json::from_str::<serde_json::Value>(s) {
                    Ok(j) => j.deserialize_any(visitor).map_err(json_err),
                    Err(_) => visitor.visit_borrowed_str(s),
                }
            }
            Value::Text(_) | Value::Uuid(_) | Value::Ts(_) => self.deserialize_str(visitor),
            Value::Json(j) => j.deserialize_any(visitor).map_err(json_err),
            Value::TextArray(a) => {
                visitor.visit_seq(SeqDeserializer::new(a.iter().map(String::as_str)))
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        match self {
            Value::Null(_) => visitor.visit_none(),
            v => visitor.visit_some(v),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        match self {
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_bool(*i != 0),
            Value::Text(s) if s == "true" || s == "t" => visitor.visit_bool(true),
            Value::Text(s) if s == "false" || s == "f" => visitor.visit_bool(false),
            v => Err(de::Error::invalid_type(v.unexpected(), &visitor)),
        }
    }

    ints! {
        deserialize_i8 => visit_i8 as i8,
        deserialize_i16 => visit_i16 as i16,
        deserialize_i32 => visit_i32 as i32,
        deserialize_i64 => visit_i64 as i64,
        deserialize_u8 => visit_u8 as u8,
        deserialize_u16 => visit_u16 as u16,
        deserialize_u32 => visit_u32 as u32,
        deserialize_u64 => visit_u64 as u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        match self {
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Int(i) => visitor.visit_f64(*i as f64),
            Value::Text(s) => match s.parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(de::Error::invalid_value(self.unexpected(), &visitor)),
            },
            v => Err(de::Error::invalid_type(v.unexpected(), &visitor)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        match self {
            Value::Text(s) if ts_shaped(s) && wants_datetime(&visitor) => match parse_ts(s) {
                Some(t) => visitor.visit_string(iso(&t)),
                None => visitor.visit_borrowed_str(s),
            },
            Value::Text(s) => visitor.visit_borrowed_str(s),
            Value::Uuid(u) => visitor.visit_string(u.to_string()),
            Value::Ts(t) if wants_datetime(&visitor) => visitor.visit_string(iso(t)),
            Value::Ts(t) => visitor.visit_string(format_ts(t)),
            Value::Int(i) => visitor.visit_string(i.to_string()),
            Value::Json(serde_json::Value::String(s)) => visitor.visit_borrowed_str(s),
            v => Err(de::Error::invalid_type(v.unexpected(), &visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        match self {
            Value::Null(_) => visitor.visit_seq(SeqDeserializer::new(std::iter::empty::<&str>())),
            Value::TextArray(a) => {
                visitor.visit_seq(SeqDeserializer::new(a.iter().map(String::as_str)))
            }
            Value::Json(j) => j.deserialize_seq(visitor).map_err(json_err),
            Value::Text(s) => serde_json::from_str::<serde_json::Value>(s)
                .map_err(|e| DecodeError(format!("invalid JSON array: {e}")))?
                .deserialize_seq(visitor)
                .map_err(json_err),
            v => Err(de::Error::invalid_type(v.unexpected(), &visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        match self {
            Value::Json(j) => j.deserialize_map(visitor).map_err(json_err),
            Value::Text(s) => serde_json::from_str::<serde_json::Value>(s)
                .map_err(|e| DecodeError(format!("invalid JSON: {e}")))?
                .deserialize_map(visitor)
                .map_err(json_err),
            v => Err(de::Error::invalid_type(v.unexpected(), &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        match self {
            Value::Text(s) => visitor.visit_enum(StrDeserializer::<DecodeError>::new(s)),
            Value::Json(j) => j
                .deserialize_enum(_name, _variants, visitor)
                .map_err(json_err),
            v => Err(de::Error::invalid_type(v.unexpected(), &visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        char bytes byte_buf unit unit_struct tuple tuple_struct identifier ignored_any
    }
}

/// The columns of a row, as a map for `deserialize_struct`.
struct Columns<'de> {
    row: &'de Row,
    at: usize,
}

impl<'de> de::MapAccess<'de> for Columns<'de> {
    type Error = DecodeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, DecodeError> {
        let row: &'de Row = self.row;
        match row.columns.get(self.at) {
            Some(c) => seed
                .deserialize(StrDeserializer::<DecodeError>::new(c))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> std::result::Result<S::Value, DecodeError> {
        let row: &'de Row = self.row;
        let i = self.at;
        self.at += 1;
        seed.deserialize(&row.values[i])
            .map_err(|e| DecodeError(format!("column {}: {e}", row.columns[i])))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.row.columns.len() - self.at)
    }
}

/// The values of a row in column order, for tuples (`let (a, b): (String, i64)`).
struct Values<'de> {
    row: &'de Row,
    at: usize,
}

impl<'de> de::SeqAccess<'de> for Values<'de> {
    type Error = DecodeError;

    fn next_element_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> std::result::Result<Option<S::Value>, DecodeError> {
        let row: &'de Row = self.row;
        let i = self.at;
        let Some(v) = row.values.get(i) else {
            return Ok(None);
        };
        self.at += 1;
        seed.deserialize(v)
            .map(Some)
            .map_err(|e| DecodeError(format!("column {}: {e}", row.columns[i])))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.row.values.len() - self.at)
    }
}

impl<'de> Row {
    /// The only column's value: a row decodes as a scalar (`i64`, `String`, `Option<_>`, an
    /// enum) when the query selects exactly one column.
    fn only(&'de self) -> std::result::Result<&'de Value, DecodeError> {
        match self.values.as_slice() {
            [v] => Ok(v),
            vs => Err(DecodeError(format!(
                "expected one column for a single value, found {} ({})",
                vs.len(),
                self.columns.join(", ")
            ))),
        }
    }
}

macro_rules! scalars {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DecodeError> {
            let col = self.columns.first().map(String::as_str).unwrap_or("?");
            de::Deserializer::$method(self.only()?, visitor)
                .map_err(|e| DecodeError(format!("column {col}: {e}")))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &'de Row {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        visitor.visit_map(Columns { row: self, at: 0 })
    }

    scalars! {
        deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32, deserialize_i64,
        deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64, deserialize_f32,
        deserialize_f64, deserialize_str, deserialize_string, deserialize_option,
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        de::Deserializer::deserialize_enum(self.only()?, name, variants, visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        visitor.visit_seq(Values { row: self, at: 0 })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        if len != self.values.len() {
            return Err(DecodeError(format!(
                "expected {len} columns, found {} ({})",
                self.values.len(),
                self.columns.join(", ")
            )));
        }
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, DecodeError> {
        self.deserialize_tuple(len, visitor)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct newtype_struct map struct
        identifier ignored_any
    }
}
