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
/// A check failed (a backup that does not verify, a broken audit chain, a sweep finding a trace).
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
        | Error::Privilege { .. }
        | Error::DatabaseUrl(_)
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

/// Behaves like other command-line tools in a pipeline (`ncy-admin users list | head`): when
/// standard output is closed, the process ends quietly with the status a shell gives a process
/// ended by SIGPIPE (141), instead of a panic message.
///
/// SIGPIPE itself stays ignored (Rust's default): with its default action, a child that stops
/// reading early (`pg_restore --list` reads only the table of contents of an encrypted backup
/// fed through its standard input) would kill this process mid-write instead of the write
/// failing with a broken pipe, which the feeder expects.
pub fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
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
        Error::Migration(m) if m.contains("was edited after it was applied") => {
            "`ncy-admin migrate status` lists the edited ones".into()
        }
        Error::DatabaseUrl(_) => "the URL comes from --database-url or DATABASE_URL".into(),
        Error::Conflict { field, .. } => match field.as_str() {
            "identity" => "`ncy-admin gdpr verify-identity <request> --method TEXT`".into(),
            "export" => "`ncy-admin gdpr export <request> --out PATH`".into(),
            "erasure" => "`ncy-admin gdpr erase <request> --confirm EMAIL`".into(),
            "restore_into" => "pass --force to replace it".into(),
            "seed" => "pass --force, only on a development or test database".into(),
            "backup_pin" => "`ncy-admin backup list` shows the pinned ones".into(),
            "backup_folder" => {
                "if it is a genuine backup, move the file into the folder, or name its folder \
                 with --dir (NCY_BACKUP_DIR)"
                    .into()
            }
            _ => return None,
        },
        Error::Invalid { field, message } => return invalid_hint(field, message),
        Error::NotFound { what, .. } if what == "backup" => {
            "`ncy-admin backup list` shows the recorded ones".into()
        }
        Error::Io { context, source } if context.starts_with(BACKUP_DIR) => match source.kind() {
            std::io::ErrorKind::PermissionDenied => {
                "choose a directory you can write with --dir, or fix its permissions".into()
            }
            std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
                "choose another --dir".into()
            }
            _ => "choose a writable --dir".into(),
        },
        Error::Database { message, .. } if message.starts_with("pg_restore was refused") => {
            "`ncy-admin backup restore --no-owner` skips ownership and privileges".into()
        }
        Error::Database { message, .. } if message.starts_with("pg_dump was refused") => {
            "the database user comes from --database-url or DATABASE_URL".into()
        }
        Error::Privilege { .. } => "the role comes from --database-url or DATABASE_URL".into(),
        Error::Service { service, message }
            if service == "Prometheus" && message.starts_with("cannot query") =>
        {
            "the Prometheus URL comes from --prometheus or NCY_PROMETHEUS_URL".into()
        }
        _ => return None,
    })
}

/// How ncy-backup's stream errors start (`Error::Io` context) when the backup directory
/// cannot be written.
const BACKUP_DIR: &str = "cannot write to the backup directory";

