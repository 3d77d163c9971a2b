//! The request workflow: intake, queue, identity verification, extension, rejection,
//! completion. Due date = received + 1 calendar month (Art. 12(3)); an extension adds one or
//! two more months with a recorded reason. The platform's own values are read as ours:
//! type `DELETE` is an erasure, status `PENDING` is received.

use std::collections::BTreeMap;

use chrono::{Months, NaiveDateTime};
use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db, Row, Tx};
use ncy_core::model::{GdprRequestStatus, GdprRequestType};
use ncy_core::{params, Error, Result};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::subject::{self, Subject};

/// What the subject asked for (the platform's `DELETE` is [`RequestKind::Erasure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestKind {
    Access,
    Export,
    Erasure,
    Rectification,
    Restriction,
}

impl RequestKind {
    /// Reads a stored type.
    pub fn from_type(t: GdprRequestType) -> RequestKind {
        match t {
            GdprRequestType::ACCESS => RequestKind::Access,
            GdprRequestType::EXPORT => RequestKind::Export,
            GdprRequestType::ERASURE | GdprRequestType::DELETE => RequestKind::Erasure,
            GdprRequestType::RECTIFICATION => RequestKind::Rectification,
            GdprRequestType::RESTRICTION => RequestKind::Restriction,
        }
    }

    /// Parses user input (`ACCESS|EXPORT|ERASURE|RECTIFICATION|RESTRICTION`, `DELETE` too).
    pub fn parse(s: &str) -> Result<RequestKind> {
        GdprRequestType::parse(s)
            .map(RequestKind::from_type)
            .map_err(|_| {
                Error::invalid(
                    "type",
                    format!(
                        "{s:?} is not one of ACCESS, EXPORT, ERASURE, RECTIFICATION, RESTRICTION"
                    ),
                )
            })
    }

    /// The value stored for requests the client files.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "ACCESS",
            RequestKind::Export => "EXPORT",
            RequestKind::Erasure => "ERASURE",
            RequestKind::Rectification => "RECTIFICATION",
            RequestKind::Restriction => "RESTRICTION",
        }
    }

    /// Stored types meaning this kind.
    pub fn db_types(self) -> &'static [&'static str] {
        match self {
            RequestKind::Erasure => &["ERASURE", "DELETE"],
            RequestKind::Access => &["ACCESS"],
            RequestKind::Export => &["EXPORT"],
            RequestKind::Rectification => &["RECTIFICATION"],
            RequestKind::Restriction => &["RESTRICTION"],
        }
    }

    /// ACCESS and EXPORT are answered with an export bundle.
    pub fn is_export(self) -> bool {
        matches!(self, RequestKind::Access | RequestKind::Export)
    }
}

/// Where a request stands (the platform's `PENDING` is [`RequestState::Received`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestState {
    Received,
    VerifyingIdentity,
    InProgress,
    Completed,
    Rejected,
}

impl RequestState {
    /// Reads a stored status.
    pub fn from_status(s: GdprRequestStatus) -> RequestState {
        match s {
            GdprRequestStatus::PENDING | GdprRequestStatus::RECEIVED => RequestState::Received,
            GdprRequestStatus::VERIFYING_IDENTITY => RequestState::VerifyingIdentity,
            GdprRequestStatus::IN_PROGRESS => RequestState::InProgress,
            GdprRequestStatus::COMPLETED => RequestState::Completed,
            GdprRequestStatus::REJECTED => RequestState::Rejected,
        }
    }

    /// Parses user input (`PENDING` is accepted as RECEIVED).
    pub fn parse(s: &str) -> Result<RequestState> {
        GdprRequestStatus::parse(s)
            .map(RequestState::from_status)
            .map_err(|_| {
                Error::invalid(
                    "status",
                    format!("{s:?} is not one of RECEIVED, VERIFYING_IDENTITY, IN_PROGRESS, COMPLETED, REJECTED"),
                )
            })
    }

    /// The value the client stores.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Received => "RECEIVED",
            RequestState::VerifyingIdentity => "VERIFYING_IDENTITY",
            RequestState::InProgress => "IN_PROGRESS",
            RequestState::Completed => "COMPLETED",
            RequestState::Rejected => "REJECTED",
        }
    }

    /// Stored statuses meaning this state.
    pub fn db_statuses(self) -> &'static [&'static str] {
        match self {
            RequestState::Received => &["PENDING", "RECEIVED"],
            RequestState::VerifyingIdentity => &["VERIFYING_IDENTITY"],
            RequestState::InProgress => &["IN_PROGRESS"],
            RequestState::Completed => &["COMPLETED"],
            RequestState::Rejected => &["REJECTED"],
        }
    }

    /// Not yet completed or rejected.
    pub fn is_open(self) -> bool {
        !matches!(self, RequestState::Completed | RequestState::Rejected)
    }
}

