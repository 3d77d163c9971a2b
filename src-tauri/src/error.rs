//! Errors crossing to the UI: a stable `code` to switch on and a `message` a person can read.

use serde::Serialize;

/// The one error type every command returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApiError {
    pub code: String,
    pub message: String,
    /// For `locked_out`: minutes until the account can log in again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub retry_after_minutes: Option<i64>,
}

/// The codes the desktop adds to the core's [`ncy_core::ErrorCode`]; the UI sees the two as
/// TypeScript unions (`errorTitle` in ui/src/lib/errors.ts covers both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum DesktopErrorCode {
    /// No workspace is open yet.
    NoWorkspace,
    /// The offline cache refuses a change it could never push.
    Offline,
    /// A server-only screen on the local workspace.
    NotPostgres,
}

impl DesktopErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [DesktopErrorCode; 3] = [
        DesktopErrorCode::NoWorkspace,
        DesktopErrorCode::Offline,
        DesktopErrorCode::NotPostgres,
    ];

    /// The string the UI switches on.
    pub fn as_str(self) -> &'static str {
        match self {
            DesktopErrorCode::NoWorkspace => "no_workspace",
            DesktopErrorCode::Offline => "offline",
            DesktopErrorCode::NotPostgres => "not_postgres",
        }
    }
}

impl ApiError {
    /// An error with a code of our own (not from the core).
    pub fn new(code: DesktopErrorCode, message: impl Into<String>) -> Self {
        ApiError::with_code(code.as_str(), message)
    }

    /// An error with one of the core's codes, raised by the desktop itself.
    pub fn core(code: ncy_core::ErrorCode, message: impl Into<String>) -> Self {
        ApiError::with_code(code.as_str(), message)
    }

    fn with_code(code: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.into(),
            message: message.into(),
            retry_after_minutes: None,
        }
    }

    /// No operator is logged in on the current workspace.
    pub fn not_logged_in() -> Self {
        ApiError::core(
            ncy_core::ErrorCode::Unauthenticated,
            "not logged in: log in first",
        )
    }
}

impl From<ncy_core::Error> for ApiError {
    fn from(e: ncy_core::Error) -> Self {
        let retry_after_minutes = match &e {
            ncy_core::Error::LockedOut { minutes, .. } => Some(*minutes),
            _ => None,
        };
        let message = match window_hint(&e) {
            Some(h) => format!("{e} ({h})"),
            None => e.to_string(),
        };
        ApiError {
            code: e.code().into(),
            message,
            retry_after_minutes,
        }
    }
}

/// The window's way to fix what the core reports (the core names no screen, flag or command).
fn window_hint(e: &ncy_core::Error) -> Option<&'static str> {
    use ncy_core::Error;
    Some(match e {
        Error::Unauthenticated(_) => "sign in again",
        Error::ApprovalFiled { .. } => "it waits on the Approvals screen",
        Error::ServerUnreachable { .. } => {
            "edit the profile under Settings → Connections, or use the local workspace"
        }
        Error::DatabaseAuth { .. } => {
            "edit the profile's user and password under Settings → Connections"
        }
        Error::Migration(m) if m.contains("migrations") && m.contains("pending") => {
            "its owner runs `ncy-admin migrate up`"
        }
        _ => return None,
    })
}

/// Command result.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_code_and_readable_message() {
        let e: ApiError = ncy_core::Error::invalid("email", "must contain @").into();
        assert_eq!(e.code, "invalid");
        assert_eq!(e.message, "invalid email: must contain @");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "invalid", "message": "invalid email: must contain @"})
        );
        let e: ApiError = ncy_core::Error::Forbidden {
            permission: "users.write".into(),
        }
        .into();
        assert_eq!(e.code, "forbidden");
        assert!(e.message.contains("users.write"), "{}", e.message);
        let e: ApiError = ncy_core::Error::LockedOut {
            until: ncy_core::db::now(),
            minutes: 14,
        }
        .into();
        assert_eq!(e.code, "locked_out");
        assert_eq!(serde_json::to_value(&e).unwrap()["retry_after_minutes"], 14);
    }

    #[test]
    fn desktop_codes_serialize_as_their_strings_and_differ_from_the_core_ones() {
        for c in DesktopErrorCode::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str(), "{c:?}");
            assert!(
                !ncy_core::ErrorCode::ALL
                    .iter()
                    .any(|k| k.as_str() == c.as_str()),
                "{} is a core code too",
                c.as_str()
            );
            assert_eq!(ApiError::new(c, "m").code, c.as_str());
        }
    }
}

#[cfg(test)]
mod hint_tests {
    use super::ApiError;

    #[test]
    fn the_window_says_where_to_fix_it_and_names_no_cli_flag() {
        let e: ApiError = ncy_core::Error::ServerUnreachable {
            target: "db.example.com:5432".into(),
            reason: "connection refused".into(),
        }
        .into();
        assert!(
            e.message.contains("Settings → Connections"),
            "{}",
            e.message
        );
        assert!(
            !e.message.contains("DATABASE_URL") && !e.message.contains("--"),
            "{}",
            e.message
        );
        let e: ApiError = ncy_core::Error::ApprovalFiled {
            id: uuid::Uuid::nil(),
            action: "users.delete".into(),
            permission: "users.write".into(),
        }
        .into();
        assert!(e.message.contains("Approvals screen") && !e.message.contains("ncy-admin"));
    }
}
