//! AuditLog's conversion to monthly partitions. Its rows are sealed into a hash chain as they
//! are inserted (`ncy_audit_seal` numbers each row and links it to the newest), so they are
//! never moved: the existing table becomes one partition, [`LEGACY`], holding everything
//! before the month the partitions start at, and every later month gets its own partition.
//!
//! 1. **Prepare** (writers keep writing): the two unique indexes a partition needs (the
//!    partition key with `"id"`, and with `"seq"`) are built `CONCURRENTLY`, and a `CHECK` that
//!    bounds `"created_at"` below the first partitioned month is added `NOT VALID` and then
//!    validated, so attaching the table later scans nothing.
//! 2. **Swap** (one short transaction): the table moves to [`SCHEMA`] as [`LEGACY`], a
//!    partitioned `AuditLog` with the same columns, indexes, triggers, foreign keys, grants and
//!    digest function takes its place, and the legacy table is attached for `MINVALUE` up to
//!    that month.
//!
//! The chain goes on unchanged: the seal finds the newest row through the parent, and a
//! `"seq"` stays unique because writers are serialized by the seal's lock (and a stale
//! snapshot fails on the chain head's row lock; see migration 0010). `"seq"` is indexed
//! uniquely with the partition key, as PostgreSQL requires.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

use super::convert::{foreign_keys, grants};
use super::{
    add_months, default_name, ensure_range, layout, lit, month_start, qualified, Layout,
    AHEAD_MONTHS, AUDIT_LOG, SCHEMA,
};
use crate::db::{ident, now, PgDb, Tx};
use crate::error::{Error, Result};
use crate::params;

/// The partition holding AuditLog's rows from before its conversion.
pub const LEGACY: &str = "AuditLog_legacy";

/// The CHECK that bounds the legacy rows (then the legacy partition's range).
const BOUND: &str = "AuditLog_legacy_bound";

