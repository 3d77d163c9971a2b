//! Tables and indexes: sizes with row estimates, dead tuples and (auto)vacuum / analyze times,
//! unused, duplicate and invalid indexes, and foreign keys without a supporting index.

use chrono::NaiveDateTime;
use ncy_core::db::Db;
use ncy_core::Result;
use serde::{Deserialize, Serialize};

use crate::guard::read_rows;
use crate::sql::{self, Part};

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

fn estimate(reltuples: Option<f64>) -> Option<f64> {
    // reltuples is -1 (PostgreSQL 14+) or 0 when never vacuumed / analyzed.
    reltuples.filter(|v| *v >= 0.0)
}

/// A table row of the statistics statement ([`TABLE_COLS`]).
#[derive(Deserialize)]
struct TableRow {
    schema: String,
    name: String,
    total_bytes: i64,
    table_bytes: i64,
    index_bytes: i64,
    reltuples: Option<f64>,
    n_live_tup: Option<i64>,
    n_dead_tup: Option<i64>,
    seq_scan: Option<i64>,
    idx_scan: Option<i64>,
    last_vacuum: Option<NaiveDateTime>,
    last_autovacuum: Option<NaiveDateTime>,
    last_analyze: Option<NaiveDateTime>,
    last_autoanalyze: Option<NaiveDateTime>,
}

impl From<TableRow> for TableStat {
    fn from(r: TableRow) -> TableStat {
        let live = r.n_live_tup.unwrap_or(0);
        let dead = r.n_dead_tup.unwrap_or(0);
        TableStat {
            schema: r.schema,
            name: r.name,
            total_bytes: r.total_bytes,
            table_bytes: r.table_bytes,
            index_bytes: r.index_bytes,
            row_estimate: estimate(r.reltuples),
            live_tuples: live,
            dead_tuples: dead,
            dead_ratio: if live + dead > 0 {
                dead as f64 / (live + dead) as f64
            } else {
                0.0
            },
            seq_scan: r.seq_scan.unwrap_or(0),
            idx_scan: r.idx_scan,
            last_vacuum: r.last_vacuum,
            last_autovacuum: r.last_autovacuum,
            last_analyze: r.last_analyze,
            last_autoanalyze: r.last_autoanalyze,
        }
    }
}

/// An index row of either statement ([`INDEX_COLS`] and its definition).
#[derive(Deserialize)]
struct IndexRow {
    schema: String,
    table_name: String,
    index_name: String,
    bytes: i64,
    idx_scan: Option<i64>,
    indisunique: bool,
    indisprimary: bool,
    indisvalid: bool,
    definition: String,
}

impl From<IndexRow> for IndexStat {
    fn from(r: IndexRow) -> IndexStat {
        IndexStat {
            schema: r.schema,
            table: r.table_name,
            name: r.index_name,
            bytes: r.bytes,
            scans: r.idx_scan.unwrap_or(0),
            unique: r.indisunique,
            primary: r.indisprimary,
            valid: r.indisvalid,
            definition: r.definition,
        }
    }
}

/// The `stats_reset` row of the statistics statement (part 4).
#[derive(Deserialize)]
struct StatsReset {
    stats_reset: Option<NaiveDateTime>,
}

/// A row of identical indexes of the catalog statement (part 1).
#[derive(Deserialize)]
struct DuplicateRow {
    schema: String,
    table_name: String,
    indexes: Vec<String>,
    bytes: i64,
}

/// A foreign key without an index, from the catalog statement (part 2).
#[derive(Deserialize)]
struct MissingFkRow {
    schema: String,
    table_name: String,
    constraint_name: String,
    columns: Vec<String>,
    referenced_table: String,
    table_bytes: i64,
    reltuples: Option<f64>,
}

/// The indexes of `pg_stat_user_indexes` (its definition, without the view: planned faster),
/// as `i` (pg_index), `c` (the table), `ci` (the index), `n` (the table's schema).
const USER_INDEXES: &str = "pg_index i
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_class ci ON ci.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 't', 'm')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'";

/// The columns of an index row read from [`USER_INDEXES`].
const USER_INDEX_COLS: &str = "n.nspname::text AS schema, c.relname::text AS table_name,
    ci.relname::text AS index_name, i.indisunique, i.indisprimary, i.indisvalid";

