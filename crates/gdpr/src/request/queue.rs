//! The queue and its dashboard counts, and one request's detail.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db, Tx};
use ncy_core::model::{GdprRequestStatus, GdprRequestType};
use ncy_core::{params, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{is_overdue, load, Request, RequestKind, RequestState, SELECT};
use crate::subject::{self, Subject};

/// Which requests the queue shows.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// Only this state (`None`: open requests only, unless `include_closed`).
    pub status: Option<RequestState>,
    /// Only overdue requests.
    pub overdue: bool,
    /// With no `status`, show completed and rejected ones too.
    pub include_closed: bool,
    /// Only this subject.
    pub user: Option<Uuid>,
    /// Keyset cursor: the last row's `(effective_due_at, id)` of the previous page.
    pub after: Option<(NaiveDateTime, Uuid)>,
    /// Page size (default 500).
    pub limit: Option<u32>,
    /// Evaluate deadlines as of this instant (default: now).
    pub as_of: Option<NaiveDateTime>,
}

/// Dashboard counts.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Dashboard {
    pub open: u64,
    pub overdue: u64,
    pub due_within_7_days: u64,
    pub by_state: BTreeMap<String, u64>,
    pub by_kind_open: BTreeMap<String, u64>,
}

/// The queue: requests sorted by effective due date, overdue flagged, with dashboard counts.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Queue {
    pub as_of: NaiveDateTime,
    pub requests: Vec<Request>,
    pub dashboard: Dashboard,
    /// Cursor for the next page when the page was full.
    pub next_after: Option<(NaiveDateTime, Uuid)>,
}

