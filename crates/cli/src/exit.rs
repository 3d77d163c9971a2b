//! Exit codes and the one-line error report (documented in the README).

use ncy_core::Error;

/// Unexpected failure.
pub const GENERAL: i32 = 1;
/// Bad arguments or invalid input.
pub const USAGE: i32 = 2;
/// A named row does not exist.
pub const NOT_FOUND: i32 = 3;
/// Duplicate or conflicting state.
pub const CONFLICT: i32 = 4;
/// The operator lacks a permission.
pub const FORBIDDEN: i32 = 5;
/// Not logged in, wrong password, locked out, disabled account.
pub const AUTH: i32 = 6;
/// The database (or an outside service such as Prometheus) cannot be reached or refuses the
/// connection; a write to a read-only standby; configuration errors.
pub const CONNECTION: i32 = 7;
/// Migration problems (pending, drift, failed statement).
pub const MIGRATION: i32 = 8;
/// Disk full or another file-system error.
pub const IO: i32 = 9;
/// A check failed (a backup that does not verify).
pub const VERIFICATION: i32 = 10;
/// Filed for a second operator's approval: the action has not run yet.
pub const APPROVAL: i32 = 11;
/// Cancelled by the user.
pub const CANCELLED: i32 = 130;

/// The exit code for an error.
pub fn code(e: &anyhow::Error) -> i32 {
    let Some(e) = e.downcast_ref::<Error>() else {
        return GENERAL;
    };
    match e {
        Error::Invalid { .. } => USAGE,
        Error::NotFound { .. } => NOT_FOUND,
        Error::Conflict { .. } => CONFLICT,
        Error::Forbidden { .. } => FORBIDDEN,
        Error::Unauthenticated(_)
        | Error::StepUpRequired { .. }
        | Error::BadCredentials
        | Error::LockedOut { .. }
        | Error::AccountDisabled(_)
        | Error::Keychain(_) => AUTH,
        Error::ServerUnreachable { .. }
        | Error::ReadOnly(_)
        | Error::DatabaseAuth { .. }
        | Error::Config(_)
        | Error::LocalStore { .. }
        | Error::Service { .. } => CONNECTION,
        Error::Migration(_) | Error::Drift { .. } => MIGRATION,
        Error::DiskFull(_) | Error::Io { .. } => IO,
        Error::Cancelled => CANCELLED,
        Error::VerificationFailed(_) => VERIFICATION,
        Error::ApprovalFiled { .. } => APPROVAL,
        Error::Database { .. } => GENERAL,
    }
}

/// Prints one line on stderr (or a JSON object with `--json`).
pub fn report(e: &anyhow::Error, json: bool) {
    let (code, message) = match e.downcast_ref::<Error>() {
        Some(ce) => (
            ce.code(),
            match hint(ce) {
                Some(h) => format!("{ce} ({h})"),
                None => ce.to_string(),
            },
        ),
        None => ("error", format!("{e:#}")),
    };
    let message = message.replace('\n', " ");
    if json {
        eprintln!(
            "{}",
            serde_json::json!({ "error": { "code": code, "message": message } })
        );
    } else {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            eprintln!("\x1b[1;31merror:\x1b[0m {message}");
        } else {
            eprintln!("error: {message}");
        }
    }
}

/// A flag set by the first Ctrl-C: long work stops at its next safe point (a batch, a
/// committed step; nothing half-written stays). A second Ctrl-C exits at once.
pub fn cancel_on_ctrl_c() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            f.store(true, Ordering::Relaxed);
            eprintln!("cancelling… (press Ctrl-C again to quit at once)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(CANCELLED);
            }
        }
    });
    flag
}

/// The command-line way to fix what the core reports (the core names no flag or command: the
/// window says the same things its own way).
fn hint(e: &Error) -> Option<String> {
    Some(match e {
        Error::Unauthenticated(_) => "run `ncy-admin login --email <you>`".into(),
        Error::ApprovalFiled { id, .. } => format!("`ncy-admin approvals approve {id}`"),
        Error::ServerUnreachable { .. } => {
            "the server comes from --database-url or DATABASE_URL; without one, work on the \
             local workspace (--local) or a synced cache (--offline)"
                .into()
        }
        Error::DatabaseAuth { .. } => {
            "the user and password come from --database-url or DATABASE_URL".into()
        }
        Error::Migration(m) if m.contains("migrations") && m.contains("pending") => {
            "`ncy-admin migrate up` with the owner's URL".into()
        }
        Error::Conflict { field, .. } => match field.as_str() {
            "identity" => "`ncy-admin gdpr verify-identity <request> --method TEXT`".into(),
            "export" => "`ncy-admin gdpr export <request> --out PATH`".into(),
            "erasure" => "`ncy-admin gdpr erase <request> --confirm EMAIL`".into(),
            _ => return None,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_names_no_flag_and_the_cli_adds_its_own() {
        let e = Error::ServerUnreachable {
            target: "db.example.com:5432".into(),
            reason: "connection refused".into(),
        };
        assert!(!e.to_string().contains("DATABASE_URL"), "{e}");
        assert!(hint(&e).is_some_and(|h| h.contains("DATABASE_URL") && h.contains("--local")));
        let e = Error::Unauthenticated("no session".into());
        assert!(!e.to_string().contains("ncy-admin"), "{e}");
        assert!(hint(&e).is_some_and(|h| h.contains("ncy-admin login")));
        assert!(hint(&Error::BadCredentials).is_none());
    }
}
