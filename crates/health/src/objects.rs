//! Tables and indexes: sizes with row estimates, dead tuples and (auto)vacuum / analyze times,
//! unused, duplicate and invalid indexes, and foreign keys without a supporting index.

use chrono::NaiveDateTime;
use ncy_core::db::{PgDb, Row};
use ncy_core::{params, Result};
use serde::Serialize;

use crate::guard::read_tx;

const USER_SCHEMAS: &str =
    "NOT IN ('pg_catalog', 'information_schema') AND {n} NOT LIKE 'pg_toast%' AND {n} NOT LIKE 'pg_temp%'";

fn user_schema(col: &str) -> String {
    format!("{col} {}", USER_SCHEMAS.replace("{n}", col))
}

/// Size and maintenance state of one table.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TableStat {
    pub schema: String,
    pub name: String,
    /// Table + indexes + TOAST.
    pub total_bytes: i64,
    pub table_bytes: i64,
    pub index_bytes: i64,
    /// Planner estimate (`pg_class.reltuples`); None when never analyzed.
    pub row_estimate: Option<f64>,
    pub live_tuples: i64,
    pub dead_tuples: i64,
    /// dead / (live + dead), 0..1.
    pub dead_ratio: f64,
    pub seq_scan: i64,
    pub idx_scan: Option<i64>,
    pub last_vacuum: Option<NaiveDateTime>,
    pub last_autovacuum: Option<NaiveDateTime>,
    pub last_analyze: Option<NaiveDateTime>,
    pub last_autoanalyze: Option<NaiveDateTime>,
}

/// Size and use of one index.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IndexStat {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub bytes: i64,
    /// Scans since the statistics were reset.
    pub scans: i64,
    pub unique: bool,
    pub primary: bool,
    pub valid: bool,
    pub definition: String,
}

/// Indexes with the same definition on the same table.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DuplicateIndexes {
    pub schema: String,
    pub table: String,
    pub indexes: Vec<String>,
    /// Size of all of them together.
    pub bytes: i64,
}

/// A foreign key whose columns lead no index on the referencing table.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct MissingFkIndex {
    pub schema: String,
    pub table: String,
    pub constraint: String,
    pub columns: Vec<String>,
    pub referenced_table: String,
    pub table_bytes: i64,
    pub row_estimate: Option<f64>,
}

/// Tables and indexes of the connected database.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Objects {
    /// The largest tables.
    pub tables: Vec<TableStat>,
    /// Tables with the most dead tuples.
    pub dead_tuples: Vec<TableStat>,
    /// The largest indexes.
    pub indexes: Vec<IndexStat>,
    /// Indexes never scanned since the statistics reset (not unique, not backing a constraint).
    pub unused_indexes: Vec<IndexStat>,
    pub duplicate_indexes: Vec<DuplicateIndexes>,
    /// Indexes left INVALID by a failed concurrent build.
    pub invalid_indexes: Vec<IndexStat>,
    pub missing_fk_indexes: Vec<MissingFkIndex>,
    /// When the statistics of this database were last reset.
    pub stats_reset: Option<NaiveDateTime>,
}

fn estimate(r: &Row, col: &str) -> Result<Option<f64>> {
    // reltuples is -1 (PostgreSQL 14+) or 0 when never vacuumed / analyzed.
    Ok(r.opt_float(col)?.filter(|v| *v >= 0.0))
}

fn table(r: &Row) -> Result<TableStat> {
    let live = r.opt_int("n_live_tup")?.unwrap_or(0);
    let dead = r.opt_int("n_dead_tup")?.unwrap_or(0);
    Ok(TableStat {
        schema: r.text("schema")?,
        name: r.text("name")?,
        total_bytes: r.int("total_bytes")?,
        table_bytes: r.int("table_bytes")?,
        index_bytes: r.int("index_bytes")?,
        row_estimate: estimate(r, "reltuples")?,
        live_tuples: live,
        dead_tuples: dead,
        dead_ratio: if live + dead > 0 {
            dead as f64 / (live + dead) as f64
        } else {
            0.0
        },
        seq_scan: r.opt_int("seq_scan")?.unwrap_or(0),
        idx_scan: r.opt_int("idx_scan")?,
        last_vacuum: r.opt_ts("last_vacuum")?,
        last_autovacuum: r.opt_ts("last_autovacuum")?,
        last_analyze: r.opt_ts("last_analyze")?,
        last_autoanalyze: r.opt_ts("last_autoanalyze")?,
    })
}

fn index(r: &Row) -> Result<IndexStat> {
    Ok(IndexStat {
        schema: r.text("schema")?,
        table: r.text("table_name")?,
        name: r.text("index_name")?,
        bytes: r.int("bytes")?,
        scans: r.opt_int("idx_scan")?.unwrap_or(0),
        unique: r.bool("indisunique")?,
        primary: r.bool("indisprimary")?,
        valid: r.bool("indisvalid")?,
        definition: r.text("definition")?,
    })
}

