//! The health report flags a newest verified backup older than `backups.max_age_hours` (or
//! none at all), on real PostgreSQL; a fresh one gives no finding.

use std::time::Duration;

use ncy_health::{report, ReportOptions, Severity};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_or_missing_verified_backup_is_a_finding() {
    let (db, _url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    let opts = ReportOptions {
        sample: Duration::from_millis(50),
        ..ReportOptions::default()
    };
    let backup_finding = |rep: &ncy_health::HealthReport| {
        rep.findings
            .iter()
            .find(|f| f.about.as_deref() == Some("backup_age:newest_verified"))
            .cloned()
    };
    let rep = report(&db, &op, &opts).await.unwrap();
    let f = backup_finding(&rep).expect("no verified backup is a finding");
    assert_eq!(
        (f.severity, f.section.as_str()),
        (Severity::Warning, "backups")
    );
    assert!(f.title.starts_with("no verified backup"), "{}", f.title);

    db.query(
        r#"INSERT INTO "BackupSnapshot" ("path", "size", "verified", "created_at")
           VALUES ('/b/x.dump', 1, true, now() - interval '3 days') RETURNING "id""#,
        &[],
    )
    .await
    .unwrap();
    let rep = report(&db, &op, &opts).await.unwrap();
    let f = backup_finding(&rep).expect("a 3-day-old backup is a finding");
    assert!(
        f.title.contains("3.0 days old") && f.title.contains("backups.max_age_hours = 26 h"),
        "{}",
        f.title
    );

    db.query(
        r#"UPDATE "BackupSnapshot" SET "created_at" = now() RETURNING "id""#,
        &[],
    )
    .await
    .unwrap();
    let rep = report(&db, &op, &opts).await.unwrap();
    assert!(backup_finding(&rep).is_none(), "{:?}", rep.findings);
}