/// The legal deadline: `received` + 1 calendar month, clamped to the month's last day
/// (received Jan 31 → due Feb 28, or Feb 29 in a leap year).
pub fn due_date(received: NaiveDateTime) -> NaiveDateTime {
    received
        .checked_add_months(Months::new(1))
        .unwrap_or(received)
}

/// Overdue means strictly after the due instant, while the request is open.
pub fn is_overdue(state: RequestState, due: NaiveDateTime, as_of: NaiveDateTime) -> bool {
    state.is_open() && as_of > due
}

/// One request with its derived deadline fields.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Request {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    /// The subject's current email (anonymized after an erasure).
    pub subject_email: Option<String>,
    pub kind: RequestKind,
    pub state: RequestState,
    /// The stored type and status, as the platform sees them.
    pub raw_type: String,
    pub raw_status: String,
    /// Filed by the platform (`DELETE` or `PENDING`) rather than by this client.
    pub filed_by_platform: bool,
    pub received_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub extended_due_at: Option<NaiveDateTime>,
    /// The deadline in force: the extended one when set.
    pub effective_due_at: NaiveDateTime,
    pub overdue: bool,
    /// Whole days until the deadline (negative when overdue).
    pub days_left: i64,
    pub extension_reason: Option<String>,
    pub identity_verified_at: Option<NaiveDateTime>,
    pub identity_verified_by: Option<Uuid>,
    pub identity_method: Option<String>,
    pub handler_id: Option<Uuid>,
    pub handler_email: Option<String>,
    pub completed_at: Option<NaiveDateTime>,
    pub rejection_reason: Option<String>,
    pub notes: Option<String>,
    pub result_path: Option<String>,
    pub receipt: Option<serde_json::Value>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub(crate) const SELECT: &str = r#"SELECT r."id", r."user_id", u."email" AS subject_email, r."type"::text AS type,
    r."status"::text AS status, r."received_at", r."due_at", r."extended_due_at", r."extension_reason",
    r."identity_verified_at", r."identity_verified_by", r."identity_method", r."handler_id",
    h."email" AS handler_email, r."completed_at", r."rejection_reason", r."notes", r."result_path",
    r."receipt", r."created_at", r."updated_at"
  FROM "GdprRequest" r
  LEFT JOIN "User" u ON u."id" = r."user_id"
  LEFT JOIN "User" h ON h."id" = r."handler_id""#;

