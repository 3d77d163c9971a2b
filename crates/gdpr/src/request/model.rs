//! The request model: kinds and states (with the platform's values read as ours), the legal
//! deadline, the [`Request`] row and loading it.

use chrono::{Months, NaiveDateTime};
use ncy_core::db::{now, Row, Tx};
use ncy_core::model::{GdprRequestStatus, GdprRequestType};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// A row of [`SELECT`], as stored.
#[derive(Deserialize)]
struct RequestRow {
    id: Uuid,
    user_id: Option<Uuid>,
    subject_email: Option<String>,
    #[serde(rename = "type")]
    raw_type: String,
    #[serde(rename = "status")]
    raw_status: String,
    received_at: NaiveDateTime,
    due_at: NaiveDateTime,
    extended_due_at: Option<NaiveDateTime>,
    extension_reason: Option<String>,
    identity_verified_at: Option<NaiveDateTime>,
    identity_verified_by: Option<Uuid>,
    identity_method: Option<String>,
    handler_id: Option<Uuid>,
    handler_email: Option<String>,
    completed_at: Option<NaiveDateTime>,
    rejection_reason: Option<String>,
    notes: Option<String>,
    result_path: Option<String>,
    receipt: Option<serde_json::Value>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Request {
    pub(super) fn from_row(r: &Row, as_of: NaiveDateTime) -> Result<Request> {
        let r: RequestRow = r.decode()?;
        let kind = RequestKind::from_type(GdprRequestType::parse(&r.raw_type)?);
        let state = RequestState::from_status(GdprRequestStatus::parse(&r.raw_status)?);
        let effective = r.extended_due_at.unwrap_or(r.due_at);
        Ok(Request {
            id: r.id,
            user_id: r.user_id,
            subject_email: r.subject_email,
            kind,
            state,
            filed_by_platform: r.raw_type == "DELETE" || r.raw_status == "PENDING",
            raw_type: r.raw_type,
            raw_status: r.raw_status,
            received_at: r.received_at,
            due_at: r.due_at,
            extended_due_at: r.extended_due_at,
            effective_due_at: effective,
            overdue: is_overdue(state, effective, as_of),
            days_left: (effective - as_of).num_days(),
            extension_reason: r.extension_reason,
            identity_verified_at: r.identity_verified_at,
            identity_verified_by: r.identity_verified_by,
            identity_method: r.identity_method,
            handler_id: r.handler_id,
            handler_email: r.handler_email,
            completed_at: r.completed_at,
            rejection_reason: r.rejection_reason,
            notes: r.notes,
            result_path: r.result_path,
            receipt: r.receipt,
            created_at: r.created_at,
            updated_at: r.updated_at,
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
    Uuid::parse_str(s.trim())
        .map_err(|_| Error::invalid("request id", format!("{s:?} is not a request id (UUID)")))
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
