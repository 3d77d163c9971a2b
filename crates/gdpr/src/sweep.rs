//! The proof of an erasure: every text, JSON and address column of every table (discovered
//! from the live schema) is searched for the subject's former email, its specific local part
//! and the subject's own IP addresses. A clean sweep has zero hits. The result names tables and
//! columns with row counts only, never the terms.

use std::time::Instant;

use ncy_core::db::{Dialect, Tx, Value};
use ncy_core::Result;
use ncy_core::Work;
use serde::{Deserialize, Serialize};

use crate::schema::{self, ColKind, Table};
use crate::terms::{TermSummary, Terms};

/// Rows of one column still holding a term.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SweepHit {
    pub table: String,
    pub column: String,
    pub rows: u64,
}

/// What a sweep searched and found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SweepResult {
    /// True when no term was found anywhere.
    pub clean: bool,
    pub terms: TermSummary,
    pub tables_scanned: u64,
    pub columns_scanned: u64,
    pub hits: Vec<SweepHit>,
    pub duration_ms: u64,
}

/// A row whose searchable columns matched the SQL prefilter: its row id and column texts.
pub(crate) struct Candidate {
    pub rid: Value,
    pub values: Vec<Option<String>>,
}

fn q(name: &str) -> String {
    ncy_core::db::ident(name)
}

/// Rows of `table` where some column contains a term (case-insensitive LIKE prefilter; callers
/// confirm with [`Terms::found_in`]).
pub(crate) async fn candidates(
    tx: &mut Tx,
    table: &Table,
    terms: &Terms,
) -> Result<Vec<Candidate>> {
    let pg = tx.dialect() == Dialect::Postgres;
    let mut params: Vec<Value> = Vec::new();
    for t in terms.patterns() {
        params.push(Value::Text(format!("%{t}%")));
    }
    let mut conds = Vec::new();
    let mut cols = Vec::new();
    for c in &table.columns {
        let expr = if pg {
            format!("{}::text", q(&c.name))
        } else {
            q(&c.name)
        };
        for i in 1..=params.len() {
            conds.push(format!("{expr} ILIKE ${i}"));
        }
        cols.push(format!("{expr} AS {}", q(&c.name)));
    }
    // A ctid names a row within one heap: on a partitioned table (the log tables, see
    // ncy_core::partition) each partition has its own, so the row id carries the heap's oid.
    let rid = if pg {
        "tableoid::oid::text || ':' || ctid::text"
    } else {
        "rowid"
    };
    let sql = format!(
        "SELECT {rid} AS \"_ncy_rid\", {} FROM {} WHERE {}",
        cols.join(", "),
        q(&table.name),
        conds.join(" OR ")
    );
    let rows = tx.query(&sql, &params).await?;
    // Read by name on purpose, not decoded: the columns come from the schema (table-driven),
    // and the row id stays the raw value (ctid text on PostgreSQL, integer rowid on SQLite)
    // that the redaction binds back as a parameter.
    rows.into_iter()
        .map(|r| {
            let values = table
                .columns
                .iter()
                .map(|c| r.opt_text(&c.name))
                .collect::<Result<Vec<_>>>()?;
            Ok(Candidate {
                rid: r.get("_ncy_rid")?.clone(),
                values,
            })
        })
        .collect()
}

/// Searches the whole database inside `tx` for `terms`.
pub async fn sweep_in(tx: &mut Tx, terms: &Terms, work: Work<'_>) -> Result<SweepResult> {
    let started = Instant::now();
    let tables = schema::searchable(tx).await?;
    let total = tables.len() as u64;
    let mut res = SweepResult {
        clean: true,
        terms: terms.summary(),
        tables_scanned: 0,
        columns_scanned: 0,
        hits: vec![],
        duration_ms: 0,
    };
    for (i, table) in tables.iter().enumerate() {
        work.check()?;
        work.report(&format!("sweep {}", table.name), i as u64, total);
        res.tables_scanned += 1;
        res.columns_scanned += table.columns.len() as u64;
        if terms.is_empty() {
            continue;
        }
        let mut counts = vec![0u64; table.columns.len()];
        for cand in candidates(tx, table, terms).await? {
            for (j, v) in cand.values.iter().enumerate() {
                if v.as_deref().is_some_and(|s| terms.found_in(s)) {
                    counts[j] += 1;
                }
            }
        }
        for (j, n) in counts.into_iter().enumerate() {
            if n > 0 {
                res.hits.push(SweepHit {
                    table: table.name.clone(),
                    column: table.columns[j].name.clone(),
                    rows: n,
                });
            }
        }
    }
    res.clean = res.hits.is_empty();
    res.duration_ms = started.elapsed().as_millis() as u64;
    work.report("sweep", total, total);
    Ok(res)
}

/// One column rewritten by the generic redaction pass.
pub(crate) struct Redacted {
    pub table: String,
    pub column: String,
    pub nulled: bool,
    pub rows: u64,
}