/// Reads [`Objects`] (each list capped at `limit`; unused indexes and FKs without index at
/// `10 × limit`, so that their findings count them all on a normal schema). The lists that
/// come from the catalog alone (invalid and duplicate indexes, FKs without an index: the same
/// on a physical standby, and the heaviest to compute) are read on `catalog`, the read replica
/// when one is configured; the activity statistics (`pg_stat_*`) belong to `db`'s server.
pub(crate) async fn read(db: &PgDb, catalog: &PgDb, limit: i64) -> Result<Objects> {
    let index_sql = |filter: &str| {
        format!(
            "SELECT s.schemaname::text AS schema, s.relname::text AS table_name,
                    s.indexrelname::text AS index_name, pg_relation_size(s.indexrelid) AS bytes,
                    s.idx_scan, i.indisunique, i.indisprimary, i.indisvalid,
                    pg_get_indexdef(s.indexrelid) AS definition
             FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
             WHERE true {filter}
             ORDER BY pg_relation_size(s.indexrelid) DESC, 3 LIMIT $1"
        )
    };
    // The statistics (this server) and the catalog lists (maybe the replica), at once.
    let stats = async {
        let mut tx = read_tx(db).await?;
        let table_sql = |order: &str, filter: &str| {
            format!(
                "SELECT n.nspname::text AS schema, c.relname::text AS name,
                        pg_total_relation_size(c.oid) AS total_bytes,
                        pg_relation_size(c.oid) AS table_bytes,
                        pg_indexes_size(c.oid) AS index_bytes,
                        c.reltuples::float8 AS reltuples,
                        s.n_live_tup, s.n_dead_tup, s.seq_scan, s.idx_scan,
                        s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze
                 FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
                 WHERE c.relkind IN ('r', 'p', 'm') AND {} {filter}
                 ORDER BY {order} LIMIT $1",
                user_schema("n.nspname")
            )
        };
        let tables = tx
            .query(
                &table_sql("pg_total_relation_size(c.oid) DESC, 2", ""),
                &params![limit],
            )
            .await?
            .iter()
            .map(table)
            .collect::<Result<Vec<_>>>()?;
        let dead_tuples = tx
            .query(
                &table_sql("s.n_dead_tup DESC, 2", "AND s.n_dead_tup > 0"),
                &params![limit],
            )
            .await?
            .iter()
            .map(table)
            .collect::<Result<Vec<_>>>()?;

        let indexes = tx
            .query(&index_sql(""), &params![limit])
            .await?
            .iter()
            .map(index)
            .collect::<Result<Vec<_>>>()?;
        let unused_indexes = tx
            .query(
                &index_sql(
                    "AND s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)",
                ),
                &params![limit * 10],
            )
            .await?
            .iter()
            .map(index)
            .collect::<Result<Vec<_>>>()?;
        let stats_reset = tx
            .query_one(
                "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()",
                &[],
            )
            .await?
            .opt_ts("stats_reset")?;
        tx.commit().await?;
        Ok::<_, ncy_core::Error>((tables, dead_tuples, indexes, unused_indexes, stats_reset))
    };
    let lists = async {
        let mut tx = read_tx(catalog).await?;
        // Catalog-only: the index list's scan counts are not used here (0 on a standby).
        let invalid_indexes = tx
            .query(&index_sql("AND NOT i.indisvalid"), &params![limit])
            .await?
            .iter()
            .map(index)
            .collect::<Result<Vec<_>>>()?;

        let duplicate_indexes = tx
            .query(
                &format!(
                    "SELECT n.nspname::text AS schema, ct.relname::text AS table_name,
                            array_agg(ci.relname::text ORDER BY ci.relname) AS indexes,
                            sum(pg_relation_size(i.indexrelid))::int8 AS bytes
                     FROM pg_index i
                     JOIN pg_class ci ON ci.oid = i.indexrelid
                     JOIN pg_class ct ON ct.oid = i.indrelid
                     JOIN pg_namespace n ON n.oid = ct.relnamespace
                     WHERE {}
                     GROUP BY n.nspname, ct.relname, i.indrelid, i.indkey::text, i.indclass::text,
                              i.indcollation::text, coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),
                              coalesce(pg_get_expr(i.indpred, i.indrelid), '')
                     HAVING count(*) > 1
                     ORDER BY 4 DESC, 1, 2 LIMIT $1",
                    user_schema("n.nspname")
                ),
                &params![limit],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(DuplicateIndexes {
                    schema: r.text("schema")?,
                    table: r.text("table_name")?,
                    indexes: r.text_array("indexes")?,
                    bytes: r.int("bytes")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        // An FK is supported when some index's leading columns are exactly the FK's columns
        // (in any order).
        let missing_fk_indexes = tx
            .query(
                &format!(
                    "SELECT n.nspname::text AS schema, t.relname::text AS table_name,
                            c.conname::text AS constraint_name,
                            ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                                  ORDER BY k.ord) AS columns,
                            c.confrelid::regclass::text AS referenced_table,
                            pg_relation_size(c.conrelid) AS table_bytes,
                            t.reltuples::float8 AS reltuples
                     FROM pg_constraint c
                     JOIN pg_class t ON t.oid = c.conrelid
                     JOIN pg_namespace n ON n.oid = t.relnamespace
                     WHERE c.contype = 'f' AND {}
                       AND NOT EXISTS (
                         SELECT 1 FROM pg_index i
                         WHERE i.indrelid = c.conrelid
                           AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
                           AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)
                     ORDER BY pg_relation_size(c.conrelid) DESC, 2, 3 LIMIT $1",
                    user_schema("n.nspname")
                ),
                &params![limit * 10],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(MissingFkIndex {
                    schema: r.text("schema")?,
                    table: r.text("table_name")?,
                    constraint: r.text("constraint_name")?,
                    columns: r.text_array("columns")?,
                    referenced_table: r.text("referenced_table")?,
                    table_bytes: r.int("table_bytes")?,
                    row_estimate: estimate(r, "reltuples")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok::<_, ncy_core::Error>((invalid_indexes, duplicate_indexes, missing_fk_indexes))
    };
    let (stats, lists) = tokio::join!(stats, lists);
    let (tables, dead_tuples, indexes, unused_indexes, stats_reset) = stats?;
    let (invalid_indexes, duplicate_indexes, missing_fk_indexes) = lists?;
    Ok(Objects {
        tables,
        dead_tuples,
        indexes,
        unused_indexes,
        duplicate_indexes,
        invalid_indexes,
        missing_fk_indexes,
        stats_reset,
    })
}
