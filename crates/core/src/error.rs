//! The core's one error type: each variant says what went wrong in the user's terms and how to
//! fix it. Adapters (CLI, desktop) map it once to exit codes or `{code, message}` pairs.

use chrono::NaiveDateTime;

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a core operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: names the field and what is accepted.
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },

    /// A row the caller named does not exist (or is deleted).
    #[error("{what} not found: {id}")]
    NotFound { what: String, id: String },

    /// A uniqueness or state conflict (duplicate email, slug taken, ...).
    #[error("{message}")]
    Conflict { field: String, message: String },

    /// The operator lacks a permission (`users.write`), or what it names in words (`the OWNER
    /// or ADMIN role in this organization`, a database privilege).
    #[error("forbidden: {}", forbidden_text(.permission))]
    Forbidden { permission: String },

    /// No operator is logged in, or the session expired or was revoked.
    #[error("not logged in: {0}; log in first")]
    Unauthenticated(String),

    /// A destructive action needs the operator's password again.
    #[error("this action needs your password again: your last sign-in was more than {minutes} minutes ago")]
    StepUpRequired { minutes: i64 },

    /// The action needs a second operator's approval (setting `approvals.required`): it was
    /// filed as an approval request and has not run.
    #[error("{action} needs a second operator's approval: filed as approval request {id}. Another operator holding `{permission}` must approve it; it runs then")]
    ApprovalFiled {
        id: uuid::Uuid,
        action: String,
        permission: String,
    },

    /// Wrong email or password.
    #[error("login failed: wrong email or password")]
    BadCredentials,

    /// Too many failed logins.
    #[error("account locked after too many failed logins; try again in {minutes} minute(s) (at {until} UTC)")]
    LockedOut { until: NaiveDateTime, minutes: i64 },

    /// The account exists but may not log in.
    #[error("login refused: the account is {0}; an administrator must reactivate it")]
    AccountDisabled(String),

    /// The PostgreSQL server cannot be reached.
    #[error("cannot reach the PostgreSQL server at {target}: {reason}. Check that the server is running and that its host and port are right")]
    ServerUnreachable {
        target: String,
        reason: String,
        /// The driver's or the system's error, when one caused it.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A write reached a read-only server (a hot standby): nothing was written.
    #[error("this server is a read-only standby; connect to the primary to make changes ({0})")]
    ReadOnly(String),

    /// The server refused the database credentials.
    #[error("the PostgreSQL server at {target} refused the login: {reason}. Check the user name and password")]
    DatabaseAuth {
        target: String,
        reason: String,
        /// The server's refusal as the driver reported it.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// Misconfiguration: missing data directory, unusable setting, ...
    #[error("configuration error: {0}")]
    Config(String),

    /// The connected database role lacks a privilege the operation needs (code `config`):
    /// what it may not do, the server's words, and how to grant it; the server's refusal is
    /// kept as the source.
    #[error("configuration error: the connected database role may not {what} ({reason}); {fix}")]
    Privilege {
        what: String,
        reason: String,
        fix: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The PostgreSQL connection URL is malformed or names a database that does not exist
    /// (code `config`; each adapter says where its URL comes from).
    #[error("database URL: {0}")]
    DatabaseUrl(String),

    /// A migration problem (failed statement, unknown version, partial baseline, ...).
    #[error("migration error: {0}")]
    Migration(String),

    /// An applied migration file changed since it was applied.
    #[error("migration {version} ({name}) was edited after it was applied (checksum {recorded} recorded, {current} now). Restore the original file, or write a new migration for the change")]
    Drift {
        version: i64,
        name: String,
        recorded: String,
        current: String,
    },

    /// The disk is full; nothing was written.
    #[error("the disk is full ({0}); nothing was written. Free some space and retry")]
    DiskFull(String),

    /// The local workspace file cannot be opened (wrong key, not a database, ...).
    #[error("cannot open the local workspace {path}: {reason}")]
    LocalStore {
        path: String,
        reason: String,
        /// SQLite's error, when one caused it.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The OS keychain is unavailable or refused.
    #[error("keychain: {0}")]
    Keychain(String),

    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// The operation was cancelled by the user.
    #[error("cancelled")]
    Cancelled,

    /// An outside service the operation reads from (Prometheus, ...) failed or is unreachable.
    #[error("{service}: {message}")]
    Service { service: String, message: String },

    /// A check proved something wrong, e.g. a backup that does not restore as it should.
    #[error("{0}")]
    VerificationFailed(String),

    /// An unexpected database error (a bug or an unusual server state).
    #[error("database error: {message}")]
    Database {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(what: impl Into<String>, id: impl ToString) -> Self {
        Error::NotFound {
            what: what.into(),
            id: id.to_string(),
        }
    }

    /// Shorthand for [`Error::Conflict`].
    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Service`].
    pub fn service(service: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Service {
            service: service.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an unexpected database error without a source.
    pub fn db(message: impl Into<String>) -> Self {
        Error::Database {
            message: message.into(),
            source: None,
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        if source.raw_os_error() == Some(28) {
            return Error::DiskFull(context.into());
        }
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A stable machine-readable code for adapters (UI switches on it, CLI maps exit codes).
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// [`Error::code`] as a value: the closed set the UI's TypeScript sees as the `ErrorCode`
    /// union.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Error::Invalid { .. } => ErrorCode::Invalid,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::Conflict { .. } => ErrorCode::Conflict,
            Error::Forbidden { .. } => ErrorCode::Forbidden,
            Error::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Error::StepUpRequired { .. } => ErrorCode::StepUp,
            Error::ApprovalFiled { .. } => ErrorCode::ApprovalFiled,
            Error::BadCredentials => ErrorCode::BadCredentials,
            Error::LockedOut { .. } => ErrorCode::LockedOut,
            Error::AccountDisabled(_) => ErrorCode::AccountDisabled,
            Error::ServerUnreachable { .. } => ErrorCode::ServerUnreachable,
            Error::ReadOnly(_) => ErrorCode::ReadOnly,
            Error::DatabaseAuth { .. } => ErrorCode::DatabaseAuth,
            Error::Config(_) | Error::DatabaseUrl(_) | Error::Privilege { .. } => ErrorCode::Config,
            Error::Migration(_) => ErrorCode::Migration,
            Error::Drift { .. } => ErrorCode::MigrationDrift,
            Error::DiskFull(_) => ErrorCode::DiskFull,
            Error::LocalStore { .. } => ErrorCode::LocalStore,
            Error::Keychain(_) => ErrorCode::Keychain,
            Error::Io { .. } => ErrorCode::Io,
            Error::Cancelled => ErrorCode::Cancelled,
            Error::Service { .. } => ErrorCode::Service,
            Error::VerificationFailed(_) => ErrorCode::VerificationFailed,
            Error::Database { .. } => ErrorCode::Database,
        }
    }
}

/// The codes of [`Error::code`], one per variant. Serialized (and exported to TypeScript) as
/// the snake_case strings `code()` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Invalid,
    NotFound,
    Conflict,
    Forbidden,
    Unauthenticated,
    StepUp,
    ApprovalFiled,
    BadCredentials,
    LockedOut,
    AccountDisabled,
    ServerUnreachable,
    ReadOnly,
    DatabaseAuth,
    Config,
    Migration,
    MigrationDrift,
    DiskFull,
    LocalStore,
    Keychain,
    Io,
    Cancelled,
    Service,
    VerificationFailed,
    Database,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 24] = [
        ErrorCode::Invalid,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::Forbidden,
        ErrorCode::Unauthenticated,
        ErrorCode::StepUp,
        ErrorCode::ApprovalFiled,
        ErrorCode::BadCredentials,
        ErrorCode::LockedOut,
        ErrorCode::AccountDisabled,
        ErrorCode::ServerUnreachable,
        ErrorCode::ReadOnly,
        ErrorCode::DatabaseAuth,
        ErrorCode::Config,
        ErrorCode::Migration,
        ErrorCode::MigrationDrift,
        ErrorCode::DiskFull,
        ErrorCode::LocalStore,
        ErrorCode::Keychain,
        ErrorCode::Io,
        ErrorCode::Cancelled,
        ErrorCode::Service,
        ErrorCode::VerificationFailed,
        ErrorCode::Database,
    ];

    /// The string adapters and tests match on (`"not_found"`, `"step_up"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::StepUp => "step_up",
            ErrorCode::ApprovalFiled => "approval_filed",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::LockedOut => "locked_out",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::ServerUnreachable => "server_unreachable",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::DatabaseAuth => "database_auth",
            ErrorCode::Config => "config",
            ErrorCode::Migration => "migration",
            ErrorCode::MigrationDrift => "migration_drift",
            ErrorCode::DiskFull => "disk_full",
            ErrorCode::LocalStore => "local_store",
            ErrorCode::Keychain => "keychain",
            ErrorCode::Io => "io",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Service => "service",
            ErrorCode::VerificationFailed => "verification_failed",
            ErrorCode::Database => "database",
        }
    }
}

/// The refusal's text: a permission by name, or what is needed in words.
fn forbidden_text(permission: &str) -> String {
    if permission.contains(' ') {
        format!("this needs {permission}, which you do not hold; ask an administrator")
    } else {
        format!(
            "this needs the permission `{permission}`, which your roles do not grant; ask an administrator to grant a role that has it"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_serialize_as_the_strings_code_returns() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str(), "{c:?}");
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
        }
        assert_eq!(Error::Cancelled.code(), "cancelled");
        assert_eq!(
            Error::Drift {
                version: 1,
                name: "x".into(),
                recorded: "a".into(),
                current: "b".into()
            }
            .code(),
            "migration_drift"
        );
        assert_eq!(Error::invalid("f", "m").code(), "invalid");
    }

    #[test]
    fn a_refusal_names_a_permission_or_says_what_is_needed() {
        let by_name = Error::Forbidden {
            permission: "orgs.write".into(),
        };
        assert_eq!(
            by_name.to_string(),
            "forbidden: this needs the permission `orgs.write`, which your roles do not grant; ask an administrator to grant a role that has it"
        );
        let in_words = Error::Forbidden {
            permission: "the OWNER or ADMIN role in this organization".into(),
        };
        assert_eq!(
            in_words.to_string(),
            "forbidden: this needs the OWNER or ADMIN role in this organization, which you do not hold; ask an administrator"
        );
    }
}