/// The unique indexes built before the swap, as (name, columns).
const KEYS: [(&str, &str); 2] = [
    ("AuditLog_legacy_id_created_at", r#""id", "created_at""#),
    ("AuditLog_legacy_seq_created_at", r#""seq", "created_at""#),
];

/// The first partitioned month: next month when it is at least a week away (the bound must
/// not refuse a row before the swap), else the month after; and after the newest row.
fn first_month(today: NaiveDate, newest: Option<NaiveDate>) -> NaiveDate {
    let start = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let mut m = add_months(start, 1);
    if (m - today).num_days() < 7 {
        m = add_months(m, 1);
    }
    match newest {
        Some(n) if n >= m => add_months(
            NaiveDate::from_ymd_opt(n.year(), n.month(), 1).unwrap_or(n),
            1,
        ),
        _ => m,
    }
}

/// Converts the plain AuditLog (see the module documentation); returns the monthly
/// partitions created. On failure the bound is taken off again, so the plain table keeps
/// accepting rows of every date.
pub(super) async fn swap(db: &PgDb) -> Result<u32> {
    let n = now();
    let newest: Option<NaiveDateTime> = db
        .query_one_as(r#"SELECT max("created_at") AS t FROM "AuditLog""#, &[])
        .await?;
    if let Some(t) = newest {
        if t > n + chrono::Duration::days(366) {
            return Err(Error::conflict(
                "AuditLog",
                format!(
                    "it holds rows dated {t} (a clock gone wrong?); partitions would start after \
                     them. Nothing was changed"
                ),
            ));
        }
    }
    let first = first_month(n.date(), newest.map(|t| t.date()));
    let res = match prepare(db, first).await {
        Ok(()) => attach(db, first).await,
        Err(e) => Err(e),
    };
    if res.is_err() {
        // Best effort: the error that stopped the conversion is the one to report.
        if let Ok(mut tx) = db.begin().await {
            let undo = tx
                .batch(&format!(
                    "SET LOCAL lock_timeout = '10s';
                     ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                    ident(AUDIT_LOG.name),
                    ident(BOUND)
                ))
                .await;
            if undo.is_ok() {
                let _ = tx.commit().await;
            }
        }
    }
    res
}

/// Builds the unique indexes concurrently (reusing valid ones from an interrupted run) and
/// adds and validates the bound, all while writers go on.
async fn prepare(db: &PgDb, first: NaiveDate) -> Result<()> {
    let table = ident(AUDIT_LOG.name);
    for (name, cols) in KEYS {
        let valid: Vec<bool> = db
            .query_as(
                "SELECT i.indisvalid AS v FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
                &params![ident(name)],
            )
            .await?;
        match valid.first() {
            Some(true) => continue,
            Some(false) => {
                db.batch_autocommit(&format!("DROP INDEX CONCURRENTLY {}", ident(name)))
                    .await?;
            }
            None => {}
        }
        db.batch_autocommit(&format!(
            "CREATE UNIQUE INDEX CONCURRENTLY {} ON {table} ({cols})",
            ident(name)
        ))
        .await?;
    }
    let mut tx = db.begin().await?;
    tx.batch(&format!(
        "SET LOCAL lock_timeout = '10s';
         ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {b};
         ALTER TABLE {table} ADD CONSTRAINT {b} CHECK (\"created_at\" < {lim}) NOT VALID",
        b = ident(BOUND),
        lim = lit(first),
    ))
    .await?;
    tx.commit().await?;
    db.query(
        &format!("ALTER TABLE {table} VALIDATE CONSTRAINT {}", ident(BOUND)),
        &[],
    )
    .await?;
    Ok(())
}

/// What the new parent must carry, read from the plain table before it moves.
struct Carried {
    indexes: Vec<String>,
    triggers: Vec<(String, String)>,
    functions: Vec<(i64, String)>,
    fks: Vec<(String, String)>,
    grants: Vec<String>,
}

async fn carried(tx: &mut Tx, table: &str) -> Result<Carried> {
    let p = params![table];
    let mut indexes = Vec::new();
    let found: Vec<(String, String, bool, bool)> = tx
        .query_as(
            r#"SELECT c.relname::text AS n, pg_get_indexdef(i.indexrelid) AS d, i.indisunique AS u,
                      EXISTS (SELECT 1 FROM unnest(i.indkey) k JOIN pg_attribute a
                                ON a.attrelid = i.indrelid AND a.attnum = k WHERE a.attname = 'created_at') AS keyed
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = to_regclass($1) AND NOT i.indisprimary ORDER BY 1"#,
            &p,
        )
        .await?;
    for (name, def, unique, keyed) in found {
        if KEYS.iter().any(|(k, _)| *k == name) {
            continue;
        }
        if name == "AuditLog_seq_key" {
            // Unique together with the partition key, as a partitioned table requires.
            indexes.push(format!(
                r#"CREATE UNIQUE INDEX "AuditLog_seq_key" ON {table} ("seq", "created_at")"#
            ));
        } else if unique && !keyed {
            return Err(Error::conflict(
                "AuditLog",
                format!(
                    "its unique index {name} does not include \"created_at\", which a \
                     partitioned table requires; it was left unchanged"
                ),
            ));
        } else {
            indexes.push(def);
        }
    }
    let triggers = tx
        .query_as(
            r#"SELECT tgname::text AS n, pg_get_triggerdef(oid) AS d FROM pg_trigger
               WHERE tgrelid = to_regclass($1) AND NOT tgisinternal ORDER BY 1"#,
            &p,
        )
        .await?;
    // Functions taking or returning the table's row type (ncy_audit_digest) are bound to the
    // type, which moves with the table: they are made again for the new parent's.
    let functions = tx
        .query_as(
            r#"SELECT p.oid::bigint AS o, pg_get_functiondef(p.oid) AS d FROM pg_proc p
               WHERE to_regtype($1) = ANY (p.proargtypes::oid[]) OR p.prorettype = to_regtype($1)
               ORDER BY 1"#,
            &p,
        )
        .await?;
    Ok(Carried {
        indexes,
        triggers,
        functions,
        fks: foreign_keys(tx, table).await?,
        grants: grants(tx, table).await?,
    })
}

/// The swap transaction.
async fn attach(db: &PgDb, first: NaiveDate) -> Result<u32> {
    let table = ident(AUDIT_LOG.name);
    let legacy = qualified(LEGACY);
    let mut tx = db.begin().await?;
    // Waiting behind a long reader while holding the queue would stop every writer: give up
    // instead (a rerun tries again).
    tx.batch(&format!(
        "SET LOCAL lock_timeout = '10s'; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
    ))
    .await?;
    if layout(&mut tx, AUDIT_LOG.name).await? != Layout::Plain {
        return Err(Error::conflict(
            "table",
            "AuditLog was partitioned meanwhile (another partition-logs?); run it again",
        ));
    }
    let c = carried(&mut tx, &table).await?;
    let pk_index: String = tx
        .query_one_as(
            r#"SELECT coalesce((SELECT conname::text FROM pg_constraint
                                 WHERE conrelid = to_regclass($1) AND contype = 'p'), '') AS n"#,
            &params![table.as_str()],
        )
        .await?;
    let mut sql = format!("CREATE SCHEMA IF NOT EXISTS {};", ident(SCHEMA));
    for (name, _) in &c.triggers {
        sql.push_str(&format!("DROP TRIGGER {} ON {table};", ident(name)));
    }
    sql.push_str(&format!(
        "ALTER TABLE {table} RENAME TO {l};
         ALTER TABLE {l} SET SCHEMA {s};",
        l = ident(LEGACY),
        s = ident(SCHEMA),
    ));
    if !pk_index.is_empty() {
        sql.push_str(&format!(
            "ALTER TABLE {legacy} DROP CONSTRAINT {};",
            ident(&pk_index)
        ));
    }
    sql.push_str(&format!(
        "ALTER TABLE {legacy} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {};",
        ident(&format!("{LEGACY}_pkey")),
        ident(KEYS[0].0)
    ));
    tx.batch(&sql).await?;
    // The row-type functions, now bound to the legacy table's type, go; made again below.
    for (oid, _) in &c.functions {
        let sig: String = tx
            .query_one_as(
                "SELECT ($1::bigint)::oid::regprocedure::text AS s",
                &params![*oid],
            )
            .await?;
        tx.batch(&format!("DROP FUNCTION {sig}")).await?;
    }
    let mut sql = format!(
        "CREATE TABLE {table} (LIKE {legacy} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)
           PARTITION BY RANGE (\"created_at\");
         ALTER TABLE {table} DROP CONSTRAINT {b};
         ALTER TABLE {table} ADD CONSTRAINT \"AuditLog_pkey\" PRIMARY KEY (\"id\", \"created_at\");",
        b = ident(BOUND),
    );
    for d in &c.indexes {
        sql.push_str(d);
        sql.push(';');
    }
    for (n, d) in &c.fks {
        sql.push_str(&format!(
            "ALTER TABLE {table} ADD CONSTRAINT {} {d};",
            ident(n)
        ));
    }
    for (_, d) in &c.functions {
        sql.push_str(d);
        sql.push(';');
    }
    for (_, d) in &c.triggers {
        sql.push_str(d);
        sql.push(';');
    }
    sql.push_str(&format!(
        "CREATE TABLE {} PARTITION OF {table} DEFAULT;",
        qualified(&default_name(&AUDIT_LOG))
    ));
    tx.batch(&sql).await?;
    let last = add_months(month_start(now()), AHEAD_MONTHS).max(first);
    let created = ensure_range(&mut tx, &AUDIT_LOG, first, last).await?;
    let mut sql = format!(
        "ALTER TABLE {table} ATTACH PARTITION {legacy} FOR VALUES FROM (MINVALUE) TO ({});",
        lit(first)
    );
    for g in &c.grants {
        sql.push_str(g);
        sql.push(';');
    }
    sql.push_str(&format!(
        "COMMENT ON TABLE {table} IS 'Range-partitioned by month on created_at (ncy-admin migrate partition-logs); rows from before {} in {SCHEMA}.{LEGACY}, later months in {SCHEMA}'",
        first
    ));
    tx.batch(&sql).await?;
    tx.commit().await?;
    db.query(&format!("ANALYZE {table}"), &[]).await?;
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::first_month;
    use chrono::NaiveDate;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_first_partitioned_month_leaves_a_week_and_follows_the_newest_row() {
        assert_eq!(first_month(d(2026, 12, 5), None), d(2027, 1, 1));
        assert_eq!(first_month(d(2026, 12, 26), None), d(2027, 2, 1));
        assert_eq!(
            first_month(d(2026, 12, 5), Some(d(2027, 3, 9))),
            d(2027, 4, 1)
        );
        assert_eq!(
            first_month(d(2026, 12, 5), Some(d(2026, 12, 5))),
            d(2027, 1, 1)
        );
    }
}