/// The command-line fix for bad input, by the field the core names (and, where a field is
/// shared, the stable start of its message).
fn invalid_hint(field: &str, message: &str) -> Option<String> {
    Some(match field {
        "database" if message.contains("needs a PostgreSQL database") => {
            "pass --database-url URL or set DATABASE_URL to the platform's server".into()
        }
        "logging" if message.starts_with("nothing to change") => {
            "give --min-duration MS and/or --statement none|ddl|mod|all".into()
        }
        "users" if message.starts_with("synthetic") => "give --users N".into(),
        "orgs" if message.starts_with("synthetic") => "give --orgs N".into(),
        "into" => "name it with --into (a database name, or a file for the local workspace)".into(),
        "after" => {
            "--after takes the cursor the previous page of `ncy-admin backup list` printed".into()
        }
        "encrypt" if message.starts_with("no backup key yet") => {
            "run `ncy-admin backup key create` (kept in the OS keychain), or name a recipient \
             with --recipient age1…"
                .into()
        }
        "recipient" => "`ncy-admin backup key create` makes one".into(),
        "identity" if message.contains("holds no") => {
            "pass --identity FILE (an age identity file), or `ncy-admin backup key import FILE` \
             first"
                .into()
        }
        "identity" if message.contains("encrypted to another key") => {
            "pass --identity FILE with the matching age identity".into()
        }
        "table" if message.contains("no recorded table list") => {
            "restore it whole (without --table)".into()
        }
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
            source: None,
        };
        assert!(!e.to_string().contains("DATABASE_URL"), "{e}");
        assert!(hint(&e).is_some_and(|h| h.contains("DATABASE_URL") && h.contains("--local")));
        let e = Error::Unauthenticated("no session".into());
        assert!(!e.to_string().contains("ncy-admin"), "{e}");
        assert!(hint(&e).is_some_and(|h| h.contains("ncy-admin login")));
        assert!(hint(&Error::BadCredentials).is_none());
    }

    /// Asserts that `e`'s own text names no flag or command and that the CLI's hint has `want`.
    fn moved(e: &Error, want: &str) {
        let m = e.to_string();
        assert!(
            !m.contains("--") && !m.contains("ncy-admin") && !m.contains("DATABASE_URL"),
            "the core names no flag or command: {m}"
        );
        let h = hint(e).unwrap_or_else(|| panic!("no hint for {e:?}"));
        assert!(h.contains(want), "hint for {m}: {h}");
    }

    #[test]
    fn connection_url_fixes_name_the_flag() {
        let e = ncy_backup::PgConn::from_url("mysql://h/db").unwrap_err();
        moved(&e, "--database-url");
        moved(
            &Error::DatabaseUrl("pool_timeout=x is not a number of seconds".into()),
            "DATABASE_URL",
        );
        moved(
            &Error::invalid(
                "database",
                "health needs a PostgreSQL database, and this is the local SQLite workspace",
            ),
            "--database-url URL",
        );
        assert!(hint(&Error::invalid("database", "give the database name")).is_none());
    }

    #[test]
    fn seed_and_migrate_fixes_name_the_flag() {
        moved(
            &Error::conflict(
                "seed",
                "refusing to seed: the database already holds 1 user(s) that are not the \
                 development seed's; force it only on a development database",
            ),
            "--force",
        );
        moved(
            &Error::invalid("users", "synthetic tasks need at least one user"),
            "--users N",
        );
        moved(
            &Error::invalid("orgs", "synthetic tasks need at least one organization"),
            "--orgs N",
        );
        moved(
            &Error::Migration(
                "migration 0003_x was edited after it was applied; the migration status lists \
                 the edited ones"
                    .into(),
            ),
            "migrate status",
        );
    }

    #[test]
    fn health_fixes_name_the_flag() {
        moved(
            &Error::invalid(
                "logging",
                "nothing to change: give a minimum duration (ms) and/or a statement level (none, ddl, mod, all)",
            ),
            "--min-duration MS",
        );
        let refused =
            Error::db("permission denied for function pg_cancel_backend (SQLSTATE 42501)");
        moved(
            &ncy_health::guard::privilege(
                refused,
                "cancel other sessions",
                "GRANT pg_signal_backend TO the role",
            ),
            "--database-url",
        );
        moved(
            &Error::service("Prometheus", "cannot query http://p:9090/: connection refused. Check the Prometheus URL and that Prometheus is running"),
            "--prometheus",
        );
    }

    #[test]
    fn backup_fixes_name_the_flag_or_command() {
        moved(
            &Error::conflict(
                "restore_into",
                "database x already exists; it is replaced only when asked to (force)",
            ),
            "--force",
        );
        moved(
            &Error::conflict("backup_pin", "backup 1 is not pinned"),
            "ncy-admin backup list",
        );
        moved(
            &Error::conflict("backup_folder", "/x is outside the backup folder /b: its BackupSnapshot row was not written for this folder"),
            "--dir",
        );
        moved(
            &Error::not_found(
                "backup",
                "/x.dump (no BackupSnapshot row records this file)",
            ),
            "backup list",
        );
        moved(
            &Error::invalid("into", "no file to restore into was named"),
            "--into",
        );
        moved(
            &Error::invalid(
                "after",
                "not a cursor from a previous page of the backup list",
            ),
            "--after",
        );
        moved(
            &Error::invalid("encrypt", "no backup key yet: the OS keychain holds no default backup key and no recipient was named"),
            "ncy-admin backup key create",
        );
        moved(
            &ncy_backup::crypt::parse_recipient("nope").unwrap_err(),
            "backup key create",
        );
        moved(
            &Error::invalid(
                "identity",
                "the backup is encrypted and this keychain holds no backup key",
            ),
            "--identity FILE",
        );
        moved(
            &Error::invalid(
                "identity",
                "/x cannot be decrypted with k: it was encrypted to another key",
            ),
            "--identity FILE",
        );
        moved(
            &Error::invalid(
                "table",
                "this backup has no recorded table list, so it can only be restored whole",
            ),
            "without --table",
        );
        moved(
            &Error::db("pg_restore was refused by the server: must be owner. Fix: restore as the owner of the objects, or restore without ownership and privileges"),
            "--no-owner",
        );
        moved(
            &Error::db("pg_dump was refused by the server: permission denied. Fix: the connecting database user needs read access"),
            "--database-url",
        );
        let dir = |kind| {
            Error::io(
                "cannot write to the backup directory /b (permission denied)",
                std::io::Error::from(kind),
            )
        };
        moved(
            &dir(std::io::ErrorKind::PermissionDenied),
            "fix its permissions",
        );
        moved(&dir(std::io::ErrorKind::AlreadyExists), "another --dir");
        // Fields other crates share get no backup hint.
        assert!(hint(&Error::invalid(
            "logging",
            "min_duration_ms must be -1 or more"
        ))
        .is_none());
        assert!(hint(&Error::invalid("table", "no such table")).is_none());
        assert!(hint(&Error::conflict("backup", "checksum mismatch")).is_none());
    }
}
