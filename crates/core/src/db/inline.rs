//! Parameters inlined as typed SQL literals, for connections through a transaction-mode pooler.
//!
//! PgBouncer and Supavisor in transaction mode hand each transaction to whichever server
//! connection is free, so nothing may live on a server connection between transactions: no
//! named prepared statement (sqlx names its statements `sqlx_s_N` per client connection, and
//! two clients sharing one server connection collide), and no statement sqlx prepares to look up
//! a type. On such a connection the store sends every statement through the simple query
//! protocol with its `$N` placeholders replaced by quoted literals carrying the type sqlx would
//! have bound (`(E'…'::text)`), so the server sees the same types as on a direct connection.

use super::value::{Kind, Value};
use crate::error::{Error, Result};

/// The SQL type each value is bound as on a direct connection.
fn sql_type(k: Kind) -> &'static str {
    match k {
        Kind::Bool => "boolean",
        Kind::Int => "int8",
        Kind::Float => "float8",
        Kind::Text => "text",
        Kind::Uuid => "uuid",
        Kind::Ts => "timestamp",
        Kind::Json => "jsonb",
        Kind::TextArray => "text[]",
    }
}

/// A string literal that reads the same whatever `standard_conforming_strings` says.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// One value as a parenthesised, typed literal.
pub(super) fn literal(v: &Value) -> String {
    let (body, ty) = match v {
        Value::Null(k) => ("NULL".to_owned(), sql_type(*k)),
        Value::Bool(b) => ((if *b { "true" } else { "false" }).to_owned(), "boolean"),
        Value::Int(i) => (quote(&i.to_string()), "int8"),
        Value::Float(f) => (quote(&f.to_string()), "float8"),
        Value::Text(s) => (quote(s), "text"),
        Value::Uuid(u) => (quote(&u.to_string()), "uuid"),
        Value::Ts(t) => (
            quote(&t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
            "timestamp",
        ),
        Value::Json(j) => (quote(&j.to_string()), "jsonb"),
        Value::TextArray(a) if a.is_empty() => ("'{}'".to_owned(), "text[]"),
        Value::TextArray(a) => (
            format!(
                "ARRAY[{}]",
                a.iter().map(|s| quote(s)).collect::<Vec<_>>().join(",")
            ),
            "text[]",
        ),
    };
    format!("({body}::{ty})")
}

/// Replaces each `$N` placeholder of `sql` with the literal of `params[N-1]`. Placeholders
/// inside string literals, quoted identifiers, dollar-quoted bodies and comments are left alone.
pub(super) fn inline(sql: &str, params: &[Value]) -> Result<String> {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + params.len() * 16);
    let mut i = 0;
    let mut from = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    // E'…' strings escape with a backslash.
                    if b[i] == b'\\' && q == b'\'' && escaped_string(b, i) {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'$' => {
                let start = i;
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j > i + 1 && !ident_before(b, start) {
                    let n: usize = sql[i + 1..j]
                        .parse()
                        .map_err(|_| Error::db(format!("bad placeholder in: {sql}")))?;
                    let v = n
                        .checked_sub(1)
                        .and_then(|k| params.get(k))
                        .ok_or_else(|| {
                            Error::db(format!(
                                "placeholder ${n} has no parameter ({} given)",
                                params.len()
                            ))
                        })?;
                    out.push_str(&sql[from..start]);
                    out.push_str(&literal(v));
                    from = j;
                    i = j;
                    continue;
                }
                // A dollar-quoted body: $tag$ … $tag$.
                let mut k = i + 1;
                while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_') {
                    k += 1;
                }
                if k < b.len() && b[k] == b'$' && !ident_before(b, start) {
                    let tag = &sql[start..=k];
                    match sql[k + 1..].find(tag) {
                        Some(end) => i = k + 1 + end + tag.len(),
                        None => i = b.len(),
                    }
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[from..]);
    Ok(out)
}

/// Whether the quote before position `i` opened an `E'…'` string.
fn escaped_string(b: &[u8], i: usize) -> bool {
    let mut k = i;
    while k > 0 && b[k - 1] != b'\'' {
        k -= 1;
    }
    k >= 2 && matches!(b[k - 2], b'E' | b'e') && (k < 3 || !is_ident(b[k - 3]))
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `$` inside an identifier (`a$1`) is not a placeholder.
fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && is_ident(b[i - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_become_typed_literals() {
        let sql =
            r#"UPDATE "User" SET "name" = $1, "role" = $2::"UserRole" WHERE "id" = $3 AND n > $10"#;
        let mut p = vec![
            Value::Text("O'Brien \\ x".into()),
            Value::Text("ADMIN".into()),
            Value::Uuid(uuid::Uuid::nil()),
        ];
        p.extend((4..=10).map(Value::Int));
        let out = inline(sql, &p).unwrap();
        assert_eq!(
            out,
            r#"UPDATE "User" SET "name" = (E'O''Brien \\ x'::text), "role" = (E'ADMIN'::text)::"UserRole" WHERE "id" = (E'00000000-0000-0000-0000-000000000000'::uuid) AND n > (E'10'::int8)"#
        );
    }

    #[test]
    fn quoted_text_comments_and_dollar_bodies_are_left_alone() {
        let sql = "SELECT '$1', \"a$1\", $1 -- $2\n/* $2 */, $$ $2 $$, $f$ $2 $f$, E'\\' $2'";
        let out = inline(sql, &[Value::Bool(true)]).unwrap();
        assert_eq!(
            out,
            "SELECT '$1', \"a$1\", (true::boolean) -- $2\n/* $2 */, $$ $2 $$, $f$ $2 $f$, E'\\' $2'"
        );
    }

    #[test]
    fn nulls_arrays_and_json_keep_their_types() {
        assert_eq!(literal(&Value::Null(Kind::Uuid)), "(NULL::uuid)");
        assert_eq!(
            literal(&Value::TextArray(vec!["a".into(), "b'c".into()])),
            "(ARRAY[E'a',E'b''c']::text[])"
        );
        assert_eq!(literal(&Value::TextArray(vec![])), "('{}'::text[])");
        assert_eq!(
            literal(&Value::Json(json!({"k": "it's"}))),
            r#"(E'{"k":"it''s"}'::jsonb)"#
        );
    }

    #[test]
    fn a_missing_parameter_is_an_error() {
        assert!(inline("SELECT $2", &[Value::Int(1)]).is_err());
    }
}
