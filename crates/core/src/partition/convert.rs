//! The online conversion of AccessLog and ErrorLog: the swap, then the batched move.

use chrono::{Months, NaiveDateTime};

use super::{
    default_name, ensure_months, layout, leftover_name, phase, qualified, Layout, LogTable,
    MAX_BACK_MONTHS, SCHEMA,
};
use crate::db::{ident, now, PgDb, Tx};
use crate::error::{Error, Result};
use crate::params;
use crate::work::Work;

/// The short transaction: renames the table away and puts the partitioned table in its place.
/// What keeps a table from being converted, and its primary key's columns (`a,b`).
#[derive(serde::Deserialize)]
struct Blockers {
    uniq: i64,
    trig: i64,
    refs: i64,
    rls: bool,
    pk: Option<String>,
}

pub(super) async fn swap(db: &PgDb, t: &LogTable) -> Result<u32> {
    let name = ident(t.name);
    let old = leftover_name(t.name);
    let col = ident(t.column);
    let mut tx = db.begin().await?;
    // Waiting behind a long reader while holding the queue would stop every writer: give up
    // instead (a rerun tries again).
    tx.batch("SET LOCAL lock_timeout = '10s'").await?;
    tx.batch(&format!("LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE"))
        .await?;
    // Under the lock: another run may have swapped it since the layout was read.
    if layout(&mut tx, t.name).await? != Layout::Plain {
        return Err(Error::conflict(
            "table",
            format!(
                "{} was partitioned meanwhile (another partition-logs?); run it again",
                t.name
            ),
        ));
    }
    let oid = params![name.as_str()];
    let blockers: Blockers = tx
        .query_one_as(
            r#"SELECT
                 (SELECT count(*) FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND NOT i.indisprimary) AS uniq,
                 (SELECT count(*) FROM pg_trigger g WHERE g.tgrelid = to_regclass($1) AND NOT g.tgisinternal) AS trig,
                 (SELECT count(*) FROM pg_constraint c WHERE c.confrelid = to_regclass($1)) AS refs,
                 (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = to_regclass($1)) AS rls,
                 (SELECT array_to_string(array_agg(a.attname::text ORDER BY k.ord), ',')
                    FROM pg_index i CROSS JOIN unnest(i.indkey) WITH ORDINALITY k(att, ord)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att
                   WHERE i.indrelid = to_regclass($1) AND i.indisprimary) AS pk"#,
            &oid,
        )
        .await?;
    if blockers.uniq > 0 || blockers.trig > 0 || blockers.refs > 0 || blockers.rls {
        return Err(Error::conflict(
            "table",
            format!(
                "{} has unique indexes, triggers, row security or foreign keys pointing at it \
                 that partition-logs does not carry over; it was left unchanged",
                t.name
            ),
        ));
    }
    let pk: Vec<String> = blockers
        .pk
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    // What the new table must carry, captured under the old names.
    let index_defs: Vec<String> = tx
        .query_as(
            r#"SELECT pg_get_indexdef(i.indexrelid) AS d FROM pg_index i
               WHERE i.indrelid = to_regclass($1) AND NOT i.indisprimary ORDER BY 1"#,
            &oid,
        )
        .await?;
    let index_names: Vec<String> = tx
        .query_as(
            r#"SELECT c.relname::text AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = to_regclass($1) ORDER BY 1"#,
            &oid,
        )
        .await?;
    let fks = foreign_keys(&mut tx, &name).await?;
    let grants = grants(&mut tx, &name).await?;
    let oldest: Option<NaiveDateTime> = tx
        .query_one_as(&format!("SELECT min({col}) AS lo FROM {name}"), &[])
        .await?;
    let n = now();
    let floor = n
        .checked_sub_months(Months::new(MAX_BACK_MONTHS))
        .unwrap_or(n);
    // Months from the oldest row (bounded) to AHEAD_MONTHS after this one; rows outside (a
    // clock gone wrong) wait in the default partition.
    let lo = oldest.unwrap_or(n).clamp(floor, n);

    tx.batch(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         ALTER TABLE {name} RENAME TO {old_i};",
        schema = ident(SCHEMA),
        old_i = ident(&old),
    ))
    .await?;
    for (k, ix) in index_names.iter().enumerate() {
        tx.batch(&format!(
            "ALTER INDEX {} RENAME TO {}",
            ident(ix),
            ident(&format!("{old}_{k}"))
        ))
        .await?;
    }
    tx.batch(&format!(
        "CREATE TABLE {name} (LIKE {old_i} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)
           PARTITION BY RANGE ({col});
         CREATE TABLE {def} PARTITION OF {name} DEFAULT;",
        old_i = ident(&old),
        def = qualified(&default_name(t)),
    ))
    .await?;
    if !pk.is_empty() {
        let mut cols: Vec<String> = pk.iter().map(|c| ident(c)).collect();
        if !pk.iter().any(|c| c == t.column) {
            cols.push(col.clone());
        }
        tx.batch(&format!(
            "ALTER TABLE {name} ADD CONSTRAINT {} PRIMARY KEY ({})",
            ident(&format!("{}_pkey", t.name)),
            cols.join(", ")
        ))
        .await?;
    }
    let created = ensure_months(&mut tx, t, lo, n).await?;
    for d in &index_defs {
        tx.batch(d).await?;
    }
    for (n, d) in &fks {
        tx.batch(&format!(
            "ALTER TABLE {name} ADD CONSTRAINT {} {d}",
            ident(n)
        ))
        .await?;
    }
    for g in &grants {
        tx.batch(g).await?;
    }
    tx.batch(&format!(
        "COMMENT ON TABLE {name} IS 'Range-partitioned by month on {} (ncy-admin migrate partition-logs); partitions in schema {SCHEMA}'",
        t.column
    ))
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Moves the rows of `<Table>_unpartitioned` into the partitioned table, newest first, one
/// transaction per batch, then drops the emptied table. Returns the rows moved.
pub(super) async fn move_rows(db: &PgDb, t: &LogTable, batch: u32, work: Work<'_>) -> Result<u64> {
    let name = ident(t.name);
    let old_name = leftover_name(t.name);
    let old = ident(&old_name);
    let col = ident(t.column);
    let mut tx = db.begin().await?;
    if layout(&mut tx, t.name).await? != Layout::Moving {
        return Ok(0);
    }
    let total: u64 = tx
        .query_one_as(&format!("SELECT count(*) AS n FROM {old}"), &[])
        .await?;
    let cols: Vec<String> = tx
        .query_as::<String>(
            "SELECT attname::text AS a FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &params![old.as_str()],
        )
        .await?
        .iter()
        .map(|a| ident(a))
        .collect();
    tx.rollback().await?;
    let cols = cols.join(", ");
    let mut done = 0u64;
    // The keyset position: rows at or past it (in descending order) have moved.
    let mut upper: Option<(NaiveDateTime, uuid::Uuid)> = None;
    loop {
        work.check()?;
        work.report(&phase(t, "move"), done, total.max(done));
        let mut tx = db.begin().await?;
        let (cond, mut p) = match upper {
            Some((ts, id)) => (format!("WHERE ({col}, \"id\") < ($1, $2)"), params![ts, id]),
            None => (String::new(), vec![]),
        };
        // The batch's far edge: a keyset page (after `upper`) whose OFFSET is only the batch
        // size, so each step costs one batch whatever the table's size.
        let edge: Option<(NaiveDateTime, uuid::Uuid)> = tx
            .query_opt_as(
                &format!(
                    "SELECT {col} AS ts, \"id\" FROM {old} {cond} ORDER BY {col} DESC, \"id\" DESC OFFSET {} LIMIT 1",
                    batch - 1
                ),
                &p,
            )
            .await?;
        let lower = match edge {
            Some(k) => {
                p.push(k.0.into());
                p.push(k.1.into());
                let n = p.len();
                let c = format!("({col}, \"id\") >= (${}, ${n})", n - 1);
                Some((k, c))
            }
            None => None,
        };
        let mut conds: Vec<String> = Vec::new();
        if upper.is_some() {
            conds.push(format!("({col}, \"id\") < ($1, $2)"));
        }
        if let Some((_, c)) = &lower {
            conds.push(c.clone());
        }
        let wher = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let n = tx
            .execute(
                &format!(
                    "WITH moved AS (DELETE FROM {old} {wher} RETURNING {cols})
                     INSERT INTO {name} ({cols}) SELECT {cols} FROM moved"
                ),
                &p,
            )
            .await?;
        tx.commit().await?;
        done += n;
        match lower {
            Some((k, _)) => upper = Some(k),
            None => break,
        }
    }
    let mut tx = db.begin().await?;
    tx.batch("SET LOCAL lock_timeout = '10s'").await?;
    tx.batch(&format!("LOCK TABLE {old} IN ACCESS EXCLUSIVE MODE"))
        .await?;
    let left: bool = tx
        .query_one_as(&format!("SELECT EXISTS (SELECT 1 FROM {old}) AS x"), &[])
        .await?;
    if left {
        return Err(Error::conflict(
            "table",
            format!("{old_name} still holds rows after the move; run partition-logs again"),
        ));
    }
    tx.batch(&format!("DROP TABLE {old}")).await?;
    tx.commit().await?;
    // The planner's statistics of the parent: autovacuum analyzes partitions only.
    db.query(&format!("ANALYZE {name}"), &[]).await?;
    work.report(&phase(t, "move"), done, done);
    Ok(done)
}

/// The foreign keys of `table` (a quoted name) as `(name, definition)`, to carry over.
pub(super) async fn foreign_keys(tx: &mut Tx, table: &str) -> Result<Vec<(String, String)>> {
    tx.query_as(
        r#"SELECT conname::text AS n, pg_get_constraintdef(oid) AS d FROM pg_constraint
           WHERE conrelid = to_regclass($1) AND contype = 'f' ORDER BY 1"#,
        &params![table],
    )
    .await
}

/// The grants on `table` (a quoted name) to roles other than its owner, as GRANT statements
/// naming it, to replay on the table that takes its name.
pub(super) async fn grants(tx: &mut Tx, table: &str) -> Result<Vec<String>> {
    tx.query_as(
        r#"SELECT format('GRANT %s ON %s TO %s%s', a.privilege_type, $1::text,
                    CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                    CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) AS g
           FROM pg_class c, aclexplode(c.relacl) a
           WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner ORDER BY 1"#,
        &params![table],
    )
    .await
}