/// Every column of the statistics statement (tables, indexes, `stats_reset`).
const STAT_COLS: &[(&str, &str)] = &[
    ("part", "int4"),
    ("ord", "int8"),
    ("schema", "text"),
    ("name", "text"),
    ("total_bytes", "int8"),
    ("table_bytes", "int8"),
    ("index_bytes", "int8"),
    ("reltuples", "float8"),
    ("n_live_tup", "int8"),
    ("n_dead_tup", "int8"),
    ("seq_scan", "int8"),
    ("idx_scan", "int8"),
    ("last_vacuum", "timestamptz"),
    ("last_autovacuum", "timestamptz"),
    ("last_analyze", "timestamptz"),
    ("last_autoanalyze", "timestamptz"),
    ("table_name", "text"),
    ("index_name", "text"),
    ("bytes", "int8"),
    ("indisunique", "bool"),
    ("indisprimary", "bool"),
    ("indisvalid", "bool"),
    ("definition", "text"),
    ("stats_reset", "timestamptz"),
];

const TABLE_COLS: &[&str] = &[
    "schema",
    "name",
    "total_bytes",
    "table_bytes",
    "index_bytes",
    "reltuples",
    "n_live_tup",
    "n_dead_tup",
    "seq_scan",
    "idx_scan",
    "last_vacuum",
    "last_autovacuum",
    "last_analyze",
    "last_autoanalyze",
];

const INDEX_COLS: &[&str] = &[
    "schema",
    "table_name",
    "index_name",
    "bytes",
    "idx_scan",
    "indisunique",
    "indisprimary",
    "indisvalid",
];

/// Every column of the catalog statement (invalid and duplicate indexes, FKs without index).
const CATALOG_COLS: &[(&str, &str)] = &[
    ("part", "int4"),
    ("ord", "int8"),
    ("schema", "text"),
    ("table_name", "text"),
    ("index_name", "text"),
    ("bytes", "int8"),
    ("idx_scan", "int8"),
    ("indisunique", "bool"),
    ("indisprimary", "bool"),
    ("indisvalid", "bool"),
    ("definition", "text"),
    ("indexes", "text[]"),
    ("constraint_name", "text"),
    ("columns", "text[]"),
    ("referenced_table", "text"),
    ("table_bytes", "int8"),
    ("reltuples", "float8"),
];

/// The statistics statements, read at the same time on two connections (as one statement it
/// was the report's longest section). The tables': every table's sizes and counters once (a
/// CTE), its two lists (largest, most dead tuples: parts 0 and 1) and `stats_reset` (part 4).
/// The indexes': every index's size once, its two lists (largest, unused: parts 2 and 3,
/// definitions only for the rows shown). A table's total is `pg_table_size + pg_indexes_size`,
/// which is how the server computes `pg_total_relation_size`, without reading the index sizes
/// twice.
fn stats_sql(limit: i64) -> [String; 2] {
    let (one, ten) = (limit.to_string(), (limit * 10).to_string());
    let part = |n: &str, taken: &[&str], extra: &[(&str, &str)]| {
        let mut e = vec![("part", n), ("ord", "x.ord")];
        e.extend_from_slice(extra);
        sql::branch(STAT_COLS, "x", taken, &e)
    };
    let tables = |n: &str, filter: &str, order: &str| {
        format!(
            "SELECT {} FROM (SELECT t.*, row_number() OVER (ORDER BY {order}) AS ord FROM t
                             WHERE true {filter} ORDER BY {order} LIMIT {limit}) x",
            part(n, TABLE_COLS, &[])
        )
    };
    let indexes = |n: &str, filter: &str, limit: &str| {
        format!(
            "SELECT {} FROM (SELECT ix.*,
                                    row_number() OVER (ORDER BY ix.bytes DESC, ix.index_name) AS ord
                             FROM ix WHERE true {filter}
                             ORDER BY ix.bytes DESC, ix.index_name LIMIT {limit}) x",
            part(
                n,
                INDEX_COLS,
                &[("definition", "pg_get_indexdef(x.indexrelid)")]
            )
        )
    };
    // The `OFFSET 0` is a planner fence, not paging: it keeps PostgreSQL from pulling the
    // per-relation size and statistics calls up into the outer query (where they would run
    // again for each reference). Nothing is skipped; the lists are bounded by LIMIT.
    let tables_sql = format!(
        "WITH t AS MATERIALIZED (
             SELECT z.schema, z.name, z.own_bytes + z.index_bytes AS total_bytes, z.table_bytes,
                    z.index_bytes, z.reltuples, z.n_live_tup, z.n_dead_tup, z.seq_scan, z.idx_scan,
                    z.last_vacuum, z.last_autovacuum, z.last_analyze, z.last_autoanalyze
             FROM (SELECT n.nspname::text AS schema, c.relname::text AS name,
                          pg_table_size(c.oid) AS own_bytes, pg_relation_size(c.oid) AS table_bytes,
                          pg_indexes_size(c.oid) AS index_bytes, c.reltuples::float8 AS reltuples,
                          pg_stat_get_live_tuples(c.oid) AS n_live_tup,
                          pg_stat_get_dead_tuples(c.oid) AS n_dead_tup,
                          pg_stat_get_numscans(c.oid) AS seq_scan,
                          (SELECT sum(pg_stat_get_numscans(i.indexrelid))::int8
                           FROM pg_index i WHERE i.indrelid = c.oid) AS idx_scan,
                          pg_stat_get_last_vacuum_time(c.oid) AS last_vacuum,
                          pg_stat_get_last_autovacuum_time(c.oid) AS last_autovacuum,
                          pg_stat_get_last_analyze_time(c.oid) AS last_analyze,
                          pg_stat_get_last_autoanalyze_time(c.oid) AS last_autoanalyze
                   FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE c.relkind IN ('r', 'p', 'm') AND {} OFFSET 0) z)
         {}
         UNION ALL {}
         UNION ALL SELECT {} FROM pg_stat_database d WHERE d.datname = current_database()
         ORDER BY 1, 2",
        user_schema("n.nspname"),
        tables("0", "", "t.total_bytes DESC, t.name"),
        tables("1", "AND t.n_dead_tup > 0", "t.n_dead_tup DESC, t.name"),
        sql::branch(
            STAT_COLS,
            "d",
            &["stats_reset"],
            &[("part", "4"), ("ord", "1")]
        ),
    );
    let indexes_sql = format!(
        "WITH ix AS MATERIALIZED (
             SELECT i.indexrelid, {USER_INDEX_COLS}, pg_relation_size(i.indexrelid) AS bytes,
                    pg_stat_get_numscans(i.indexrelid) AS idx_scan
             FROM {USER_INDEXES})
         {}
         UNION ALL {}
         ORDER BY 1, 2",
        indexes("2", "", &one),
        indexes(
            "3",
            "AND ix.idx_scan = 0 AND NOT ix.indisunique AND NOT ix.indisprimary
             AND ix.indexrelid NOT IN (SELECT conindid FROM pg_constraint)",
            &ten
        ),
    );
    [tables_sql, indexes_sql]
}

