//! How old the newest verified backup is, against the setting `backups.max_age_hours`: the one
//! judgement `backup list`, `backup check` and the health report share.

use chrono::NaiveDateTime;
use serde::Serialize;
use uuid::Uuid;

use crate::admin::settings::{self, BACKUP_MAX_AGE_HOURS};
use crate::db::{now, Db};
use crate::error::Result;
use crate::params;

/// The age of the newest verified backup and whether it is within the limit.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BackupAge {
    pub newest_verified_id: Option<Uuid>,
    pub newest_verified_at: Option<NaiveDateTime>,
    /// Seconds since the newest verified backup was taken.
    pub age_secs: Option<i64>,
    /// The limit in force (`backups.max_age_hours`, or its default).
    pub max_age_hours: i64,
    /// A verified backup exists and is younger than the limit.
    pub fresh: bool,
    /// One line saying so, naming the age and the setting (and the fix when not fresh).
    pub message: String,
}

fn hours(secs: i64) -> String {
    let h = secs as f64 / 3600.0;
    if h < 48.0 {
        format!("{h:.1} h")
    } else {
        format!("{:.1} days", h / 24.0)
    }
}

/// Judges `newest` (id, time taken) at `at` against a limit of `max_age_hours`.
pub fn judge(
    newest: Option<(Uuid, NaiveDateTime)>,
    max_age_hours: i64,
    at: NaiveDateTime,
) -> BackupAge {
    let fix = "take a backup and verify it";
    let (fresh, message, age) = match newest {
        None => (
            false,
            format!(
                "no verified backup exists ({BACKUP_MAX_AGE_HOURS} = {max_age_hours} h): {fix}"
            ),
            None,
        ),
        Some((_, t)) => {
            let age = (at - t).num_seconds().max(0);
            if age <= max_age_hours * 3600 {
                (
                    true,
                    format!(
                        "the newest verified backup is {} old, within {BACKUP_MAX_AGE_HOURS} = {max_age_hours} h",
                        hours(age)
                    ),
                    Some(age),
                )
            } else {
                (
                    false,
                    format!(
                        "the newest verified backup is {} old, older than {BACKUP_MAX_AGE_HOURS} = {max_age_hours} h: {fix}",
                        hours(age)
                    ),
                    Some(age),
                )
            }
        }
    };
    BackupAge {
        newest_verified_id: newest.map(|n| n.0),
        newest_verified_at: newest.map(|n| n.1),
        age_secs: age,
        max_age_hours,
        fresh,
        message,
    }
}

/// Reads the newest verified backup and the limit from the store (no permission check: the
/// callers check `backups.read` or `health.read`).
pub async fn read(db: &Db) -> Result<BackupAge> {
    let mut tx = db.begin().await?;
    let max = settings::read(&mut tx, BACKUP_MAX_AGE_HOURS)
        .await?
        .and_then(|v| v.as_i64())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| settings::default_of(BACKUP_MAX_AGE_HOURS));
    let newest = tx
        .query_opt_as(
            r#"SELECT "id", "created_at" FROM "BackupSnapshot" WHERE "verified" = $1
               ORDER BY "created_at" DESC, "id" DESC LIMIT 1"#,
            &params![true],
        )
        .await?;
    tx.rollback().await?;
    Ok(judge(newest, max, now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_stale_and_missing() {
        let at = now();
        let id = Uuid::new_v4();
        let a = judge(Some((id, at - chrono::Duration::hours(3))), 26, at);
        assert!(a.fresh, "{}", a.message);
        assert!(a.message.contains("3.0 h old"), "{}", a.message);
        let a = judge(Some((id, at - chrono::Duration::hours(30))), 26, at);
        assert!(!a.fresh);
        assert!(
            a.message.contains("30.0 h old")
                && a.message.contains("backups.max_age_hours = 26 h")
                && a.message.ends_with("take a backup and verify it")
                && !a.message.contains("ncy-admin"),
            "{}",
            a.message
        );
        let a = judge(None, 26, at);
        assert!(!a.fresh && a.age_secs.is_none());
        assert!(a.message.starts_with("no verified backup"), "{}", a.message);
    }
}
