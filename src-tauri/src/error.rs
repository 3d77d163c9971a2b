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

impl ApiError {
    /// An error with a code of our own (not from the core).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.into(),
            message: message.into(),
            retry_after_minutes: None,
        }
    }

    /// No operator is logged in on the current workspace.
    pub fn not_logged_in() -> Self {
        ApiError::new("unauthenticated", "not logged in: log in first")
    }
}

impl From<ncy_core::Error> for ApiError {
    fn from(e: ncy_core::Error) -> Self {
        let retry_after_minutes = match &e {
            ncy_core::Error::LockedOut { minutes, .. } => Some(*minutes),
            _ => None,
        };
        ApiError {
            code: e.code().into(),
            message: e.to_string(),
            retry_after_minutes,
        }
    }
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
}