/// The catalog-only lists in one statement: invalid indexes (part 0), identical indexes
/// (part 1, sizes read for those only) and foreign keys without a supporting index (part 2:
/// one whose leading index columns are exactly the FK's columns, in any order).
fn catalog_sql(limit: i64) -> String {
    let ten = limit * 10;
    let schemas = user_schema("n.nspname");
    format!(
        "SELECT {} FROM (
             SELECT i.indexrelid, {USER_INDEX_COLS}, pg_relation_size(i.indexrelid) AS bytes,
                    pg_stat_get_numscans(i.indexrelid) AS idx_scan,
                    row_number() OVER (ORDER BY pg_relation_size(i.indexrelid) DESC,
                                                ci.relname::text) AS ord
             FROM {USER_INDEXES}
               AND NOT i.indisvalid
             ORDER BY pg_relation_size(i.indexrelid) DESC, 4 LIMIT {limit}) x
         UNION ALL
         SELECT {} FROM (
             SELECT y.*, row_number() OVER (ORDER BY y.bytes DESC, y.schema, y.table_name) AS ord
             FROM (SELECT g.schema, g.table_name, g.indexes,
                          (SELECT sum(pg_relation_size(o))::int8 FROM unnest(g.oids) o) AS bytes
                   FROM (SELECT n.nspname::text AS schema, ct.relname::text AS table_name,
                                array_agg(ci.relname::text ORDER BY ci.relname) AS indexes,
                                array_agg(i.indexrelid) AS oids
                         FROM pg_index i
                         JOIN pg_class ci ON ci.oid = i.indexrelid
                         JOIN pg_class ct ON ct.oid = i.indrelid
                         JOIN pg_namespace n ON n.oid = ct.relnamespace
                         WHERE {schemas}
                         GROUP BY n.nspname, ct.relname, i.indrelid, i.indkey::text,
                                  i.indclass::text, i.indcollation::text,
                                  coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),
                                  coalesce(pg_get_expr(i.indpred, i.indrelid), '')
                         HAVING count(*) > 1) g
                   OFFSET 0) y
             ORDER BY y.bytes DESC, y.schema, y.table_name LIMIT {limit}) x
         UNION ALL
         SELECT {} FROM (
             SELECT n.nspname::text AS schema, t.relname::text AS table_name,
                    c.conname::text AS constraint_name,
                    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                          ORDER BY k.ord) AS columns,
                    c.confrelid::regclass::text AS referenced_table,
                    pg_relation_size(c.conrelid) AS table_bytes,
                    t.reltuples::float8 AS reltuples,
                    row_number() OVER (ORDER BY pg_relation_size(c.conrelid) DESC,
                                                t.relname::text, c.conname::text) AS ord
             FROM pg_constraint c
             JOIN pg_class t ON t.oid = c.conrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE c.contype = 'f' AND {schemas}
               AND NOT EXISTS (
                 SELECT 1 FROM pg_index i
                 WHERE i.indrelid = c.conrelid
                   AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
                   AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)
             ORDER BY pg_relation_size(c.conrelid) DESC, 2, 3 LIMIT {ten}) x
         ORDER BY 1, 2",
        sql::branch(
            CATALOG_COLS,
            "x",
            INDEX_COLS,
            &[
                ("part", "0"),
                ("ord", "x.ord"),
                ("definition", "pg_get_indexdef(x.indexrelid)")
            ]
        ),
        sql::branch(
            CATALOG_COLS,
            "x",
            &["schema", "table_name", "indexes", "bytes"],
            &[("part", "1"), ("ord", "x.ord")]
        ),
        sql::branch(
            CATALOG_COLS,
            "x",
            &[
                "schema",
                "table_name",
                "constraint_name",
                "columns",
                "referenced_table",
                "table_bytes",
                "reltuples"
            ],
            &[("part", "2"), ("ord", "x.ord")]
        ),
    )
}