impl Request {
    fn from_row(r: &Row, as_of: NaiveDateTime) -> Result<Request> {
        let raw_type = r.text("type")?;
        let raw_status = r.text("status")?;
        let kind = RequestKind::from_type(GdprRequestType::parse(&raw_type)?);
        let state = RequestState::from_status(GdprRequestStatus::parse(&raw_status)?);
        let due_at = r.ts("due_at")?;
        let extended_due_at = r.opt_ts("extended_due_at")?;
        let effective = extended_due_at.unwrap_or(due_at);
        Ok(Request {
            id: r.uuid("id")?,
            user_id: r.opt_uuid("user_id")?,
            subject_email: r.opt_text("subject_email")?,
            kind,
            state,
            filed_by_platform: raw_type == "DELETE" || raw_status == "PENDING",
            raw_type,
            raw_status,
            received_at: r.ts("received_at")?,
            due_at,
            extended_due_at,
            effective_due_at: effective,
            overdue: is_overdue(state, effective, as_of),
            days_left: (effective - as_of).num_days(),
            extension_reason: r.opt_text("extension_reason")?,
            identity_verified_at: r.opt_ts("identity_verified_at")?,
            identity_verified_by: r.opt_uuid("identity_verified_by")?,
            identity_method: r.opt_text("identity_method")?,
            handler_id: r.opt_uuid("handler_id")?,
            handler_email: r.opt_text("handler_email")?,
            completed_at: r.opt_ts("completed_at")?,
            rejection_reason: r.opt_text("rejection_reason")?,
            notes: r.opt_text("notes")?,
            result_path: r.opt_text("result_path")?,
            receipt: r.opt_json("receipt")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
}

/// Loads a request inside `tx` (no lock).
pub async fn load(tx: &mut Tx, id: Uuid) -> Result<Request> {
    let row = tx
        .query_opt(&format!(r#"{SELECT} WHERE r."id" = $1"#), &params![id])
        .await?
        .ok_or_else(|| Error::not_found("GDPR request", id))?;
    Request::from_row(&row, now())
}

/// Locks a request row for the rest of `tx`, then loads it.
pub(crate) async fn lock(tx: &mut Tx, id: Uuid) -> Result<Request> {
    tx.query_opt(
        r#"SELECT "id" FROM "GdprRequest" WHERE "id" = $1 FOR UPDATE"#,
        &params![id],
    )
    .await?
    .ok_or_else(|| Error::not_found("GDPR request", id))?;
    load(tx, id).await
}

/// Parses a request id given on the command line.
pub fn parse_id(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s.trim()).map_err(|_| {
        Error::invalid(
            "request id",
            format!("{s:?} is not a request id (UUID); see `ncy-admin gdpr list`"),
        )
    })
}

fn required_text(field: &str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn require_open(r: &Request, step: &str) -> Result<()> {
    if r.state.is_open() {
        Ok(())
    } else {
        Err(Error::conflict(
            "status",
            format!(
                "request {} is already {}; it cannot be {step}",
                r.id,
                r.state.as_str()
            ),
        ))
    }
}

/// Fails unless identity verification is recorded (export and erasure need it).
pub(crate) fn require_verified(r: &Request) -> Result<()> {
    if r.identity_verified_at.is_none() {
        return Err(Error::conflict(
            "identity",
            format!(
                "the subject's identity is not verified for request {}; record it first: ncy-admin gdpr verify-identity {} --method TEXT",
                r.id, r.id
            ),
        ));
    }
    Ok(())
}

async fn audit_step(
    tx: &mut Tx,
    op: &Operator,
    action: &str,
    id: Uuid,
    old: serde_json::Value,
    new: serde_json::Value,
) -> Result<()> {
    audit::record(
        tx,
        op,
        Entry {
            action,
            table: "GdprRequest",
            target_id: Some(id),
            old: Some(old),
            new: Some(new),
        },
    )
    .await?;
    Ok(())
}

/// Intake input.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// User id or email.
    pub user: String,
    pub kind: RequestKind,
    pub notes: Option<String>,
}

/// Files a request (status RECEIVED, due in one month). Refuses a second open request of the
/// same kind for the same subject.
pub async fn create(db: &Db, op: &Operator, new: NewRequest) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let notes = match new.notes.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(required_text("note", n, 10_000)?),
    };
    let mut tx = db.begin().await?;
    let subject = subject::resolve(&mut tx, &new.user).await?;
    let types = new.kind.db_types();
    let dup = tx
        .query_opt(
            r#"SELECT "id" FROM "GdprRequest" WHERE "user_id" = $1 AND "type"::text IN ($2, $3)
               AND "status"::text NOT IN ('COMPLETED', 'REJECTED')"#,
            &params![subject.id, types[0], *types.last().unwrap_or(&types[0])],
        )
        .await?;
    if let Some(d) = dup {
        return Err(Error::conflict(
            "type",
            format!(
                "an open {} request for this user already exists: {}; work that one (ncy-admin gdpr show {})",
                new.kind.as_str(),
                d.uuid("id")?,
                d.uuid("id")?
            ),
        ));
    }
    let id = Uuid::new_v4();
    let t = now();
    let due = due_date(t);
    tx.execute(
        r#"INSERT INTO "GdprRequest" ("id", "user_id", "type", "status", "received_at", "due_at", "handler_id", "notes", "created_at", "updated_at")
           VALUES ($1, $2, $3::"GdprRequestType", 'RECEIVED', $4, $5, $6, $7, $4, $4)"#,
        &params![id, subject.id, new.kind.as_str(), t, due, op.user_id, notes.clone()],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "GDPR_REQUEST_CREATE",
            table: "GdprRequest",
            target_id: Some(id),
            old: None,
            new: Some(json!({
                "user_id": subject.id, "type": new.kind.as_str(), "status": "RECEIVED",
                "due_at": ncy_core::db::format_ts(&due), "handler_id": op.user_id,
                "has_notes": notes.is_some(),
            })),
        },
    )
    .await?;
    let r = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(r)
}

/// Marks identity verification as started (RECEIVED → VERIFYING_IDENTITY).
pub async fn begin_verification(db: &Db, op: &Operator, id: Uuid) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    if r.state != RequestState::Received {
        return Err(Error::conflict(
            "status",
            format!(
                "request {id} is {}; verification starts from RECEIVED",
                r.state.as_str()
            ),
        ));
    }
    tx.execute(
        r#"UPDATE "GdprRequest" SET "status" = 'VERIFYING_IDENTITY', "handler_id" = $2, "updated_at" = $3 WHERE "id" = $1"#,
        &params![id, op.user_id, now()],
    )
    .await?;
    audit_step(
        &mut tx,
        op,
        "GDPR_VERIFICATION_STARTED",
        id,
        json!({"status": r.raw_status, "handler_id": r.handler_id}),
        json!({"status": "VERIFYING_IDENTITY", "handler_id": op.user_id}),
    )
    .await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Records who verified the subject's identity and how; the request moves to IN_PROGRESS.
pub async fn verify_identity(db: &Db, op: &Operator, id: Uuid, method: &str) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let method = required_text("method", method, 500)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    require_open(&r, "verified")?;
    if let Some(at) = r.identity_verified_at {
        return Err(Error::conflict(
            "identity",
            format!("identity for request {id} was already verified at {at} UTC"),
        ));
    }
    let t = now();
    tx.execute(
        r#"UPDATE "GdprRequest" SET "identity_verified_at" = $2, "identity_verified_by" = $3, "identity_method" = $4,
               "status" = 'IN_PROGRESS', "handler_id" = $3, "updated_at" = $2 WHERE "id" = $1"#,
        &params![id, t, op.user_id, method.clone()],
    )
    .await?;
    audit_step(&mut tx, op, "GDPR_IDENTITY_VERIFIED", id,
        json!({"status": r.raw_status, "handler_id": r.handler_id}),
        json!({"status": "IN_PROGRESS", "identity_verified_by": op.user_id, "identity_method": method, "handler_id": op.user_id})).await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Extends the deadline by 1 or 2 months beyond the original due date (Art. 12(3)), with a
/// recorded reason.
pub async fn extend(
    db: &Db,
    op: &Operator,
    id: Uuid,
    months: u32,
    reason: &str,
) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    if !(1..=2).contains(&months) {
        return Err(Error::invalid(
            "months",
            format!("{months} is not allowed; the deadline may be extended by 1 or 2 months (Art. 12(3))"),
        ));
    }
    let reason = required_text("reason", reason, 2000)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    require_open(&r, "extended")?;
    let new_due = r
        .due_at
        .checked_add_months(Months::new(months))
        .ok_or_else(|| Error::invalid("months", "the extended date is out of range"))?;
    if let Some(cur) = r.extended_due_at {
        if new_due <= cur {
            return Err(Error::conflict(
                "months",
                format!("request {id} is already extended to {cur} UTC; an extension can only move the deadline later (at most 2 months past {} UTC)", r.due_at),
            ));
        }
    }
    tx.execute(
        r#"UPDATE "GdprRequest" SET "extended_due_at" = $2, "extension_reason" = $3, "handler_id" = $4, "updated_at" = $5 WHERE "id" = $1"#,
        &params![id, new_due, reason.clone(), op.user_id, now()],
    )
    .await?;
    audit_step(&mut tx, op, "GDPR_EXTEND", id,
        json!({"extended_due_at": r.extended_due_at.map(|t| ncy_core::db::format_ts(&t)), "extension_reason": r.extension_reason}),
        json!({"extended_due_at": ncy_core::db::format_ts(&new_due), "extension_reason": reason, "months": months})).await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Rejects a request with a reason; no personal data is touched.
pub async fn reject(db: &Db, op: &Operator, id: Uuid, reason: &str) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let reason = required_text("reason", reason, 2000)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    require_open(&r, "rejected")?;
    tx.execute(
        r#"UPDATE "GdprRequest" SET "status" = 'REJECTED', "rejection_reason" = $2, "handler_id" = $3, "updated_at" = $4 WHERE "id" = $1"#,
        &params![id, reason.clone(), op.user_id, now()],
    )
    .await?;
    audit_step(
        &mut tx,
        op,
        "GDPR_REJECT",
        id,
        json!({"status": r.raw_status}),
        json!({"status": "REJECTED", "rejection_reason": reason, "handler_id": op.user_id}),
    )
    .await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Closes a request. Export kinds need their bundle, erasures a receipt with a clean sweep;
/// every kind needs the identity verified.
pub async fn complete(db: &Db, op: &Operator, id: Uuid) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    require_open(&r, "completed")?;
    require_verified(&r)?;
    if r.kind.is_export() && r.result_path.is_none() {
        return Err(Error::conflict(
            "export",
            format!("request {id} has no export yet; run: ncy-admin gdpr export {id} --out PATH"),
        ));
    }
    if r.kind == RequestKind::Erasure {
        let clean = r
            .receipt
            .as_ref()
            .and_then(|v| v.pointer("/sweep/clean"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if !clean {
            return Err(Error::conflict(
                "erasure",
                format!("request {id} has no erasure receipt with a clean sweep; run: ncy-admin gdpr erase {id} --confirm EMAIL"),
            ));
        }
    }
    let t = now();
    tx.execute(
        r#"UPDATE "GdprRequest" SET "status" = 'COMPLETED', "completed_at" = $2, "handler_id" = $3, "updated_at" = $2 WHERE "id" = $1"#,
        &params![id, t, op.user_id],
    )
    .await?;
    audit_step(
        &mut tx,
        op,
        "GDPR_COMPLETE",
        id,
        json!({"status": r.raw_status}),
        json!({"status": "COMPLETED", "handler_id": op.user_id}),
    )
    .await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

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

async fn dashboard_in(tx: &mut Tx, as_of: NaiveDateTime) -> Result<Dashboard> {
    let rows = tx
        .query(
            r#"SELECT "status"::text AS status, "type"::text AS type,
                      COALESCE("extended_due_at", "due_at") AS due, count(*) AS n
               FROM "GdprRequest" GROUP BY "status", "type", COALESCE("extended_due_at", "due_at")"#,
            &[],
        )
        .await?;
    let mut d = Dashboard::default();
    let week = as_of + chrono::Duration::days(7);
    for r in rows {
        let state = RequestState::from_status(GdprRequestStatus::parse(&r.text("status")?)?);
        let kind = RequestKind::from_type(GdprRequestType::parse(&r.text("type")?)?);
        let n = r.int("n")? as u64;
        let due = r.ts("due")?;
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
#[derive(Debug, Clone, Serialize)]
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
    let history = tx
        .query(
            r#"SELECT a."created_at", a."action", a."user_id", u."email", a."new_value"
               FROM "AuditLog" a LEFT JOIN "User" u ON u."id" = a."user_id"
               WHERE a."target_table" = 'GdprRequest' AND a."target_id" = $1
               ORDER BY a."created_at", a."id""#,
            &params![id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(HistoryEntry {
                at: r.ts("created_at")?,
                action: r.text("action")?,
                actor_id: r.opt_uuid("user_id")?,
                actor_email: r.opt_text("email")?,
                new: r.opt_json("new_value")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
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
    tx.query(
        r#"SELECT "slug" FROM "Organization" WHERE "owner_id" = $1 AND "deleted_at" IS NULL ORDER BY "slug""#,
        &params![user],
    )
    .await?
    .iter()
    .map(|r| r.text("slug"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    #[test]
    fn due_date_clamps_to_month_end() {
        assert_eq!(due_date(at(2025, 1, 31, 10)), at(2025, 2, 28, 10));
        assert_eq!(due_date(at(2024, 1, 31, 10)), at(2024, 2, 29, 10));
        assert_eq!(due_date(at(2025, 3, 15, 9)), at(2025, 4, 15, 9));
        assert_eq!(due_date(at(2025, 12, 31, 0)), at(2026, 1, 31, 0));
    }

    #[test]
    fn overdue_only_strictly_after_due_and_while_open() {
        let due = at(2025, 2, 28, 10);
        assert!(!is_overdue(RequestState::Received, due, due));
        assert!(is_overdue(
            RequestState::Received,
            due,
            due + chrono::Duration::milliseconds(1)
        ));
        assert!(!is_overdue(RequestState::Completed, due, at(2026, 1, 1, 0)));
    }

    #[test]
    fn platform_values_map_to_ours() {
        assert_eq!(RequestKind::parse("DELETE").unwrap(), RequestKind::Erasure);
        assert_eq!(
            RequestState::parse("pending").unwrap(),
            RequestState::Received
        );
        assert!(RequestKind::parse("NOPE").is_err());
    }
}