/// Replaces every occurrence of `terms` in every searchable column (address columns holding a
/// term become NULL). Skips the migration bookkeeping table.
pub(crate) async fn redact_everywhere(tx: &mut Tx, terms: &Terms) -> Result<Vec<Redacted>> {
    if terms.is_empty() {
        return Ok(vec![]);
    }
    let pg = tx.dialect() == Dialect::Postgres;
    let mut out = Vec::new();
    for table in schema::searchable(tx).await? {
        if table.name == ncy_core::migrate::TABLE {
            continue;
        }
        let mut counts = vec![0u64; table.columns.len()];
        for cand in candidates(tx, &table, terms).await? {
            let mut sets = Vec::new();
            let mut params: Vec<Value> = Vec::new();
            for (j, v) in cand.values.iter().enumerate() {
                let Some(v) = v else { continue };
                let col = &table.columns[j];
                if col.kind == ColKind::Inet {
                    if terms.found_in(v) {
                        sets.push(format!("{} = NULL", q(&col.name)));
                        counts[j] += 1;
                    }
                    continue;
                }
                let Some(new) = terms.redact(v) else { continue };
                params.push(Value::Text(new));
                let cast = match (pg, col.kind) {
                    (true, ColKind::Json) => "::json",
                    (true, ColKind::Jsonb) => "::jsonb",
                    (true, ColKind::TextArray) => "::text[]",
                    _ => "",
                };
                sets.push(format!("{} = ${}{cast}", q(&col.name), params.len()));
                counts[j] += 1;
            }
            if sets.is_empty() {
                continue;
            }
            // The audit chain keeps proving the row: the redaction is recorded, and verify
            // then trusts the digest written before it (migration 0010).
            if pg && table.name == "AuditLog" {
                sets.push(r#""redacted_at" = (now() AT TIME ZONE 'UTC')"#.to_owned());
            }
            params.push(cand.rid.clone());
            let cond = if pg {
                let n = params.len();
                format!("tableoid = split_part(${n}, ':', 1)::oid AND ctid = split_part(${n}, ':', 2)::tid")
            } else {
                format!("rowid = ${}", params.len())
            };
            let sql = format!(
                "UPDATE {} SET {} WHERE {cond}",
                q(&table.name),
                sets.join(", ")
            );
            tx.execute(&sql, &params).await?;
        }
        for (j, n) in counts.into_iter().enumerate() {
            if n > 0 {
                out.push(Redacted {
                    table: table.name.clone(),
                    column: table.columns[j].name.clone(),
                    nulled: table.columns[j].kind == ColKind::Inet,
                    rows: n,
                });
            }
        }
    }
    Ok(out)
}

/// Sweeps the database for an email (and its specific local part) and IP addresses, in a
/// read-only pass (needs `gdpr.read`). Used to re-prove an erasure at any later time.
pub async fn sweep_for(
    db: &ncy_core::db::Db,
    op: &ncy_core::auth::Operator,
    email: Option<&str>,
    ips: &[String],
) -> Result<SweepResult> {
    op.require(ncy_core::auth::perm::GDPR_READ)?;
    let terms = Terms::new(email, ips, 0);
    let mut tx = db.begin().await?;
    let r = if crate::rows::operator_login(&mut tx).await? {
        sweep_in_database(&mut tx, &terms, email, ips).await
    } else {
        sweep_in(&mut tx, &terms, ncy_core::Work::none()).await
    };
    tx.rollback().await?;
    r
}

/// [`sweep_for`] on an operator's own login, which may not read every table: the database
/// sweeps through the checked `ncy_gdpr_sweep_for()` (migration 0023), by the same rule.
async fn sweep_in_database(
    tx: &mut Tx,
    terms: &Terms,
    email: Option<&str>,
    ips: &[String],
) -> Result<SweepResult> {
    #[derive(Deserialize)]
    struct Swept {
        clean: bool,
        tables_scanned: u64,
        columns_scanned: u64,
        hits: Vec<SweepHit>,
        duration_ms: u64,
    }
    #[derive(Deserialize)]
    struct Row {
        r: serde_json::Value,
    }
    let row: Row = tx
        .query_one_as(
            "SELECT ncy_gdpr_sweep_for($1, $2) AS r",
            &ncy_core::params![email, ips.to_vec()],
        )
        .await
        .map_err(|e| crate::rows::definer_error(e, "sweep", "ncy_gdpr_sweep_for"))?;
    let s: Swept = serde_json::from_value(row.r)
        .map_err(|e| ncy_core::Error::db(format!("the database's sweep result: {e}")))?;
    Ok(SweepResult {
        clean: s.clean,
        terms: terms.summary(),
        tables_scanned: s.tables_scanned,
        columns_scanned: s.columns_scanned,
        hits: s.hits,
        duration_ms: s.duration_ms,
    })
}