/// Reads [`Objects`] (each list capped at `limit`; unused indexes and FKs without index at
/// `10 × limit`, so that their findings count them all on a normal schema). The lists that
/// come from the catalog alone (invalid and duplicate indexes, FKs without an index: the same
/// on a physical standby, and the heaviest to compute) are read on `catalog`, the read replica
/// when one is configured; the activity statistics (`pg_stat_*`) belong to `db`'s server.
/// The three statements run at the same time (two on `db`, one on `catalog`).
pub(crate) async fn read(db: &Db, catalog: &Db, limit: i64) -> Result<Objects> {
    let stats = async {
        let [tables_sql, indexes_sql] = stats_sql(limit);
        let (table_rows, index_rows) = tokio::join!(
            crate::report::timed("objects.tables", read_rows(db, &tables_sql)),
            crate::report::timed("objects.indexes", read_rows(db, &indexes_sql))
        );
        let (table_rows, index_rows) = (table_rows?, index_rows?);
        let (mut tables, mut dead_tuples, mut indexes, mut unused_indexes) =
            (vec![], vec![], vec![], vec![]);
        let mut stats_reset = None;
        for r in table_rows.iter().chain(&index_rows) {
            match r.decode::<Part>()?.part {
                0 => tables.push(r.decode::<TableRow>()?.into()),
                1 => dead_tuples.push(r.decode::<TableRow>()?.into()),
                2 => indexes.push(r.decode::<IndexRow>()?.into()),
                3 => unused_indexes.push(r.decode::<IndexRow>()?.into()),
                _ => stats_reset = Some(r.decode::<StatsReset>()?.stats_reset),
            }
        }
        let stats_reset =
            stats_reset.ok_or_else(|| ncy_core::Error::db("query returned no row"))?;
        Ok::<_, ncy_core::Error>((tables, dead_tuples, indexes, unused_indexes, stats_reset))
    };
    let lists = async {
        let rows = read_rows(catalog, &catalog_sql(limit)).await?;
        let (mut invalid, mut duplicate, mut missing) = (vec![], vec![], vec![]);
        for r in &rows {
            match r.decode::<Part>()?.part {
                0 => invalid.push(r.decode::<IndexRow>()?.into()),
                1 => {
                    let d: DuplicateRow = r.decode()?;
                    duplicate.push(DuplicateIndexes {
                        schema: d.schema,
                        table: d.table_name,
                        indexes: d.indexes,
                        bytes: d.bytes,
                    });
                }
                _ => {
                    let m: MissingFkRow = r.decode()?;
                    missing.push(MissingFkIndex {
                        schema: m.schema,
                        table: m.table_name,
                        constraint: m.constraint_name,
                        columns: m.columns,
                        referenced_table: m.referenced_table,
                        table_bytes: m.table_bytes,
                        row_estimate: estimate(m.reltuples),
                    });
                }
            }
        }
        Ok::<_, ncy_core::Error>((invalid, duplicate, missing))
    };
    let (stats, lists) = tokio::join!(stats, crate::report::timed("objects.lists", lists));
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