/// Lists requests (needs `gdpr.read`); `receipt` is left out (see [`show`]).
pub async fn list(db: &Db, op: &Operator, f: &QueueFilter) -> Result<Queue> {
    op.require(perm::GDPR_READ)?;
    let as_of = f.as_of.unwrap_or_else(now);
    let limit = f.limit.unwrap_or(500).clamp(1, 10_000) as i64;
    let due = r#"COALESCE(r."extended_due_at", r."due_at")"#;
    let mut conds: Vec<String> = Vec::new();
    let mut p: Vec<ncy_core::db::Value> = Vec::new();
    match f.status {
        Some(s) => {
            let list = s
                .db_statuses()
                .iter()
                .map(|v| format!("'{v}'"))
                .collect::<Vec<_>>()
                .join(", ");
            conds.push(format!(r#"r."status"::text IN ({list})"#));
        }
        None if !f.include_closed => {
            conds.push(r#"r."status"::text NOT IN ('COMPLETED', 'REJECTED')"#.into())
        }
        None => {}
    }
    if f.overdue {
        p.push(as_of.into());
        conds.push(format!(
            r#"r."status"::text NOT IN ('COMPLETED', 'REJECTED') AND {due} < ${}"#,
            p.len()
        ));
    }
    if let Some(u) = f.user {
        p.push(u.into());
        conds.push(format!(r#"r."user_id" = ${}"#, p.len()));
    }
    if let Some((t, id)) = f.after {
        p.push(t.into());
        p.push(id.into());
        conds.push(format!(
            r#"({due}, r."id") > (${}, ${})"#,
            p.len() - 1,
            p.len()
        ));
    }
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    let sql = format!(r#"{SELECT}{filter} ORDER BY {due}, r."id" LIMIT {limit}"#);
    let mut tx = db.begin().await?;
    let rows = tx.query(&sql, &p).await?;
    // The queue stays light: receipts are shown by `show`.
    let requests = rows
        .iter()
        .map(|r| {
            Request::from_row(r, as_of).map(|mut q| {
                q.receipt = None;
                q
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let dashboard = dashboard_in(&mut tx, as_of).await?;
    tx.commit().await?;
    let next_after = if requests.len() as i64 == limit {
        requests.last().map(|r| (r.effective_due_at, r.id))
    } else {
        None
    };
    Ok(Queue {
        as_of,
        requests,
        dashboard,
        next_after,
    })
}

/// One group of the dashboard's count.
#[derive(Deserialize)]
struct DashboardRow {
    status: String,
    #[serde(rename = "type")]
    kind: String,
    due: NaiveDateTime,
    n: i64,
}

async fn dashboard_in(tx: &mut Tx, as_of: NaiveDateTime) -> Result<Dashboard> {
    let rows: Vec<DashboardRow> = tx
        .query_as(
            r#"SELECT "status"::text AS status, "type"::text AS type,
                      COALESCE("extended_due_at", "due_at") AS due, count(*) AS n
               FROM "GdprRequest" GROUP BY "status", "type", COALESCE("extended_due_at", "due_at")"#,
            &[],
        )
        .await?;
    let mut d = Dashboard::default();
    let week = as_of + chrono::Duration::days(7);
    for r in rows {
        let state = RequestState::from_status(GdprRequestStatus::parse(&r.status)?);
        let kind = RequestKind::from_type(GdprRequestType::parse(&r.kind)?);
        let n = r.n as u64;
        let due = r.due;
        *d.by_state.entry(state.as_str().to_owned()).or_default() += n;
        if state.is_open() {
            d.open += n;
            *d.by_kind_open.entry(kind.as_str().to_owned()).or_default() += n;
            if is_overdue(state, due, as_of) {
                d.overdue += n;
            } else if due <= week {
                d.due_within_7_days += n;
            }
        }
    }
    Ok(d)
}

/// Dashboard counts alone (needs `gdpr.read`).
pub async fn dashboard(db: &Db, op: &Operator) -> Result<Dashboard> {
    op.require(perm::GDPR_READ)?;
    let mut tx = db.begin().await?;
    let d = dashboard_in(&mut tx, now()).await?;
    tx.commit().await?;
    Ok(d)
}

/// One audit event of a request's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct HistoryEntry {
    pub at: NaiveDateTime,
    pub action: String,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub new: Option<serde_json::Value>,
}

/// A request with its subject, blockers and history.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RequestDetail {
    pub request: Request,
    pub subject: Option<Subject>,
    /// Active legal holds on the subject (erasure is refused while any is set).
    pub legal_holds: Vec<crate::hold::Hold>,
    /// Slugs of organizations the subject owns (erasure needs a transfer first).
    pub owned_organizations: Vec<String>,
    pub history: Vec<HistoryEntry>,
}

/// Shows one request (needs `gdpr.read`).
pub async fn show(db: &Db, op: &Operator, id: Uuid) -> Result<RequestDetail> {
    op.require(perm::GDPR_READ)?;
    let mut tx = db.begin().await?;
    let request = load(&mut tx, id).await?;
    let (subject, legal_holds, owned_organizations) = match request.user_id {
        Some(u) => (
            Some(subject::by_id(&mut tx, u).await?),
            crate::hold::active_in(&mut tx, u).await?,
            owned_orgs(&mut tx, u).await?,
        ),
        None => (None, vec![], vec![]),
    };
    // An operator's own login may not read the audit log (SUPPORT): the request's entries come
    // through the checked ncy_gdpr_request_history() (migration 0023).
    let sql = if crate::rows::operator_login(&mut tx).await? {
        r#"SELECT "at", "action", "actor_id", "actor_email", "new" FROM ncy_gdpr_request_history($1)"#
    } else {
        r#"SELECT a."created_at" AS "at", a."action", a."user_id" AS "actor_id",
                  u."email" AS "actor_email", a."new_value" AS "new"
           FROM "AuditLog" a LEFT JOIN "User" u ON u."id" = a."user_id"
           WHERE a."target_table" = 'GdprRequest' AND a."target_id" = $1
           ORDER BY a."created_at", a."id""#
    };
    let history: Vec<HistoryEntry> = tx.query_as(sql, &params![id]).await?;
    tx.commit().await?;
    Ok(RequestDetail {
        request,
        subject,
        legal_holds,
        owned_organizations,
        history,
    })
}

/// Slugs of live organizations `user` owns.
pub(crate) async fn owned_orgs(tx: &mut Tx, user: Uuid) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Org {
        slug: String,
    }
    let orgs: Vec<Org> = tx
        .query_as(
        r#"SELECT "slug" FROM "Organization" WHERE "owner_id" = $1 AND "deleted_at" IS NULL ORDER BY "slug""#,
        &params![user],
    )
        .await?;
    Ok(orgs.into_iter().map(|o| o.slug).collect())
}
