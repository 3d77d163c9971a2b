//! The backup finding: the newest verified backup older than `backups.max_age_hours` (or none
//! at all), judged by `ncy_core::admin::backup_age` as `backup check` and `backup list` do.

use ncy_core::admin::backup_age::{self, BackupAge};
use ncy_core::db::Db;
use ncy_core::Result;

use crate::findings::{Finding, Severity};

/// The finding for `age`, when there is one (a fresh backup gives none).
pub fn finding(age: &BackupAge) -> Option<Finding> {
    if age.fresh {
        return None;
    }
    Some(
        Finding::new(
            Severity::Warning,
            "backups",
            age.message
                .split(": take a backup")
                .next()
                .unwrap_or(&age.message)
                .to_owned(),
            "take and verify a backup, and have the backup age checked on a schedule to be told in time",
        )
        .about("backup_age", "newest_verified"),
    )
}

/// Reads the age of the newest verified backup.
pub async fn read(db: &Db) -> Result<BackupAge> {
    backup_age::read(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stale_or_missing_backup_is_a_finding() {
        let at = ncy_core::db::now();
        let id = Default::default();
        assert!(finding(&backup_age::judge(Some((id, at)), 26, at)).is_none());
        let old = at - chrono::Duration::hours(50);
        let f = finding(&backup_age::judge(Some((id, old)), 26, at)).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.title.contains("older than backups.max_age_hours = 26 h"),
            "{}",
            f.title
        );
        assert!(finding(&backup_age::judge(None, 26, at)).is_some());
    }
}
