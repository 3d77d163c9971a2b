//! Discovers every text, JSON and address column of every table (information_schema on
//! PostgreSQL, `pragma_table_info` on SQLite), so sweeps and redaction cover tables added later.

use ncy_core::db::{Dialect, Tx};
use ncy_core::{params, Result};
use serde::Deserialize;

/// How a column's value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColKind {
    Text,
    Json,
    Jsonb,
    Inet,
    TextArray,
}

/// A searchable column.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub kind: ColKind,
}

/// A table and its searchable columns.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

/// A column of information_schema.columns (PostgreSQL).
#[derive(Deserialize)]
struct PgColumn {
    tbl: String,
    col: String,
    dt: String,
}

/// A table of sqlite_master.
#[derive(Deserialize)]
struct SqliteTable {
    name: String,
}

/// A column of `pragma_table_info` (SQLite; `type` is empty when undeclared).
#[derive(Deserialize)]
struct SqliteColumn {
    name: String,
    #[serde(rename = "type")]
    ty: Option<String>,
}

/// Every base table with at least one searchable column, ordered by name (columns in order).
pub async fn searchable(tx: &mut Tx) -> Result<Vec<Table>> {
    let mut out: Vec<Table> = Vec::new();
    match tx.dialect() {
        Dialect::Postgres => {
            let rows: Vec<PgColumn> = tx
                .query_as(
                    r#"SELECT c.table_name::text AS tbl, c.column_name::text AS col, c.data_type::text AS dt
                       FROM information_schema.columns c
                       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
                       WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
                         AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'inet', 'cidr')
                              OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar')))
                       ORDER BY c.table_name, c.ordinal_position"#,
                    &[],
                )
                .await?;
            for r in rows {
                let kind = match r.dt.as_str() {
                    "json" => ColKind::Json,
                    "jsonb" => ColKind::Jsonb,
                    "inet" | "cidr" => ColKind::Inet,
                    "ARRAY" => ColKind::TextArray,
                    _ => ColKind::Text,
                };
                push(&mut out, r.tbl, r.col, kind);
            }
        }
        Dialect::Sqlite => {
            let tables: Vec<SqliteTable> = tx
                .query_as(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                    &[],
                )
                .await?;
            for t in tables {
                let name = t.name;
                let cols: Vec<SqliteColumn> = tx
                    .query_as(
                        "SELECT name, upper(type) AS type FROM pragma_table_info($1) ORDER BY cid",
                        &params![name.as_str()],
                    )
                    .await?;
                for c in cols {
                    let ty = c.ty.unwrap_or_default();
                    if ty.is_empty()
                        || ty.contains("TEXT")
                        || ty.contains("CHAR")
                        || ty.contains("CLOB")
                    {
                        push(&mut out, name.clone(), c.name, ColKind::Text);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn push(out: &mut Vec<Table>, table: String, col: String, kind: ColKind) {
    let column = Column { name: col, kind };
    match out.last_mut() {
        Some(t) if t.name == table => t.columns.push(column),
        _ => out.push(Table {
            name: table,
            columns: vec![column],
        }),
    }
}
