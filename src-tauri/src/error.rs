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
        Error::Migration(m) if m.contains("was edited after it was applied") => {
            "its owner compares the files with `ncy-admin migrate status`"
        }
        Error::DatabaseUrl(_) => "edit the profile's URL under Settings → Connections",
        Error::Privilege { .. } => "connect as a role that may, under Settings → Connections",
        Error::Service { service, message }
            if service == "Prometheus" && message.starts_with("cannot query") =>
        {
            "set the Prometheus URL on the Health screen"
        }
        Error::Conflict { field, .. } => match field.as_str() {
            "restore_into" => "tick “Replace it if it exists” in the restore dialog",
            "backup_pin" => "the Backups screen marks the pinned ones",
            "backup_folder" => {
                "if it is a genuine backup, move the file into the folder the Backups screen uses"
            }
            _ => return None,
        },
        Error::NotFound { what, .. } if what == "backup" => {
            "the Backups screen lists the recorded ones"
        }
        Error::Io { context, .. }
            if context.starts_with("cannot write to the backup directory") =>
        {
            "the Backups screen writes to the backups folder in the app's data folder: make it \
             writable"
        }
        Error::Database { message, .. } if message.starts_with("pg_restore was refused") => {
            "tick “Skip ownership and privileges” in the restore dialog"
        }
        Error::Database { message, .. } if message.starts_with("pg_dump was refused") => {
            "edit the profile's user under Settings → Connections"
        }
        Error::Invalid { field, message } => match field.as_str() {
            "database" if message.contains("needs a PostgreSQL database") => {
                "open a server profile under Settings → Connections"
            }
            "into" => "fill in the new database name or file in the restore dialog",
            "encrypt" if message.starts_with("no backup key yet") => {
                "make the backup key once with `ncy-admin backup key create`, or untick Encrypt"
            }
            "identity"
                if message.contains("holds no") || message.contains("encrypted to another key") =>
            {
                "import the backup's key into this computer's keychain \
                 (`ncy-admin backup key import FILE`)"
            }
            "table" if message.contains("no recorded table list") => {
                "restore it whole: choose no tables"
            }
            _ => return None,
        },
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
            source: None,
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

    /// Asserts that the window's message for `e` has `want` and names no CLI flag.
    fn shown(e: ncy_core::Error, want: &str) {
        let m = ApiError::from(e).message;
        assert!(m.contains(want), "{m}");
        assert!(!m.contains("--") && !m.contains("DATABASE_URL"), "{m}");
    }

    #[test]
    fn backup_and_connection_fixes_name_the_screen() {
        use ncy_core::Error;
        shown(
            ncy_backup::PgConn::from_url("mysql://h/db").unwrap_err(),
            "Settings → Connections",
        );
        shown(
            Error::conflict(
                "restore_into",
                "database x already exists; it is replaced only when asked to (force)",
            ),
            "Replace it if it exists",
        );
        shown(
            Error::conflict("backup_pin", "backup 1 is not pinned"),
            "Backups screen",
        );
        shown(
            Error::conflict("backup_folder", "/x is outside the backup folder /b"),
            "Backups screen",
        );
        shown(Error::not_found("backup", "/x.dump"), "Backups screen");
        shown(
            Error::invalid("into", "no file to restore into was named"),
            "restore dialog",
        );
        shown(
            Error::invalid(
                "encrypt",
                "no backup key yet: the OS keychain holds no default backup key and no recipient was named",
            ),
            "untick Encrypt",
        );
        shown(
            Error::invalid(
                "identity",
                "the backup is encrypted and this keychain holds no backup key",
            ),
            "keychain",
        );
        shown(
            Error::invalid(
                "table",
                "this backup has no recorded table list, so it can only be restored whole",
            ),
            "choose no tables",
        );
        shown(
            ncy_health::guard::privilege(
                Error::db("permission denied (SQLSTATE 42501)"),
                "cancel other sessions",
                "GRANT pg_signal_backend TO the role",
            ),
            "Settings → Connections",
        );
        shown(
            Error::service(
                "Prometheus",
                "cannot query http://p:9090/: connection refused",
            ),
            "Health screen",
        );
        shown(
            Error::db("pg_restore was refused by the server: must be owner"),
            "Skip ownership and privileges",
        );
        shown(
            Error::io(
                "cannot write to the backup directory /b (permission denied)",
                std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            ),
            "writable",
        );
    }
}
