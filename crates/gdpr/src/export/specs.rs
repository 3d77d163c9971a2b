//! What an export covers: one [`Spec`] per table (its filters on the subject, keyset columns,
//! secret columns left out), and the row counts. Migration 0023's `ncy_gdpr_export_parts()`
//! holds the same list for operator logins ([`part_rows`] is compared with it).

use ncy_core::db::Tx;
use ncy_core::{params, Result};
use uuid::Uuid;

/// Rows fetched per keyset batch.
pub const BATCH: i64 = 5000;

/// One part of a table's selection (a table may need several, e.g. messages sent and received).
pub(super) struct Part {
    /// SQL condition; `$1` is the subject id, `$2` (when `email`) the subject's email.
    pub(super) filter: &'static str,
    pub(super) email: bool,
}

/// What is exported from one table.
pub(super) struct Spec {
    pub(super) table: &'static str,
    pub(super) parts: &'static [Part],
    /// Keyset ordering columns: a timestamp and a unique tie-breaker.
    pub(super) ts: &'static str,
    pub(super) tb: &'static str,
    /// Secret columns never exported.
    pub(super) omit: &'static [&'static str],
    pub(super) about: &'static str,
}

const fn p(filter: &'static str) -> Part {
    Part {
        filter,
        email: false,
    }
}

pub(super) const SPECS: &[Spec] = &[
    Spec {
        table: "User",
        parts: &[p(r#""id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &["password_hash"],
        about: "the account (without the password hash)",
    },
    Spec {
        table: "Session",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &["refresh_token"],
        about: "login sessions (without tokens)",
    },
    Spec {
        table: "ApiKey",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &["key_hash"],
        about: "API keys (without key hashes)",
    },
    Spec {
        table: "UserRoleMap",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "granted_at",
        tb: "role_id",
        omit: &[],
        about: "roles granted",
    },
    Spec {
        table: "OrganizationMember",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "joined_at",
        tb: "id",
        omit: &[],
        about: "organization memberships",
    },
    Spec {
        table: "TeamMember",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "joined_at",
        tb: "team_id",
        omit: &[],
        about: "team memberships",
    },
    Spec {
        table: "Organization",
        parts: &[p(r#""owner_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "organizations owned",
    },
    Spec {
        table: "Task",
        parts: &[p(r#""assignee_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "tasks assigned",
    },
    Spec {
        table: "AuditLog",
        parts: &[
            p(r#""user_id" = $1"#),
            p(
                r#""target_table" = 'User' AND "target_id" = $1 AND ("user_id" IS NULL OR "user_id" <> $1)"#,
            ),
        ],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "audit events by or about the subject",
    },
    Spec {
        table: "AccessLog",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "timestamp",
        tb: "id",
        omit: &[],
        about: "API access log",
    },
    Spec {
        table: "LoginAttempt",
        parts: &[Part {
            filter: r#""user_id" = $1 OR lower("email") = $2"#,
            email: true,
        }],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "login attempts",
    },
    Spec {
        table: "Notification",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "notifications",
    },
    Spec {
        table: "File",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "files (metadata)",
    },
    Spec {
        table: "Message",
        parts: &[
            p(r#""sender_id" = $1"#),
            p(r#""receiver_id" = $1 AND ("sender_id" IS NULL OR "sender_id" <> $1)"#),
        ],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "messages sent and received",
    },
    Spec {
        table: "Settings",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "settings",
    },
    Spec {
        table: "UserPreferences",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "preferences",
    },
    Spec {
        table: "Consent",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "consent history",
    },
    Spec {
        table: "GdprRequest",
        parts: &[p(r#""user_id" = $1"#)],
        ts: "created_at",
        tb: "id",
        omit: &[],
        about: "data-subject requests",
    },
];

/// The tables an export covers, in bundle order.
pub fn tables() -> Vec<&'static str> {
    SPECS.iter().map(|s| s.table).collect()
}

/// One part of one table's selection, as migration 0023's `ncy_gdpr_export_parts()` lists it
/// for operator logins: table, part number (from 1), filter, keyset columns, omitted columns.
pub type PartRow = (String, i32, String, String, String, Vec<String>);

/// Every table's parts, in bundle order: what `ncy_gdpr_export_parts()` must return (a test
/// holds the two equal).
pub fn part_rows() -> Vec<PartRow> {
    let mut out = Vec::new();
    for s in SPECS {
        for (i, p) in s.parts.iter().enumerate() {
            out.push((
                s.table.to_owned(),
                i as i32 + 1,
                p.filter.to_owned(),
                s.ts.to_owned(),
                s.tb.to_owned(),
                s.omit.iter().map(|o| o.to_string()).collect(),
            ));
        }
    }
    out
}

pub(super) fn q(c: &str) -> String {
    ncy_core::db::ident(c)
}

/// What to read `table` from: the table, or while a log table's move into partitions is under
/// way, both it and the rows not moved yet (`ncy-admin migrate partition-logs`).
pub(super) async fn from(tx: &mut Tx, table: &str) -> Result<String> {
    Ok(match ncy_core::partition::layout(tx, table).await? {
        ncy_core::partition::Layout::Moving => format!(
            "(SELECT * FROM {} UNION ALL SELECT * FROM {})",
            q(table),
            q(&ncy_core::partition::leftover_name(table))
        ),
        _ => q(table),
    })
}

/// The rows every spec contributes, in one statement (`srcs[i]` is what spec `i` reads from,
/// see [`from`]); `$1` is the subject id, `$2` the subject's email.
pub(super) async fn counts(
    tx: &mut Tx,
    srcs: &[String],
    user: Uuid,
    email: &str,
) -> Result<Vec<u64>> {
    let mut cols = Vec::with_capacity(SPECS.len());
    for (i, (spec, src)) in SPECS.iter().zip(srcs).enumerate() {
        let parts = spec
            .parts
            .iter()
            .map(|part| format!("(SELECT count(*) FROM {src} t WHERE {})", part.filter))
            .collect::<Vec<_>>()
            .join(" + ");
        cols.push(format!("{parts} AS n{i}"));
    }
    // Every filter names $1; $2 (the email) is bound only when some part uses it (SQLite
    // refuses a parameter the statement does not have).
    let p = if SPECS.iter().any(|s| s.parts.iter().any(|p| p.email)) {
        params![user, email]
    } else {
        params![user]
    };
    let r = tx
        .query_one(&format!("SELECT {}", cols.join(", ")), &p)
        .await?;
    // One column per spec (table-driven), read by its generated name.
    (0..SPECS.len())
        .map(|i| Ok(r.int(&format!("n{i}"))? as u64))
        .collect()
}
