//! Reading the audit trail: filtered keyset pages and streamed CSV / JSON export.

use std::io::Write;
use std::path::Path;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::admin::{limit, resolve_user, Cursor, Page, Where};
use crate::auth::{perm, Operator};
use crate::db::{format_ts, Db, Row, Tx};
use crate::error::{Error, Result};
use crate::export::{CsvWriter, ExportFile};
use crate::work::Work;

/// One AuditLog row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AuditEntry {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_table: String,
    pub target_id: Option<Uuid>,
    pub old_value: Option<serde_json::Value>,
    pub new_value: Option<serde_json::Value>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Audit filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AuditFilter {
    /// Actor as user id or email.
    pub actor: Option<String>,
    pub table: Option<String>,
    pub target: Option<Uuid>,
    pub action: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

fn entry(r: &Row) -> Result<AuditEntry> {
    r.decode()
}

/// The statement of one page and its parameters; `actor` is the resolved actor filter.
fn page_sql(
    f: &AuditFilter,
    actor: Option<Uuid>,
    lim: i64,
    after: Option<Cursor>,
) -> Result<(String, Vec<crate::db::Value>)> {
    let mut w = Where::default();
    if let Some(id) = actor {
        w.push(|p| format!(r#"a."user_id" = {p}"#), id);
    }
    if let Some(t) = f.table.as_deref().filter(|t| !t.is_empty()) {
        w.push(|p| format!(r#"a."target_table" = {p}"#), t.trim());
    }
    if let Some(t) = f.target {
        w.push(|p| format!(r#"a."target_id" = {p}"#), t);
    }
    if let Some(a) = f.action.as_deref().filter(|a| !a.is_empty()) {
        w.push(|p| format!(r#"a."action" = {p}"#), a.trim().to_uppercase());
    }
    if let Some(t) = f.since {
        w.push(|p| format!(r#"a."created_at" >= {p}"#), t);
    }
    if let Some(t) = f.until {
        w.push(|p| format!(r#"a."created_at" < {p}"#), t);
    }
    if let (Some(s), Some(u)) = (f.since, f.until) {
        if s >= u {
            return Err(Error::invalid("since", "must be before `until`"));
        }
    }
    if let Some(c) = &after {
        w.before(r#"a."created_at""#, r#"a."id""#, c);
    }
    let sql = format!(
        r#"SELECT a."id", a."user_id", u."email" AS actor_email, a."action", a."target_table", a."target_id", a."old_value", a."new_value",
                  a."ip_address", a."user_agent", a."created_at"
           FROM "AuditLog" a LEFT JOIN "User" u ON u."id" = a."user_id" {} ORDER BY a."created_at" DESC, a."id" DESC LIMIT {}"#,
        w.sql(),
        lim
    );
    Ok((sql, w.params))
}

/// The actor filter, when one is given.
fn actor_of(f: &AuditFilter) -> Option<&str> {
    f.actor.as_deref().filter(|a| !a.trim().is_empty())
}

async fn page_in(
    tx: &mut Tx,
    f: &AuditFilter,
    lim: i64,
    after: Option<Cursor>,
) -> Result<Vec<AuditEntry>> {
    let actor = match actor_of(f) {
        Some(a) => Some(resolve_user(tx, a).await?),
        None => None,
    };
    let (sql, params) = page_sql(f, actor, lim, after)?;
    tx.query(&sql, &params).await?.iter().map(entry).collect()
}

/// Lists audit entries, newest first.
pub async fn list(
    db: &Db,
    op: &Operator,
    f: &AuditFilter,
    lim: u32,
    after: Option<&str>,
) -> Result<Page<AuditEntry>> {
    op.require(perm::AUDIT_READ)?;
    let lim = limit(lim)?;
    let after = after.map(Cursor::decode).transpose()?;
    let items = if actor_of(f).is_some() {
        let mut tx = db.begin_read().await?;
        let items = page_in(&mut tx, f, lim + 1, after).await?;
        tx.rollback().await?;
        items
    } else {
        // Nothing to look up first: the page is one statement, one round trip.
        let (sql, params) = page_sql(f, None, lim + 1, after)?;
        db.query(&sql, &params)
            .await?
            .iter()
            .map(entry)
            .collect::<Result<Vec<_>>>()?
    };
    Ok(crate::admin::page_of(items, lim, |e| Cursor {
        ts: e.created_at,
        id: e.id,
    }))
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// Parses `csv` or `json`.
    pub fn parse(s: &str) -> Result<Format> {
        match s.trim().to_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            _ => Err(Error::invalid(
                "format",
                format!("{s:?} is not csv or json"),
            )),
        }
    }
}

/// Streams every matching entry to the file `path` ([`ExportFile`]: a private temporary file
/// renamed into place when complete, never through a symbolic link; nothing is left behind
/// on an error or a cancel). Returns the number of rows written.
pub async fn export_file(
    db: &Db,
    op: &Operator,
    f: &AuditFilter,
    format: Format,
    path: &Path,
    work: Work<'_>,
) -> Result<u64> {
    let mut file = ExportFile::create(path)?;
    let n = {
        let mut out = std::io::BufWriter::new(file.file());
        let n = export(db, op, f, format, &mut out, work).await?;
        out.flush()
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        n
    };
    file.finish()?;
    Ok(n)
}

/// Streams every matching entry to `out` in keyset batches (memory stays flat), newest first.
/// JSON is one array; CSV has a header row and cells that could run as a spreadsheet formula
/// neutralised ([`crate::export::neutralise_cell`]). Reports the rows written (phase
/// `exporting`) and stops between batches when cancelled. Returns the number of rows written.
pub async fn export(
    db: &Db,
    op: &Operator,
    f: &AuditFilter,
    format: Format,
    out: &mut (dyn Write + Send),
    work: Work<'_>,
) -> Result<u64> {
    op.require(perm::AUDIT_READ)?;
    let io = |e: std::io::Error| Error::io("writing the audit export", e);
    enum Sink<'a> {
        Csv(Box<CsvWriter<&'a mut (dyn Write + Send)>>),
        Json(&'a mut (dyn Write + Send)),
    }
    let mut sink = match format {
        Format::Csv => {
            let mut w = CsvWriter::new(out);
            w.write_row([
                "id",
                "created_at",
                "actor_id",
                "actor_email",
                "action",
                "target_table",
                "target_id",
                "old_value",
                "new_value",
                "ip_address",
                "user_agent",
            ])?;
            Sink::Csv(Box::new(w))
        }
        Format::Json => {
            out.write_all(b"[").map_err(io)?;
            Sink::Json(out)
        }
    };
    let mut n = 0u64;
    let mut after = None;
    loop {
        let mut tx = db.begin_read().await?;
        let batch = page_in(&mut tx, f, 1000, after).await?;
        tx.rollback().await?;
        for e in &batch {
            match &mut sink {
                Sink::Csv(w) => {
                    let opt = |v: &Option<serde_json::Value>| {
                        v.as_ref().map(|j| j.to_string()).unwrap_or_default()
                    };
                    w.write_row([
                        e.id.to_string(),
                        format_ts(&e.created_at),
                        e.user_id.map(|u| u.to_string()).unwrap_or_default(),
                        e.actor_email.clone().unwrap_or_default(),
                        e.action.clone(),
                        e.target_table.clone(),
                        e.target_id.map(|u| u.to_string()).unwrap_or_default(),
                        opt(&e.old_value),
                        opt(&e.new_value),
                        e.ip_address.clone().unwrap_or_default(),
                        e.user_agent.clone().unwrap_or_default(),
                    ])?;
                }
                Sink::Json(out) => {
                    if n > 0 {
                        out.write_all(b",\n").map_err(io)?;
                    }
                    serde_json::to_writer(&mut **out, e).map_err(|e| match e.io_error_kind() {
                        Some(_) => io(std::io::Error::other(e)),
                        None => Error::db(e.to_string()),
                    })?;
                }
            }
            n += 1;
        }
        work.report("exporting", n, 0);
        work.check()?;
        if batch.len() < 1000 {
            break;
        }
        after = batch.last().map(|e| Cursor {
            ts: e.created_at,
            id: e.id,
        });
    }
    match sink {
        Sink::Csv(mut w) => w.flush()?,
        Sink::Json(out) => {
            out.write_all(b"]\n").map_err(io)?;
            out.flush().map_err(io)?;
        }
    }
    Ok(n)
}
