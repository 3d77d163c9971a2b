//! GDPR behaviour on both stores (real PostgreSQL and SQLite files).

// `ncy_core::params!` builds a Vec that call sites borrow as a slice.
#![allow(clippy::useless_vec)]

mod common;

use std::collections::BTreeSet;

use chrono::NaiveDate;
use common::*;
use ncy_core::db::{Db, Dialect};
use ncy_core::{params, Error};
use ncy_gdpr::erase::{self, ErasureOptions};
use ncy_gdpr::request::{self, NewRequest, QueueFilter, RequestKind, RequestState};
use ncy_gdpr::{consent, export, hold, retention, sweep};
use ncy_tests::{conformance, Store};
use uuid::Uuid;

async fn new_request(
    db: &Db,
    op: &ncy_core::auth::Operator,
    user: &str,
    kind: RequestKind,
) -> Uuid {
    request::create(
        db,
        op,
        NewRequest {
            user: user.into(),
            kind,
            notes: None,
        },
    )
    .await
    .expect("create request")
    .id
}

async fn count(db: &Db, sql: &str, p: Vec<ncy_core::db::Value>) -> i64 {
    db.query(sql, &p).await.unwrap()[0].int("n").unwrap()
}

conformance!(
    export_contains_every_row_of_the_subject_and_nothing_of_others,
    |store: Store| async move {
        let db = &store.db;
        let op = admin(db).await;
        let bob = person(db, "bob.jones@example.com", "198.51.100.20", None).await;
        let alice = person(db, "alice.smith@example.com", "203.0.113.7", Some(bob.id)).await;
        let id = new_request(db, &op, "ALICE.SMITH@example.com", RequestKind::Export).await;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("bundle");

        // Refused before identity verification; nothing is written.
        let e = export::export(db, &op, id, &out, ncy_core::Work::none())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "{e}");
        assert!(!out.exists());

        request::verify_identity(db, &op, id, "passport checked in person")
            .await
            .unwrap();
        let seen = std::sync::Mutex::new(0u64);
        let res = export::export(
            db,
            &op,
            id,
            &out,
            ncy_core::Work::new(
                &|p: ncy_gdpr::Progress| *seen.lock().unwrap() = p.done,
                None,
            ),
        )
        .await
        .unwrap();
        assert!(*seen.lock().unwrap() > 0);
        assert_eq!(res.request.result_path.as_deref(), Some(res.path.as_str()));

        // Every file listed with the right checksum; every table present.
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["request_id"], id.to_string());
        assert_eq!(manifest["subject"]["id"], alice.id.to_string());
        for f in manifest["files"].as_array().unwrap() {
            let data = std::fs::read(out.join(f["file"].as_str().unwrap())).unwrap();
            use sha2::Digest;
            assert_eq!(f["sha256"], hex::encode(sha2::Sha256::digest(&data)));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&out), 0o700, "the bundle is private to its owner");
            assert_eq!(mode(&out.join("User.json")), 0o600);
            assert_eq!(mode(&out.join("manifest.json")), 0o600);
        }
        assert!(std::fs::read_to_string(out.join("summary.md"))
            .unwrap()
            .contains("marketing.email: granted"));

        // Per table: exactly the ids the database holds for Alice.
        let expect: &[(&str, &str, &str)] = &[
            ("User", "id", r#""id" = $1"#),
            ("Session", "id", r#""user_id" = $1"#),
            ("ApiKey", "id", r#""user_id" = $1"#),
            ("OrganizationMember", "id", r#""user_id" = $1"#),
            ("TeamMember", "team_id", r#""user_id" = $1"#),
            ("Task", "id", r#""assignee_id" = $1"#),
            (
                "AuditLog",
                "id",
                r#""user_id" = $1 OR ("target_table" = 'User' AND "target_id" = $1)"#,
            ),
            ("AccessLog", "id", r#""user_id" = $1"#),
            ("Notification", "id", r#""user_id" = $1"#),
            ("File", "id", r#""user_id" = $1"#),
            ("Message", "id", r#""sender_id" = $1 OR "receiver_id" = $1"#),
            ("Settings", "id", r#""user_id" = $1"#),
            ("UserPreferences", "id", r#""user_id" = $1"#),
            ("Consent", "id", r#""user_id" = $1"#),
            (
                "LoginAttempt",
                "id",
                r#""user_id" = $1 OR lower("email") = 'alice.smith@example.com'"#,
            ),
        ];
        let mut all_text = String::new();
        for (table, key, cond) in expect {
            let text = std::fs::read_to_string(out.join(format!("{table}.json"))).unwrap();
            all_text.push_str(&text);
            let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
            let got: BTreeSet<String> = rows
                .iter()
                .map(|r| r[*key].as_str().unwrap().to_owned())
                .collect();
            let want: BTreeSet<String> = db
                .query(
                    &format!(r#"SELECT "{key}" AS k FROM "{table}" WHERE {cond}"#),
                    &params![alice.id],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.text("k").unwrap())
                .collect();
            assert!(!want.is_empty(), "fixture has {table} rows");
            assert_eq!(got, want, "{table}");
            assert_eq!(manifest["row_counts"][*table], want.len() as u64, "{table}");
        }
        // The GDPR request itself is part of the export.
        let reqs: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(out.join("GdprRequest.json")).unwrap())
                .unwrap();
        assert_eq!(reqs.len(), 1);
        // Nothing of Bob but his id on the messages he exchanged with Alice; no secrets.
        assert!(!all_text.contains("bob.jones"), "Bob's email leaked");
        assert!(!all_text.contains("198.51.100.20"), "Bob's IP leaked");
        for secret in [
            "secret-token",
            "secret-key-hash",
            "password_hash",
            "refresh_token",
            "key_hash",
        ] {
            assert!(!all_text.contains(secret), "{secret} exported");
        }
        // A second export into an existing folder is refused.
        let e = export::export(db, &op, id, &out, ncy_core::Work::none())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }));
        // Cancelled exports leave nothing behind.
        let flag = std::sync::atomic::AtomicBool::new(true);
        let out2 = dir.path().join("cancelled");
        let e = export::export(
            db,
            &op,
            id,
            &out2,
            ncy_core::Work::none().with_cancel(&flag),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Cancelled));
        assert!(!out2.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no partial folder left"
        );
    }
);

conformance!(
    an_export_of_several_batches_holds_every_row_once,
    |store: Store| async move {
        // More rows than two keyset batches, three to a timestamp so batch edges fall inside
        // ties: every row is written once, in (timestamp, id) order, while the next batch is
        // read.
        let db = &store.db;
        let op = admin(db).await;
        let alice = person(db, "alice.smith@example.com", "203.0.113.7", None).await;
        let extra = 2 * export::BATCH as usize + 7;
        let base = ncy_core::db::now() - chrono::Duration::days(1);
        let mut tx = db.begin().await.unwrap();
        for chunk in (0..extra).collect::<Vec<_>>().chunks(100) {
            let mut sql = String::from(
                r#"INSERT INTO "AccessLog" ("id", "user_id", "method", "endpoint", "status_code", "latency_ms", "timestamp") VALUES "#,
            );
            let mut p = Vec::new();
            for (k, i) in chunk.iter().enumerate() {
                if k > 0 {
                    sql.push_str(", ");
                }
                let n = p.len();
                sql.push_str(&format!(
                    "(${}, ${}, 'GET', '/api/x', 200, 1, ${})",
                    n + 1,
                    n + 2,
                    n + 3
                ));
                p.extend(params![
                    Uuid::new_v4(),
                    alice.id,
                    base + chrono::Duration::seconds((*i / 3) as i64)
                ]);
            }
            tx.execute(&sql, &p).await.unwrap();
        }
        tx.commit().await.unwrap();
        let id = new_request(db, &op, "alice.smith@example.com", RequestKind::Export).await;
        request::verify_identity(db, &op, id, "in person")
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("bundle");
        let res = export::export(db, &op, id, &out, ncy_core::Work::none())
            .await
            .unwrap();
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(out.join("AccessLog.json")).unwrap())
                .unwrap();
        let want = count(
            db,
            r#"SELECT count(*) AS n FROM "AccessLog" WHERE "user_id" = $1"#,
            params![alice.id],
        )
        .await;
        assert!(want as usize > extra);
        assert_eq!(rows.len() as i64, want, "every row");
        let ids: BTreeSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), rows.len(), "each once");
        let keys: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                let ts = r["timestamp"].as_str().unwrap().replace(' ', "T");
                (ts, r["id"].as_str().unwrap().to_owned())
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "in keyset order");
        assert_eq!(res.manifest.row_counts["AccessLog"], want as u64);

        // Cancelled while the AccessLog rows stream (after its first progress report, with
        // thousands of rows still to come): nothing left behind, and the store answers.
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let seen = std::sync::Mutex::new(Vec::new());
        let on_progress = |p: ncy_gdpr::Progress| {
            if p.phase == "AccessLog" {
                seen.lock().unwrap().push(p.done);
                cancel.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        };
        let out2 = dir.path().join("cancelled");
        let e = export::export(
            db,
            &op,
            id,
            &out2,
            ncy_core::Work::new(&on_progress, None).with_cancel(&cancel),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e}");
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "stopped at the next chunk or batch"
        );
        assert!(!out2.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no partial folder left"
        );
        let n = count(
            db,
            r#"SELECT count(*) AS n FROM "AccessLog" WHERE "user_id" = $1"#,
            params![alice.id],
        )
        .await;
        assert_eq!(n, want);
    }
);

conformance!(
    erasure_leaves_no_pii_and_keeps_other_users_intact,
    |store: Store| async move {
        let db = &store.db;
        let _op = admin(db).await;
        let staff = support(db).await;
        let bob = person(db, "bob.jones@example.com", "198.51.100.20", None).await;
        let alice = person(db, "alice.smith@example.com", "203.0.113.7", Some(bob.id)).await;
        // Another user with the same local part at another domain must keep her address.
        let carol = person(db, "alice.smith@other.org", "198.51.100.30", None).await;
        let carol_before = dump_of(db, carol.id).await;
        let bob_before = dump_of(db, bob.id).await;

        // Backups taken before the erasure: a recent one, the newest verified (old), an expired one.
        let t = ncy_core::db::now();
        let (recent, newest_verified, expired) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        for (id, days, verified) in [
            (recent, 2, false),
            (newest_verified, 60, true),
            (expired, 90, false),
        ] {
            db.query(
                r#"INSERT INTO "BackupSnapshot" ("id", "path", "size", "verified", "created_at") VALUES ($1, $2, 1, $3, $4) RETURNING "id""#,
                &params![id, format!("/backups/{id}.dump"), verified, t - chrono::Duration::days(days)],
            )
            .await
            .unwrap();
        }
        let id = new_request(db, &staff, &alice.id.to_string(), RequestKind::Erasure).await;
        let e = erase::erase(
            db,
            &staff,
            id,
            &alice.email,
            &ErasureOptions::default(),
            ncy_core::Work::none(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, Error::Conflict { .. }),
            "refused before identity verification: {e}"
        );
        request::verify_identity(db, &staff, id, "email round trip + ID")
            .await
            .unwrap();
        let e = erase::erase(
            db,
            &staff,
            id,
            "someone@else.com",
            &ErasureOptions::default(),
            ncy_core::Work::none(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, Error::Invalid { .. }),
            "confirmation must match: {e}"
        );

        let out = erase::erase(
            db,
            &staff,
            id,
            "Alice.Smith@example.com",
            &ErasureOptions::default(),
            ncy_core::Work::none(),
        )
        .await
        .unwrap();
        let r = &out.receipt;
        assert!(r.sweep.clean, "{:?}", r.sweep);
        if db.dialect() == ncy_core::db::Dialect::Postgres {
            // The audit hash chain still verifies, and says where the erasure redacted values.
            let chain = ncy_core::audit::verify(db, &staff_admin(db).await)
                .await
                .unwrap();
            assert!(chain.ok, "{chain:?}");
            assert!(chain.redacted > 0, "the redaction is recorded: {chain:?}");
        }
        assert_eq!(r.sweep.terms.email, 1);
        assert_eq!(r.sweep.terms.local_part, 1);
        assert_eq!(r.sweep.terms.ip_addresses, 1);
        assert!(r.sweep.tables_scanned >= 20);
        let receipt_text = serde_json::to_string(&out.request.receipt).unwrap();
        assert!(
            !receipt_text.contains("alice") && !receipt_text.contains("203.0.113.7"),
            "receipt holds PII"
        );
        let held: Vec<(Uuid, bool)> = r
            .backups_holding_data
            .iter()
            .map(|b| (b.id, b.kept_as_newest_verified))
            .collect();
        assert_eq!(held, vec![(newest_verified, true), (recent, false)]);
        let rule = |t: &str| {
            r.rules
                .iter()
                .find(|x| x.table == t)
                .map(|x| x.rows)
                .unwrap_or(0)
        };
        assert_eq!(rule("Session"), 1);
        assert_eq!(rule("LoginAttempt"), 2);
        assert_eq!(rule("OrganizationMember"), 1);
        assert!(r
            .rules
            .iter()
            .any(|x| x.table == "ErrorLog" && x.rule == "redacted"));

        // An independent sweep agrees.
        let s = sweep::sweep_for(
            db,
            &staff,
            Some("alice.smith@example.com"),
            std::slice::from_ref(&alice.ip),
        )
        .await
        .unwrap();
        assert!(s.clean, "{:?}", s.hits);
        // The rules, checked in the data.
        let u = &db.query(r#"SELECT "email", "password_hash", "deleted_at", "status"::text AS status FROM "User" WHERE "id" = $1"#, &params![alice.id]).await.unwrap()[0];
        assert_eq!(
            u.text("email").unwrap(),
            format!("anonymized_{}@deleted.invalid", alice.id)
        );
        assert_eq!(u.text("password_hash").unwrap(), "!erased");
        assert!(u.opt_ts("deleted_at").unwrap().is_some());
        for (sql, want) in [
            (
                r#"SELECT count(*) AS n FROM "Session" WHERE "user_id" = $1"#,
                0,
            ),
            (
                r#"SELECT count(*) AS n FROM "ApiKey" WHERE "user_id" = $1"#,
                0,
            ),
            (
                r#"SELECT count(*) AS n FROM "OrganizationMember" WHERE "user_id" = $1"#,
                0,
            ),
            (
                r#"SELECT count(*) AS n FROM "TeamMember" WHERE "user_id" = $1"#,
                0,
            ),
            (
                r#"SELECT count(*) AS n FROM "AuditLog" WHERE ("user_id" = $1 OR "target_id" = $1) AND ("ip_address" IS NOT NULL OR "user_agent" IS NOT NULL) AND "action" NOT LIKE 'GDPR%'"#,
                0,
            ),
            (
                r#"SELECT count(*) AS n FROM "Message" WHERE "sender_id" = $1 AND "body" = '[erased]'"#,
                1,
            ),
            (
                r#"SELECT count(*) AS n FROM "AuditLog" WHERE "action" = 'GDPR_ERASE' AND "target_id" = $1"#,
                1,
            ),
        ] {
            assert_eq!(count(db, sql, params![alice.id]).await, want, "{sql}");
        }
        // Bob's data is intact, except Alice's address redacted in the message he sent her.
        let bob_after = dump_of(db, bob.id).await;
        assert_eq!(
            bob_before.replace(
                "Dear alice.smith@example.com, thanks",
                "Dear [redacted], thanks"
            ),
            bob_after
        );
        assert_eq!(
            carol_before,
            dump_of(db, carol.id).await,
            "Carol's data untouched"
        );
        let s = sweep::sweep_for(db, &staff, Some(&bob.email), std::slice::from_ref(&bob.ip))
            .await
            .unwrap();
        assert!(!s.clean, "Bob's data must still be there");

        // Idempotent: a second run changes nothing and stays clean; then the request completes.
        let again = erase::erase(
            db,
            &staff,
            id,
            &format!("anonymized_{}@deleted.invalid", alice.id),
            &ErasureOptions::default(),
            ncy_core::Work::none(),
        )
        .await
        .unwrap();
        assert!(again.receipt.already_anonymized && again.receipt.sweep.clean);
        assert_eq!(again.receipt.rows_changed, 0, "{:?}", again.receipt.rules);
        let first = again
            .receipt
            .previous
            .as_ref()
            .expect("the first run's receipt is kept");
        assert_eq!(first["rows_changed"].as_u64(), Some(r.rows_changed));
        let done = request::complete(db, &staff, id).await.unwrap();
        assert_eq!(done.state, RequestState::Completed);
    }
);

/// Bob's rows across the tables that hold users' data.
async fn dump_of(db: &Db, user: Uuid) -> String {
    let mut out = String::new();
    for (t, cond) in [
        ("User", r#""id" = $1"#),
        ("Session", r#""user_id" = $1"#),
        ("ApiKey", r#""user_id" = $1"#),
        ("OrganizationMember", r#""user_id" = $1"#),
        ("Task", r#""assignee_id" = $1"#),
        ("AuditLog", r#""user_id" = $1"#),
        ("Notification", r#""user_id" = $1"#),
        ("File", r#""user_id" = $1"#),
        ("Message", r#""sender_id" = $1"#),
        ("UserPreferences", r#""user_id" = $1"#),
        ("LoginAttempt", r#""user_id" = $1"#),
    ] {
        let mut rows: Vec<String> = db
            .query(
                &format!(r#"SELECT * FROM "{t}" WHERE {cond}"#),
                &params![user],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.to_json().to_string())
            .collect();
        rows.sort();
        out.push_str(&format!("{t}: {}\n", rows.join(" | ")));
    }
    out
}

conformance!(
    erasure_refused_while_owner_or_under_legal_hold,
    |store: Store| async move {
        let db = &store.db;
        let op = admin(db).await;
        let alice = person(db, "alice.smith@example.com", "203.0.113.7", None).await;
        db.query(
        r#"INSERT INTO "Organization" ("id", "name", "slug", "owner_id", "created_at", "updated_at") VALUES ($1, 'Alice Co', 'alice-co', $2, $3, $3) RETURNING "id""#,
        &params![Uuid::new_v4(), alice.id, ncy_core::db::now()],
    ).await.unwrap();
        let id = new_request(db, &op, &alice.email, RequestKind::Erasure).await;
        request::verify_identity(db, &op, id, "video call")
            .await
            .unwrap();
        let before = dump(db, &[]).await;
        let e = erase::erase(
            db,
            &op,
            id,
            &alice.email,
            &ErasureOptions::default(),
            ncy_core::Work::none(),
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().contains("transfer ownership first")
                && e.to_string().contains("alice-co"),
            "{e}"
        );
        db.query(r#"UPDATE "Organization" SET "owner_id" = (SELECT "id" FROM "User" WHERE "email" = 'admin@ncy-8.com') WHERE "slug" = 'alice-co' RETURNING "id""#, &[]).await.unwrap();
        hold::place(db, &op, &alice.email, "litigation 2026-17")
            .await
            .unwrap();
        let e = erase::erase(
            db,
            &op,
            id,
            &alice.email,
            &ErasureOptions::default(),
            ncy_core::Work::none(),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("legal hold"), "{e}");
        let detail = request::show(db, &op, id).await.unwrap();
        assert_eq!(detail.legal_holds.len(), 1);
        assert_eq!(
            hold::release(db, &op, &alice.email, "case closed")
                .await
                .unwrap(),
            1
        );
        assert!(
            erase::erase(
                db,
                &op,
                id,
                &alice.email,
                &ErasureOptions::default(),
                ncy_core::Work::none()
            )
            .await
            .unwrap()
            .receipt
            .sweep
            .clean
        );
        assert_ne!(before, dump(db, &[]).await);
    }
);

conformance!(
    overdue_at_the_month_boundary_and_platform_rows,
    |store: Store| async move {
        let db = &store.db;
        let op = admin(db).await;
        let alice = person(db, "alice.smith@example.com", "203.0.113.7", None).await;
        // A row filed by the platform's GdprService: type DELETE, status PENDING.
        let received = NaiveDate::from_ymd_opt(2025, 1, 31)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        let due = request::due_date(received);
        assert_eq!(
            due,
            NaiveDate::from_ymd_opt(2025, 2, 28)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap()
        );
        let pid = Uuid::new_v4();
        db.query(
        r#"INSERT INTO "GdprRequest" ("id", "user_id", "type", "status", "received_at", "due_at", "created_at", "updated_at") VALUES ($1, $2, 'DELETE', 'PENDING', $3, $4, $3, $3) RETURNING "id""#,
        &params![pid, alice.id, received, due],
    ).await.unwrap();
        let at_due = QueueFilter {
            as_of: Some(due),
            ..Default::default()
        };
        let q = request::list(db, &op, &at_due).await.unwrap();
        let r = q.requests.iter().find(|r| r.id == pid).unwrap();
        assert_eq!(
            (r.kind, r.state, r.filed_by_platform, r.overdue),
            (RequestKind::Erasure, RequestState::Received, true, false)
        );
        let just_after = due + chrono::Duration::milliseconds(1);
        let q = request::list(
            db,
            &op,
            &QueueFilter {
                as_of: Some(just_after),
                overdue: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(q.requests.len(), 1);
        assert!(q.requests[0].overdue);
        assert_eq!(q.dashboard.overdue, 1);
        let q = request::list(
            db,
            &op,
            &QueueFilter {
                as_of: Some(due),
                overdue: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(q.requests.is_empty());
        // RECEIVED filter finds PENDING rows; an extension moves the deadline.
        let q = request::list(
            db,
            &op,
            &QueueFilter {
                status: Some(RequestState::Received),
                as_of: Some(just_after),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(q.requests.len(), 1);
        let ext = request::extend(db, &op, pid, 2, "complex request: many systems")
            .await
            .unwrap();
        assert_eq!(
            ext.extended_due_at,
            Some(
                NaiveDate::from_ymd_opt(2025, 4, 28)
                    .unwrap()
                    .and_hms_opt(10, 0, 0)
                    .unwrap()
            )
        );
        let q = request::list(
            db,
            &op,
            &QueueFilter {
                as_of: Some(just_after),
                overdue: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(q.requests.is_empty());
        assert!(matches!(
            request::extend(db, &op, pid, 1, "again").await.unwrap_err(),
            Error::Conflict { .. }
        ));
        assert!(matches!(
            request::extend(db, &op, pid, 3, "too long")
                .await
                .unwrap_err(),
            Error::Invalid { .. }
        ));
        // A new request is due one calendar month after it was received.
        let nid = new_request(db, &op, &alice.email, RequestKind::Access).await;
        let d = request::show(db, &op, nid).await.unwrap();
        assert_eq!(d.request.due_at, request::due_date(d.request.received_at));
        let dup = request::create(
            db,
            &op,
            NewRequest {
                user: alice.email.clone(),
                kind: RequestKind::Access,
                notes: None,
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(dup, Error::Conflict { .. }));
        // The queue is sorted by the deadline in force.
        let q = request::list(db, &op, &QueueFilter::default())
            .await
            .unwrap();
        let dues: Vec<_> = q.requests.iter().map(|r| r.effective_due_at).collect();
        let mut sorted = dues.clone();
        sorted.sort();
        assert_eq!(dues, sorted);
        assert_eq!(q.requests.len(), 2);
        // Keyset pages of one: the second page starts after the first row's (due, id).
        let one = |after| QueueFilter {
            limit: Some(1),
            after,
            ..Default::default()
        };
        let p1 = request::list(db, &op, &one(None)).await.unwrap();
        assert_eq!(p1.requests[0].id, q.requests[0].id);
        let p2 = request::list(db, &op, &one(p1.next_after)).await.unwrap();
        assert_eq!(p2.requests[0].id, q.requests[1].id);
        let p3 = request::list(db, &op, &one(p2.next_after)).await.unwrap();
        assert!(p3.requests.is_empty() && p3.next_after.is_none());
    }
);

conformance!(
    rejected_request_changes_no_data,
    |store: Store| async move {
        let db = &store.db;
        let op = admin(db).await;
        let alice = person(db, "alice.smith@example.com", "203.0.113.7", None).await;
        let id = new_request(db, &op, &alice.email, RequestKind::Erasure).await;
        let before = dump(
            db,
            &[
                "AuditLog",
                "AuditChain",
                "GdprRequest",
                "Session",
                "LoginAttempt",
            ],
        )
        .await;
        let r = request::reject(db, &op, id, "identity could not be verified")
            .await
            .unwrap();
        assert_eq!(r.state, RequestState::Rejected);
        assert_eq!(
            before,
            dump(
                db,
                &[
                    "AuditLog",
                    "AuditChain",
                    "GdprRequest",
                    "Session",
                    "LoginAttempt"
                ]
            )
            .await
        );
        // Closed: no more steps, no erasure.
        assert!(matches!(
            request::verify_identity(db, &op, id, "x")
                .await
                .unwrap_err(),
            Error::Conflict { .. }
        ));
        assert!(matches!(
            request::reject(db, &op, id, "again").await.unwrap_err(),
            Error::Conflict { .. }
        ));
        assert!(erase::erase(
            db,
            &op,
            id,
            &alice.email,
            &ErasureOptions::default(),
            ncy_core::Work::none()
        )
        .await
        .is_err());
        assert_eq!(
            before,
            dump(
                db,
                &[
                    "AuditLog",
                    "AuditChain",
                    "GdprRequest",
                    "Session",
                    "LoginAttempt"
                ]
            )
            .await
        );
    }
);

conformance!(
    every_step_checks_permissions_and_is_audited,
    |store: Store| async move {
        let db = &store.db;
        let op = admin(db).await;
        let staff = support(db).await;
        let emp = employee(db).await;
        let alice = person(db, "alice.smith@example.com", "203.0.113.7", None).await;
        let e = request::create(
            db,
            &emp,
            NewRequest {
                user: alice.email.clone(),
                kind: RequestKind::Access,
                notes: None,
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }));
        assert!(matches!(
            request::list(db, &emp, &QueueFilter::default())
                .await
                .unwrap_err(),
            Error::Forbidden { .. }
        ));
        assert!(matches!(
            request::create(
                db,
                &op,
                NewRequest {
                    user: "nobody@x.com".into(),
                    kind: RequestKind::Access,
                    notes: None
                }
            )
            .await
            .unwrap_err(),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            RequestKind::parse("SHRED").unwrap_err(),
            Error::Invalid { .. }
        ));

        let id = new_request(db, &staff, &alice.email, RequestKind::Rectification).await;
        assert!(
            matches!(
                request::complete(db, &staff, id).await.unwrap_err(),
                Error::Conflict { .. }
            ),
            "needs verification"
        );
        request::begin_verification(db, &staff, id).await.unwrap();
        request::verify_identity(db, &staff, id, "phone call-back")
            .await
            .unwrap();
        request::extend(db, &staff, id, 1, "waiting for documents")
            .await
            .unwrap();
        let done = request::complete(db, &staff, id).await.unwrap();
        assert_eq!(done.handler_id, Some(staff.user_id));
        assert!(done.completed_at.is_some());
        let d = request::show(db, &staff, id).await.unwrap();
        // Steps within one millisecond share a timestamp: compare as a set, ordered by time.
        let mut actions: Vec<&str> = d.history.iter().map(|h| h.action.as_str()).collect();
        assert!(d.history.windows(2).all(|w| w[0].at <= w[1].at));
        actions.sort();
        assert_eq!(
            actions,
            [
                "GDPR_COMPLETE",
                "GDPR_EXTEND",
                "GDPR_IDENTITY_VERIFIED",
                "GDPR_REQUEST_CREATE",
                "GDPR_VERIFICATION_STARTED"
            ]
        );
        assert!(d.history.iter().all(|h| h.actor_id == Some(staff.user_id)));
        assert_eq!(
            count(
                db,
                r#"SELECT count(*) AS n FROM "AuditLog" WHERE "target_id" = $1 AND "user_id" = $2"#,
                params![id, staff.user_id]
            )
            .await,
            5
        );
    }
);

conformance!(consents_grant_withdraw_history, |store: Store| async move {
    let db = &store.db;
    let op = admin(db).await;
    let alice = person(db, "alice.smith@example.com", "203.0.113.7", None).await;
    let v = consent::grant(db, &op, &alice.email, "analytics", None)
        .await
        .unwrap();
    assert!(v.changed);
    assert!(
        !consent::grant(db, &op, &alice.email, "analytics", None)
            .await
            .unwrap()
            .changed
    );
    let v = consent::withdraw(db, &op, &alice.id.to_string(), "analytics")
        .await
        .unwrap();
    let a = v.current.iter().find(|c| c.purpose == "analytics").unwrap();
    assert!(!a.granted);
    assert!(matches!(
        consent::withdraw(db, &op, &alice.email, "analytics")
            .await
            .unwrap_err(),
        Error::Conflict { .. }
    ));
    assert!(matches!(
        consent::grant(db, &op, &alice.email, "bad purpose!", None)
            .await
            .unwrap_err(),
        Error::Invalid { .. }
    ));
    let l = consent::list(db, &op, &alice.email, Some("analytics"))
        .await
        .unwrap();
    assert_eq!(l.history.len(), 2);
    // Each change names who recorded it (its audit entry's actor), for staff without the
    // audit log; the fixture's row, written without an audit entry, names no one.
    assert!(
        l.history
            .iter()
            .all(|r| r.recorded_by.as_deref() == Some(op.email.as_str())),
        "{:?}",
        l.history
    );
    let all = consent::list(db, &op, &alice.email, None).await.unwrap();
    let fixture = all
        .history
        .iter()
        .find(|r| r.purpose == "marketing.email")
        .unwrap();
    assert_eq!(fixture.recorded_by, None);
    assert_eq!(
        all.current.len(),
        2,
        "marketing.email from the fixture + analytics"
    );
    assert_eq!(
        count(
            db,
            r#"SELECT count(*) AS n FROM "AuditLog" WHERE "action" LIKE 'GDPR_CONSENT%'"#,
            vec![]
        )
        .await,
        2
    );
});

conformance!(
    retention_dry_run_counts_then_run_purges,
    |store: Store| async move {
        let db = &store.db;
        let op = admin(db).await;
        let old = person(db, "old.user1@example.com", "203.0.113.50", None).await;
        let recent = person(db, "recent.user2@example.com", "203.0.113.51", None).await;
        let t = ncy_core::db::now();
        let eight_years = t - chrono::Duration::days(8 * 366);
        db.query(
            r#"UPDATE "User" SET "deleted_at" = $2 WHERE "id" = $1 RETURNING "id""#,
            &params![old.id, eight_years],
        )
        .await
        .unwrap();
        db.query(
            r#"UPDATE "User" SET "deleted_at" = $2 WHERE "id" = $1 RETURNING "id""#,
            &params![recent.id, t],
        )
        .await
        .unwrap();
        db.query(
            r#"UPDATE "AccessLog" SET "timestamp" = $1 WHERE "user_id" = $2 RETURNING "id""#,
            &params![t - chrono::Duration::days(100), recent.id],
        )
        .await
        .unwrap();
        let before = dump(db, &[]).await;
        let dry = retention::run(db, &op, None, true, None, ncy_core::Work::none())
            .await
            .unwrap();
        assert_eq!(before, dump(db, &[]).await, "a dry run changes nothing");
        let n = |r: &retention::RetentionReport, t: &str| {
            r.items.iter().find(|i| i.table == t).unwrap().rows
        };
        assert_eq!(n(&dry, "User"), 1);
        assert_eq!(n(&dry, "AccessLog"), 2);
        let run = retention::run(db, &op, None, false, None, ncy_core::Work::none())
            .await
            .unwrap();
        assert_eq!((n(&run, "User"), n(&run, "AccessLog")), (1, 2));
        let s = sweep::sweep_for(db, &op, Some(&old.email), std::slice::from_ref(&old.ip))
            .await
            .unwrap();
        assert!(s.clean, "{:?}", s.hits);
        assert_eq!(
            count(
                db,
                r#"SELECT count(*) AS n FROM "User" WHERE "email" = $1"#,
                params![recent.email.as_str()]
            )
            .await,
            1
        );
        let again = retention::run(db, &op, None, true, None, ncy_core::Work::none())
            .await
            .unwrap();
        assert_eq!((n(&again, "User"), n(&again, "AccessLog")), (0, 0));
    }
);

/// The platform's function performs the same erasure as the client on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_function_anonymize_user_data_erases_identically() {
    let store = ncy_tests::fresh(Dialect::Postgres).await;
    let db = &store.db;
    let op = admin(db).await;
    let pa = person(db, "peer.anna@example.org", "192.0.2.10", None).await;
    let pb = person(db, "peer.bert@example.org", "192.0.2.11", None).await;
    let a = person(db, "alice.smith@example.com", "203.0.113.7", Some(pa.id)).await;
    let b = person(db, "bruno.smith@example.com", "203.0.113.8", Some(pb.id)).await;

    let id = new_request(db, &op, &a.email, RequestKind::Erasure).await;
    request::verify_identity(db, &op, id, "id card")
        .await
        .unwrap();
    let client = erase::erase(
        db,
        &op,
        id,
        &a.email,
        &ErasureOptions::default(),
        ncy_core::Work::none(),
    )
    .await
    .unwrap();

    hold::place(db, &op, &b.email, "audit").await.unwrap();
    let e = db
        .query("SELECT anonymize_user_data($1) AS r", &params![b.id])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("legal hold"), "{e}");
    hold::release(db, &op, &b.email, "done").await.unwrap();
    let rows = db
        .query("SELECT anonymize_user_data($1) AS r", &params![b.id])
        .await
        .unwrap();
    let platform: Vec<erase::Rule> = rows[0]
        .opt_json("r")
        .unwrap()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| erase::Rule {
            table: v["table"].as_str().unwrap().into(),
            column: v["column"].as_str().unwrap().into(),
            rule: v["rule"].as_str().unwrap().into(),
            rows: v["rows"].as_u64().unwrap(),
        })
        .collect();
    assert_eq!(client.receipt.rules, platform);
    let s = sweep::sweep_for(db, &op, Some(&b.email), std::slice::from_ref(&b.ip))
        .await
        .unwrap();
    assert!(s.clean, "{:?}", s.hits);
    let u = &db
        .query(
            r#"SELECT "email", "password_hash" FROM "User" WHERE "id" = $1"#,
            &params![b.id],
        )
        .await
        .unwrap()[0];
    assert_eq!(
        u.text("email").unwrap(),
        format!("anonymized_{}@deleted.invalid", b.id)
    );
    // Idempotent: a second call changes no row.
    let again = db
        .query("SELECT anonymize_user_data($1) AS r", &params![b.id])
        .await
        .unwrap();
    let total: u64 = again[0]
        .opt_json("r")
        .unwrap()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 0);
    // The peers keep their data.
    assert!(
        !sweep::sweep_for(db, &op, Some(&pa.email), &[])
            .await
            .unwrap()
            .clean
    );
}

conformance!(
    erasure_is_not_committed_while_the_sweep_finds_a_trace,
    |store: Store| async move {
        let db = &store.db;
        let op = admin(db).await;
        let alice = person(db, "alice.smith@example.com", "203.0.113.7", None).await;
        // A trace in a table the redaction never rewrites (the migration bookkeeping).
        db.query(
            r#"INSERT INTO "_ncy_migrations" ("version", "name", "checksum", "applied_at", "execution_ms") VALUES (9999, 'note for alice.smith@example.com', 'x', $1, 0) RETURNING "version""#,
            &params![ncy_core::db::now()],
        )
        .await
        .unwrap();
        let id = new_request(db, &op, &alice.email, RequestKind::Erasure).await;
        request::verify_identity(db, &op, id, "id card")
            .await
            .unwrap();
        let before = dump(db, &[]).await;
        let e = erase::erase(
            db,
            &op,
            id,
            &alice.email,
            &ErasureOptions::default(),
            ncy_core::Work::none(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "{e}");
        assert!(
            e.to_string().contains("_ncy_migrations.name (1 rows)"),
            "{e}"
        );
        assert!(
            !e.to_string().contains("alice"),
            "the error names no personal data: {e}"
        );
        assert_eq!(before, dump(db, &[]).await, "nothing was changed");
        assert!(matches!(
            request::complete(db, &op, id).await.unwrap_err(),
            Error::Conflict { .. }
        ));
    }
);

/// The seeded administrator (for checks that need `audit.read`).
async fn staff_admin(db: &ncy_core::db::Db) -> ncy_core::auth::Operator {
    ncy_core::auth::login(
        db,
        "admin@ncy-8.com",
        "admin123",
        ncy_core::auth::Client::Cli,
        &Default::default(),
    )
    .await
    .expect("admin login")
    .operator
}

/// On PostgreSQL the rows come through `COPY` with the subject inlined as a literal: text the
/// COPY format escapes (backslashes, JSON's escaped quotes and control characters, non-ASCII)
/// comes back exactly, directly and through PgBouncer in transaction mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_keeps_every_character_directly_and_through_pgbouncer() {
    use ncy_core::db::{ConnectOptions, Target};
    use ncy_tests::pooler::{Pooler, PoolerOptions};

    let (db, url) = ncy_tests::fresh_pg().await;
    let set = ncy_core::migrate::MigrationSet::embedded(Dialect::Postgres).unwrap();
    ncy_core::migrate::up(&db, &set).await.unwrap();
    ncy_core::seed::dev(&db, false).await.unwrap();
    let op = admin(&db).await;
    let alice = person(&db, "o'brien.alice@example.com", "203.0.113.7", None).await;
    let body = "back\\slash \"quoted\" \\n tab\there\nnew line, é, 😀, \\\\N";
    db.query(
        r#"INSERT INTO "Notification" ("id", "user_id", "type", "title", "body", "data", "created_at")
           VALUES ($1, $2, 'note', 'Tricky', $3, $4, $5)"#,
        &params![
            Uuid::new_v4(),
            alice.id,
            body,
            serde_json::json!({"path": "C:\\temp\\x", "q": "\"", "nl": "a\nb"}),
            ncy_core::db::now()
        ],
    )
    .await
    .unwrap();
    let (_pooler, purl) = Pooler::in_front_of(
        &url,
        &PoolerOptions {
            pool_size: 1,
            ..PoolerOptions::default()
        },
    );
    let pooled = Db::connect(
        &Target::Postgres(format!("{purl}?pgbouncer=true")),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    assert!(pooled.pooled());
    let dir = tempfile::tempdir().unwrap();
    let id = new_request(&db, &op, "o'brien.alice@example.com", RequestKind::Export).await;
    request::verify_identity(&db, &op, id, "in person")
        .await
        .unwrap();
    for (how, via) in [("direct", &db), ("pgbouncer", &pooled)] {
        let out = dir.path().join(how);
        export::export(via, &op, id, &out, ncy_core::Work::none())
            .await
            .unwrap();
        let text = std::fs::read_to_string(out.join("Notification.json")).unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let tricky = rows
            .iter()
            .find(|r| r["title"] == "Tricky")
            .unwrap_or_else(|| panic!("{how}: the row is exported"));
        assert_eq!(tricky["body"], body, "{how}");
        assert_eq!(tricky["data"]["path"], "C:\\temp\\x", "{how}");
        assert_eq!(tricky["data"]["q"], "\"", "{how}");
        assert_eq!(tricky["data"]["nl"], "a\nb", "{how}");
        let users: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(out.join("User.json")).unwrap()).unwrap();
        assert_eq!(users.len(), 1, "{how}");
        assert_eq!(users[0]["email"], "o'brien.alice@example.com", "{how}");
    }
    pooled.close().await;
}
