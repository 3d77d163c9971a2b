//! GDPR erasure run by an operator through their own PostgreSQL login (migration 0018): the
//! database performs it with `ncy_gdpr_erase()`, and what the app refuses, SQL as that role
//! refuses too. Real PostgreSQL, real operator roles (SCRAM logins), no owner shortcut.

// `ncy_core::params!` builds a Vec that call sites borrow as a slice.
#![allow(clippy::useless_vec)]

mod common;

use common::{dump, person, Person};
use ncy_core::db::Db;
use ncy_core::{params, Error};
use ncy_gdpr::erase::{self, ErasureOptions, Receipt};
use ncy_gdpr::request::{self, NewRequest, RequestKind, RequestState};
use ncy_gdpr::{hold, sweep};
use ncy_tests::fresh_pg;
use ncy_tests::logins::{conns, sql, Conn};
use uuid::Uuid;

fn by_role<'a>(cs: &'a [Conn], role: &str) -> &'a Conn {
    cs.iter()
        .find(|c| c.role == role)
        .unwrap_or_else(|| panic!("no {role} operator"))
}

/// A verified ERASURE request for `subject`, filed and verified by `c` on their own login.
async fn verified_request(c: &Conn, subject: &str) -> Uuid {
    verified(c, subject, RequestKind::Erasure).await
}

/// A verified request of `kind` for `subject`, filed and verified by `c` on their own login.
async fn verified(c: &Conn, subject: &str, kind: RequestKind) -> Uuid {
    let id = request::create(
        &c.db,
        &c.op,
        NewRequest {
            user: subject.into(),
            kind,
            notes: None,
        },
    )
    .await
    .expect("file the request")
    .id;
    request::verify_identity(&c.db, &c.op, id, "ID card checked")
        .await
        .expect("verify identity");
    id
}

async fn erase_as(c: &Conn, id: Uuid, confirm: &str) -> ncy_core::Result<erase::ErasureOutcome> {
    erase::erase(
        &c.db,
        &c.op,
        id,
        confirm,
        &ErasureOptions::default(),
        ncy_core::Work::none(),
    )
    .await
}

/// `SELECT ncy_gdpr_erase(...)` as the operator, outside the app.
async fn erase_by_sql(c: &Conn, id: Uuid, confirm: &str) -> ncy_core::Result<u64> {
    sql(
        &c.db,
        &format!(
            "SELECT ncy_gdpr_erase('{id}', '{}')",
            confirm.replace('\'', "''")
        ),
    )
    .await
}

async fn n(db: &Db, q: &str, p: Vec<ncy_core::db::Value>) -> i64 {
    db.query(q, &p).await.expect("count")[0]
        .int("n")
        .expect("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_operator_erases_through_their_own_login() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let admin = &by_role(&cs, "ADMIN").op;
    let s = by_role(&cs, "SUPPORT");
    let bob = person(&db, "bob.jones@example.com", "198.51.100.20", None).await;
    let alice = person(&db, "alice.smith@example.com", "203.0.113.7", Some(bob.id)).await;
    // A backup taken two days ago still holds Alice's data; SUPPORT cannot read the table.
    let backup = Uuid::new_v4();
    db.query(
        r#"INSERT INTO "BackupSnapshot" ("id", "path", "size", "verified", "created_at") VALUES ($1, '/backups/b.dump', 1, true, $2) RETURNING "id""#,
        &params![backup, ncy_core::db::now() - chrono::Duration::days(2)],
    )
    .await
    .expect("backup");
    let id = verified_request(s, &alice.email).await;
    let audit_before = ncy_tests::audit_count(&db).await;

    let seen = std::sync::Mutex::new(Vec::new());
    let out = erase::erase(
        &s.db,
        &s.op,
        id,
        "Alice.Smith@example.com",
        &ErasureOptions::default(),
        ncy_core::Work::new(
            &|p: ncy_gdpr::Progress| seen.lock().expect("progress").push(p.phase),
            None,
        ),
    )
    .await
    .expect("SUPPORT erases through their own login");
    assert_eq!(
        seen.into_inner().expect("progress"),
        ["erase", "erase", "sweep"]
    );
    let r = &out.receipt;
    assert!(r.sweep.clean, "{:?}", r.sweep);
    assert_eq!(r.handler_id, s.op.user_id);
    assert_eq!((r.request_id, r.subject_id), (id, alice.id));
    assert!(!r.already_anonymized);
    assert_eq!(r.sweep.terms.email, 1);
    assert_eq!(r.sweep.terms.local_part, 1);
    assert_eq!(r.sweep.terms.ip_addresses, 1);
    assert!(r.sweep.tables_scanned >= 20 && r.sweep.columns_scanned > r.sweep.tables_scanned);
    let rule = |t: &str| r.rules.iter().find(|x| x.table == t).map(|x| x.rows);
    assert_eq!(rule("Session"), Some(1));
    assert_eq!(rule("LoginAttempt"), Some(2));
    assert_eq!(rule("OrganizationMember"), Some(1));
    assert_eq!(rule("User"), Some(1));
    assert!(r
        .rules
        .iter()
        .any(|x| x.table == "ErrorLog" && x.rule == "redacted"));
    assert_eq!(r.rows_changed, r.rules.iter().map(|x| x.rows).sum::<u64>());
    let held: Vec<Uuid> = r.backups_holding_data.iter().map(|b| b.id).collect();
    assert_eq!(held, [backup]);
    assert!(r.notes.iter().any(|x| x.contains("File.storage_path")));

    // The request: receipt stored (the same receipt), IN_PROGRESS, handled by the operator.
    assert_eq!(out.request.state, RequestState::InProgress);
    assert_eq!(out.request.handler_id, Some(s.op.user_id));
    let stored: Receipt =
        serde_json::from_value(out.request.receipt.clone().expect("receipt stored"))
            .expect("the stored receipt is a Receipt");
    assert_eq!(
        serde_json::to_value(&stored).expect("json"),
        serde_json::to_value(r).expect("json")
    );
    let text = serde_json::to_string(&out.request.receipt).expect("json");
    assert!(
        !text.contains("alice") && !text.contains("203.0.113.7"),
        "the receipt holds no personal data"
    );

    // After commit: an independent sweep by the owner finds nothing, Bob is still there.
    let clean = sweep::sweep_for(
        &db,
        admin,
        Some("alice.smith@example.com"),
        std::slice::from_ref(&alice.ip),
    )
    .await
    .expect("sweep");
    assert!(clean.clean, "{:?}", clean.hits);
    assert_eq!(
        (clean.tables_scanned, clean.columns_scanned),
        (r.sweep.tables_scanned, r.sweep.columns_scanned),
        "the database's sweep covers what the client's covers"
    );
    assert!(
        !sweep::sweep_for(&db, admin, Some(&bob.email), &[])
            .await
            .expect("sweep")
            .clean
    );
    let u = &db
        .query(
            r#"SELECT "email", "password_hash", "status"::text AS status FROM "User" WHERE "id" = $1"#,
            &params![alice.id],
        )
        .await
        .expect("user")[0];
    assert_eq!(
        u.text("email").expect("email"),
        format!("anonymized_{}@deleted.invalid", alice.id)
    );
    assert_eq!(u.text("password_hash").expect("hash"), "!erased");
    assert_eq!(u.text("status").expect("status"), "INACTIVE");

    // The audit trail: two GDPR_ERASE entries with the operator as actor, the one about the
    // subject without agent or address, and no per-row SQL_* entry copying erased values.
    let rows = db
        .query(
            r#"SELECT "target_table", "user_id", "user_agent", host("ip_address") AS ip, "txid"
               FROM "AuditLog" WHERE "action" = 'GDPR_ERASE' ORDER BY "seq""#,
            &[],
        )
        .await
        .expect("audit");
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.uuid("user_id").expect("actor"), s.op.user_id);
    }
    assert_eq!(rows[0].text("target_table").expect("t"), "User");
    assert_eq!(rows[0].opt_text("user_agent").expect("ua"), None);
    assert_eq!(rows[0].opt_text("ip").expect("ip"), None);
    assert_eq!(rows[1].text("target_table").expect("t"), "GdprRequest");
    assert_eq!(
        rows[1].opt_text("user_agent").expect("ua"),
        Some(s.op.user_agent())
    );
    let txid = rows[0].int("txid").expect("txid");
    assert_eq!(
        n(
            &db,
            r#"SELECT count(*) AS n FROM "AuditLog" WHERE "txid" = $1"#,
            params![txid]
        )
        .await,
        2,
        "the erasure's transaction wrote its two entries and nothing else"
    );
    assert_eq!(ncy_tests::audit_count(&db).await - audit_before, 2);
    let chain = ncy_core::audit::verify(&db, admin).await.expect("verify");
    assert!(chain.ok, "{chain:?}");
    assert!(chain.redacted > 0, "the redaction is recorded: {chain:?}");

    // The operator's own privileges did not grow: no direct write to what was erased.
    for q in [
        format!(
            r#"UPDATE "User" SET "email" = 'x@example.com' WHERE "id" = '{}'"#,
            bob.id
        ),
        format!(r#"DELETE FROM "Session" WHERE "user_id" = '{}'"#, bob.id),
        format!(
            r#"UPDATE "AuditLog" SET "user_agent" = NULL WHERE "user_id" = '{}'"#,
            bob.id
        ),
        format!(
            "SELECT ncy_gdpr_apply_rules('{}', 'bob.jones@example.com', NULL, now()::timestamp)",
            bob.id
        ),
        "INSERT INTO \"GdprErasing\" VALUES (txid_current())".to_owned(),
        format!("SELECT anonymize_user_data('{}')", bob.id),
    ] {
        assert!(
            sql(&s.db, &q).await.is_err(),
            "SUPPORT: {q} must be refused"
        );
    }
    assert_eq!(
        n(
            &db,
            r#"SELECT count(*) AS n FROM "User" WHERE "email" = $1"#,
            params![bob.email.as_str()]
        )
        .await,
        1
    );

    // Again with the anonymized address: nothing more to change, the first receipt is kept.
    let again = erase_as(s, id, &format!("anonymized_{}@deleted.invalid", alice.id))
        .await
        .expect("again");
    assert!(again.receipt.already_anonymized && again.receipt.sweep.clean);
    assert_eq!(again.receipt.rows_changed, 0, "{:?}", again.receipt.rules);
    assert_eq!(
        again.receipt.previous.as_ref().expect("previous")["rows_changed"].as_u64(),
        Some(r.rows_changed)
    );
    let done = request::complete(&s.db, &s.op, id).await.expect("complete");
    assert_eq!(done.state, RequestState::Completed);
    assert!(
        ncy_core::audit::verify(&db, admin)
            .await
            .expect("verify")
            .ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_operator_is_refused_by_the_app_and_by_sql() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let s = by_role(&cs, "SUPPORT");
    let alice = person(&db, "alice.smith@example.com", "203.0.113.7", None).await;
    let id = verified_request(s, &alice.email).await;
    let before = dump(&db, &[]).await;
    for role in ["EMPLOYEE", "MANAGER"] {
        let c = by_role(&cs, role);
        let e = erase_as(c, id, &alice.email).await.unwrap_err();
        assert!(
            matches!(&e, Error::Forbidden { permission } if permission == "gdpr.handle"),
            "{role}: {e}"
        );
        let e = erase_by_sql(c, id, &alice.email).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("permission denied for function ncy_gdpr_erase"),
            "{role}: {e}"
        );
    }
    assert_eq!(before, dump(&db, &[]).await, "nothing was changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_through_the_definer_change_nothing() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let admin = by_role(&cs, "ADMIN");
    let s = by_role(&cs, "SUPPORT");
    let alice: Person = person(&db, "alice.smith@example.com", "203.0.113.7", None).await;
    let id = verified_request(s, &alice.email).await;
    let mut before = dump(&db, &[]).await;

    // A wrong confirmation: the app and the function.
    let e = erase_as(s, id, "someone@else.com").await.unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "{e}");
    let e = erase_by_sql(s, id, "someone@else.com").await.unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    assert_eq!(before, dump(&db, &[]).await, "nothing changed");

    // Not verified yet: refused by the function too.
    let carol = person(&db, "carol.white@example.com", "203.0.113.9", None).await;
    let unverified = request::create(
        &s.db,
        &s.op,
        NewRequest {
            user: carol.email.clone(),
            kind: RequestKind::Erasure,
            notes: None,
        },
    )
    .await
    .expect("request")
    .id;
    before = dump(&db, &[]).await;
    let e = erase_by_sql(s, unverified, &carol.email).await.unwrap_err();
    assert!(e.to_string().contains("not verified"), "{e}");
    assert!(matches!(
        erase_as(s, unverified, &carol.email).await.unwrap_err(),
        Error::Conflict { .. }
    ));
    assert_eq!(before, dump(&db, &[]).await, "nothing changed");

    // A legal hold (placed by an administrator): refused with nothing changed.
    hold::place(&admin.db, &admin.op, &alice.email, "litigation 2026-17")
        .await
        .expect("hold");
    before = dump(&db, &[]).await;
    let e = erase_as(s, id, &alice.email).await.unwrap_err();
    assert!(
        matches!(&e, Error::Conflict { .. }) && e.to_string().contains("legal hold"),
        "{e}"
    );
    let e = erase_by_sql(s, id, &alice.email).await.unwrap_err();
    assert!(e.to_string().contains("legal hold"), "{e}");
    assert_eq!(before, dump(&db, &[]).await, "nothing changed");
    hold::release(&admin.db, &admin.op, &alice.email, "case closed")
        .await
        .expect("release");

    // An organization Alice owns that SUPPORT cannot see (Row-Level Security): the app's own
    // check passes, the database refuses, naming it.
    db.query(
        r#"INSERT INTO "Organization" ("id", "name", "slug", "owner_id", "created_at", "updated_at") VALUES ($1, 'Alice Co', 'alice-co', $2, $3, $3) RETURNING "id""#,
        &params![Uuid::new_v4(), alice.id, ncy_core::db::now()],
    )
    .await
    .expect("org");
    assert_eq!(
        sql(
            &s.db,
            r#"SELECT "id" FROM "Organization" WHERE "slug" = 'alice-co'"#
        )
        .await
        .expect("read"),
        0,
        "SUPPORT does not see the organization"
    );
    before = dump(&db, &[]).await;
    let e = erase_as(s, id, &alice.email).await.unwrap_err();
    assert!(
        matches!(&e, Error::Conflict { .. })
            && e.to_string().contains("transfer ownership first")
            && e.to_string().contains("alice-co"),
        "{e}"
    );
    assert_eq!(before, dump(&db, &[]).await, "nothing changed");
    db.query(
        r#"UPDATE "Organization" SET "owner_id" = $1 WHERE "slug" = 'alice-co' RETURNING "id""#,
        &params![admin.op.user_id],
    )
    .await
    .expect("transfer");

    // A trace no rule rewrites: the sweep is not clean, the function raises, nothing changes.
    db.query(
        r#"INSERT INTO "_ncy_migrations" ("version", "name", "checksum", "applied_at", "execution_ms") VALUES (9999, 'note for alice.smith@example.com', 'x', $1, 0) RETURNING "version""#,
        &params![ncy_core::db::now()],
    )
    .await
    .expect("trace");
    before = dump(&db, &[]).await;
    let e = erase_as(s, id, &alice.email).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    assert!(
        e.to_string().contains("_ncy_migrations.name (1 rows)"),
        "{e}"
    );
    assert!(
        !e.to_string().contains("alice"),
        "the error names no personal data: {e}"
    );
    assert_eq!(before, dump(&db, &[]).await, "nothing was changed");
    assert_eq!(
        n(
            &db,
            r#"SELECT count(*) AS n FROM "GdprRequest" WHERE "receipt" IS NOT NULL"#,
            vec![]
        )
        .await,
        0,
        "no receipt stored"
    );
}

/// The audit trigger is quiet only while the function runs: the operator's own writes before
/// and after it in the same transaction are audited as always.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_around_the_definer_in_one_transaction_stay_audited() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let s = by_role(&cs, "SUPPORT");
    let bob = person(&db, "bob.jones@example.com", "198.51.100.20", None).await;
    let carol = person(&db, "carol.white@example.com", "198.51.100.30", None).await;
    let alice = person(&db, "alice.smith@example.com", "203.0.113.7", None).await;
    let id = verified_request(s, &alice.email).await;
    let mut tx = s.db.begin().await.expect("begin");
    let consent = r#"UPDATE "Consent" SET "source" = $2 WHERE "user_id" = $1"#;
    tx.execute(consent, &params![bob.id, "before"])
        .await
        .expect("write before");
    tx.query(
        "SELECT ncy_gdpr_erase($1, $2) AS r",
        &params![id, alice.email.as_str()],
    )
    .await
    .expect("erase by SQL");
    tx.execute(consent, &params![carol.id, "after"])
        .await
        .expect("write after");
    tx.commit().await.expect("commit");
    let rows = db
        .query(
            r#"SELECT a."action", a."user_id", a."new_value"->>'source' AS source FROM "AuditLog" a
               JOIN "Consent" c ON c."id" = a."target_id" WHERE a."target_table" = 'Consent' AND a."action" = 'SQL_UPDATE'
               ORDER BY a."seq""#,
            &[],
        )
        .await
        .expect("audit");
    let got: Vec<(String, Option<String>)> = rows
        .iter()
        .map(|r| {
            assert_eq!(r.uuid("user_id").expect("actor"), s.op.user_id);
            (
                r.text("action").expect("action"),
                r.opt_text("source").expect("source"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("SQL_UPDATE".to_owned(), Some("before".to_owned())),
            ("SQL_UPDATE".to_owned(), Some("after".to_owned()))
        ]
    );
    let clean = sweep::sweep_for(&db, &cs[0].op, Some(&alice.email), &[])
        .await
        .expect("sweep");
    assert!(clean.clean, "{:?}", clean.hits);
    assert!(
        ncy_core::audit::verify(&db, &cs[0].op)
            .await
            .expect("verify")
            .ok
    );
}

/// Exports request `id` as `op` into `out` (no progress).
async fn export_to(
    db: &Db,
    op: &ncy_core::auth::Operator,
    id: Uuid,
    out: &std::path::Path,
) -> ncy_core::Result<ncy_gdpr::export::ExportOutcome> {
    ncy_gdpr::export::export(db, op, id, out, ncy_core::Work::none()).await
}

/// The error of an export `c` is refused.
async fn export_refused(c: &Conn, id: Uuid) -> Error {
    let dir = tempfile::tempdir().expect("tmp");
    export_to(&c.db, &c.op, id, &dir.path().join("x"))
        .await
        .expect_err("refused")
}

/// Every per-table file of an export bundle, by name, except `GdprRequest.json`: the request's
/// own row changes with each export recorded on it.
/// Asserts two exports wrote the same table files, byte for byte.
fn same_files(
    want: &std::collections::BTreeMap<String, Vec<u8>>,
    got: &std::collections::BTreeMap<String, Vec<u8>>,
    label: &str,
) {
    for (name, bytes) in want {
        assert!(got.get(name) == Some(bytes), "{label}: {name} differs");
    }
    assert_eq!(got.len(), want.len(), "{label}: the same files");
}

fn table_files(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("bundle")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".json") && name != "manifest.json" && name != "GdprRequest.json"
        })
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read"))
        })
        .collect()
}

/// ADMIN and SUPPORT operators export through their own logins (migration 0023): the bundle is
/// the one the schema owner writes, byte for byte, though neither role may read every table
/// it draws on (Session and ApiKey are granted by column, SUPPORT reads no message or log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_support_operators_export_through_their_own_login() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let owner = ncy_tests::login_as(&db, "admin@ncy-8.com", "admin123").await;
    let bob = person(&db, "bob.jones@example.com", "198.51.100.20", None).await;
    let alice = person(
        &db,
        "o'Alice.Smith@example.com",
        "203.0.113.7",
        Some(bob.id),
    )
    .await;
    let s = by_role(&cs, "SUPPORT");
    let id = verified(s, &alice.email, RequestKind::Export).await;
    let dir = tempfile::tempdir().expect("tmp");

    let base = export_to(&db, &owner, id, &dir.path().join("owner"))
        .await
        .expect("the owner exports");
    let want = table_files(&dir.path().join("owner"));
    assert_eq!(want.len(), ncy_gdpr::export::tables().len() - 1);
    for (table, n) in [
        ("User", 1),
        ("Session", 1),
        ("ApiKey", 1),
        ("OrganizationMember", 1),
        ("Task", 1),
        ("AuditLog", 2),
        ("AccessLog", 2),
        ("LoginAttempt", 2),
        ("Message", 2),
        ("Consent", 1),
    ] {
        assert_eq!(base.manifest.row_counts[table], n, "{table}");
    }

    for role in ["ADMIN", "SUPPORT"] {
        let c = by_role(&cs, role);
        // The SQL a reader would try first is refused for SUPPORT: the export is the way in.
        if role == "SUPPORT" {
            let e = sql(&c.db, r#"SELECT "body" FROM "Message""#)
                .await
                .expect_err("SUPPORT reads no message");
            assert!(e.to_string().contains("permission denied"), "{e}");
        }
        let e = sql(&c.db, r#"SELECT "refresh_token" FROM "Session""#)
            .await
            .expect_err("no operator reads session tokens");
        assert!(e.to_string().contains("permission denied"), "{role}: {e}");

        let out = dir.path().join(role);
        let got = export_to(&c.db, &c.op, id, &out)
            .await
            .unwrap_or_else(|e| panic!("{role} exports through their own login: {e}"));
        assert_eq!(got.manifest.row_counts, base.manifest.row_counts, "{role}");
        assert_eq!(got.total_rows, base.total_rows, "{role}");
        assert_eq!(got.manifest.generated_by, c.op.user_id);
        let files = table_files(&out);
        same_files(&want, &files, role);
        let text = String::from_utf8(files.values().flatten().copied().collect()).expect("utf-8");
        assert!(
            !text.contains("secret-token") && !text.contains("secret-key-hash"),
            "{role}: no secret is exported"
        );
        assert_eq!(got.request.result_path.as_deref(), Some(got.path.as_str()));
        assert_eq!(got.request.handler_id, Some(c.op.user_id));
    }
    let actors: Vec<Uuid> = db
        .query(
            r#"SELECT "user_id" FROM "AuditLog" WHERE "action" = 'GDPR_EXPORT' AND "target_id" = $1 ORDER BY "seq""#,
            &params![id],
        )
        .await
        .expect("audit")
        .iter()
        .map(|r| r.uuid("user_id").expect("actor"))
        .collect();
    assert_eq!(
        actors,
        [
            owner.user_id,
            by_role(&cs, "ADMIN").op.user_id,
            s.op.user_id
        ]
    );
}

/// Through SQL, an operator reads a subject's rows only for a verified, open ACCESS or EXPORT
/// request, only with gdpr.handle, and only the tables an export covers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_rows_by_sql_need_a_verified_open_export_request() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let alice = person(&db, "alice.smith@example.com", "203.0.113.7", None).await;
    let s = by_role(&cs, "SUPPORT");
    let rows =
        |id: Uuid, table: &str| format!("SELECT r FROM ncy_gdpr_export_rows('{id}', '{table}') r");
    let refused = |e: ncy_core::Error, want: &str| {
        let m = e.to_string();
        assert!(m.contains(want), "want {want:?}, got {m}");
    };

    // The database's list of what an export reads is the client's, part for part.
    let listed = db
        .query(
            "SELECT json_agg(json_build_array(tbl, part, filter, ts, tb, omit))::text AS j FROM ncy_gdpr_export_parts()",
            &[],
        )
        .await
        .expect("parts")[0]
        .text("j")
        .expect("json");
    let listed: Vec<ncy_gdpr::export::PartRow> = serde_json::from_str(&listed).expect("parts");
    assert_eq!(listed, ncy_gdpr::export::part_rows());

    let export = verified(s, &alice.email, RequestKind::Export).await;
    assert_eq!(sql(&s.db, &rows(export, "Session")).await.expect("rows"), 1);
    assert_eq!(
        sql(&s.db, &rows(export, "LoginAttempt"))
            .await
            .expect("rows"),
        2
    );
    let counted = sql(
        &s.db,
        &format!("SELECT * FROM ncy_gdpr_export_counts('{export}')"),
    )
    .await
    .expect("counts");
    assert_eq!(counted as usize, ncy_gdpr::export::tables().len());
    refused(
        sql(&s.db, &rows(export, "ErrorLog"))
            .await
            .expect_err("not covered"),
        "does not cover table ErrorLog",
    );
    refused(
        sql(&s.db, "SELECT * FROM ncy_gdpr_export_parts()")
            .await
            .expect_err("internal"),
        "permission denied",
    );
    for role in ["MANAGER", "EMPLOYEE"] {
        let c = by_role(&cs, role);
        refused(
            sql(&c.db, &rows(export, "User"))
                .await
                .expect_err("no gdpr.handle"),
            "permission denied",
        );
        let e = export_refused(c, export).await;
        assert!(matches!(e, Error::Forbidden { .. }), "{role}: {e}");
    }

    let unverified = request::create(
        &s.db,
        &s.op,
        NewRequest {
            user: alice.email.clone(),
            kind: RequestKind::Access,
            notes: None,
        },
    )
    .await
    .expect("file")
    .id;
    refused(
        sql(&s.db, &rows(unverified, "User"))
            .await
            .expect_err("unverified"),
        "identity is not verified",
    );
    let erasure = verified(s, &alice.email, RequestKind::Erasure).await;
    refused(
        sql(&s.db, &rows(erasure, "User"))
            .await
            .expect_err("erasure"),
        "export answers ACCESS and EXPORT requests",
    );
    refused(
        sql(&s.db, &rows(Uuid::new_v4(), "User"))
            .await
            .expect_err("none"),
        "GDPR request not found",
    );
    request::reject(&s.db, &s.op, export, "duplicate")
        .await
        .expect("reject");
    refused(
        sql(&s.db, &rows(export, "User")).await.expect_err("closed"),
        "is already REJECTED",
    );
    let e = export_refused(s, export).await;
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
}

/// SUPPORT staff work the queue on their own login: a request's history (from the audit log
/// they may not read), legal holds, a sweep re-proving an erasure, each the same as the schema
/// owner's; retention, which deletes behind the audit chain and drops partitions, is refused
/// before any work with the fix named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_staff_work_the_queue_through_their_own_login() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let owner = ncy_tests::login_as(&db, "admin@ncy-8.com", "admin123").await;
    let bob = person(&db, "bob.jones@example.com", "198.51.100.20", None).await;
    let alice = person(&db, "alice.smith@example.com", "203.0.113.7", Some(bob.id)).await;
    let s = by_role(&cs, "SUPPORT");
    let e = by_role(&cs, "EMPLOYEE");

    // The request's history, read without the audit log: the owner's, entry for entry.
    let id = verified(s, &alice.email, RequestKind::Access).await;
    let theirs = request::show(&s.db, &s.op, id)
        .await
        .expect("SUPPORT shows");
    let mine = request::show(&db, &owner, id).await.expect("owner shows");
    assert_eq!(
        serde_json::to_value(&theirs.history).expect("json"),
        serde_json::to_value(&mine.history).expect("json")
    );
    let steps: Vec<(&str, Option<&str>)> = theirs
        .history
        .iter()
        .map(|h| (h.action.as_str(), h.actor_email.as_deref()))
        .collect();
    assert!(
        steps.len() >= 2
            && steps
                .iter()
                .all(|(_, who)| *who == Some(s.op.email.as_str())),
        "{steps:?}"
    );
    let err = sql(&s.db, r#"SELECT 1 FROM "AuditLog""#)
        .await
        .expect_err("SUPPORT reads no audit row directly");
    assert!(err.to_string().contains("permission denied"), "{err}");

    // Legal holds: placed and released by SUPPORT, audited; never deleted.
    let h = hold::place(&s.db, &s.op, &alice.email, "case 42")
        .await
        .expect("SUPPORT places a hold");
    assert_eq!(h.placed_by, Some(s.op.user_id));
    assert_eq!(
        hold::release(&s.db, &s.op, &alice.email, "case closed")
            .await
            .expect("SUPPORT releases it"),
        1
    );
    let err = sql(
        &s.db,
        &format!(r#"DELETE FROM "LegalHold" WHERE "id" = '{}'"#, h.id),
    )
    .await
    .expect_err("a hold is never deleted");
    assert!(err.to_string().contains("permission denied"), "{err}");
    assert_eq!(
        n(
            &db,
            r#"SELECT count(*) AS n FROM "AuditLog" WHERE "target_table" = 'LegalHold' AND "target_id" = $1 AND "user_id" = $2"#,
            params![h.id, s.op.user_id],
        )
        .await,
        2,
        "placing and releasing are audited with SUPPORT as the actor"
    );

    // A sweep: the database's twin finds what the client finds, for ADMIN and SUPPORT.
    let ips = vec![alice.ip.clone(), " 198.51.100.20 ".to_owned()];
    let want = sweep::sweep_for(&db, &owner, Some(" Alice.Smith@example.com"), &ips)
        .await
        .expect("owner sweeps");
    assert!(!want.clean && want.hits.iter().any(|h| h.table == "Message"));
    for role in ["ADMIN", "SUPPORT"] {
        let c = by_role(&cs, role);
        let got = sweep::sweep_for(&c.db, &c.op, Some(" Alice.Smith@example.com"), &ips)
            .await
            .unwrap_or_else(|e| panic!("{role} sweeps: {e}"));
        assert_eq!(got.hits, want.hits, "{role}");
        assert_eq!(got.terms, want.terms, "{role}");
        assert_eq!(
            (got.clean, got.tables_scanned, got.columns_scanned),
            (want.clean, want.tables_scanned, want.columns_scanned),
            "{role}"
        );
    }
    let nobody = sweep::sweep_for(&s.db, &s.op, Some("nobody@example.com"), &[])
        .await
        .expect("sweep");
    assert!(nobody.clean && nobody.hits.is_empty());

    // An EMPLOYEE's SQL gets none of it.
    for q in [
        format!("SELECT * FROM ncy_gdpr_request_history('{id}')"),
        "SELECT ncy_gdpr_sweep_for('alice.smith@example.com', '{}')".to_owned(),
    ] {
        let err = sql(&e.db, &q).await.expect_err("EMPLOYEE");
        assert!(err.to_string().contains("permission denied"), "{q}: {err}");
    }

    // Retention: counted by ADMIN, refused before any work on an operator login, run by the owner.
    let a = by_role(&cs, "ADMIN");
    let dry = ncy_gdpr::retention::run(&a.db, &a.op, None, true, None, ncy_core::Work::none())
        .await
        .expect("ADMIN counts");
    assert!(dry.dry_run);
    let before = ncy_tests::audit_count(&db).await;
    let err = ncy_gdpr::retention::run(&a.db, &a.op, None, false, None, ncy_core::Work::none())
        .await
        .expect_err("an operator login does not run retention");
    assert!(
        matches!(&err, Error::Conflict { .. }) && err.to_string().contains("schema owner"),
        "{err}"
    );
    assert_eq!(
        ncy_tests::audit_count(&db).await,
        before,
        "nothing was written"
    );
    ncy_gdpr::retention::run(&db, &owner, None, false, None, ncy_core::Work::none())
        .await
        .expect("the owner runs retention");
}

/// The same work through PgBouncer in transaction mode, on SUPPORT's own login (SCRAM through
/// the pooler's auth_query): file and verify a request, read its history, export it (the
/// definer's rows by COPY, the subject inlined) byte for byte as the owner does directly, and
/// sweep for the subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_staff_export_and_sweep_through_pgbouncer_on_their_own_login() {
    use ncy_tests::pooler::Pooler;
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let owner = ncy_tests::login_as(&db, "admin@ncy-8.com", "admin123").await;
    let bob = person(&db, "bob.jones@example.com", "198.51.100.20", None).await;
    let alice = person(
        &db,
        "o'Alice.Smith@example.com",
        "203.0.113.7",
        Some(bob.id),
    )
    .await;
    let (pooler, purl) = Pooler::with_auth_query(&db, &url).await;
    let s = by_role(&cs, "SUPPORT");
    let pooled_url = ncy_tests::logins::url_as(
        &format!("{purl}?pgbouncer=true"),
        &s.db_role,
        ncy_tests::logins::PASSWORD,
    );
    let pdb = ncy_tests::logins::connect_as(&pooled_url)
        .await
        .unwrap_or_else(|e| panic!("SUPPORT through the pooler: {e}\n{}", pooler.log()));
    assert!(pdb.pooled());
    let op = ncy_core::auth::identify(&pdb, ncy_core::auth::Client::Cli)
        .await
        .expect("identify")
        .expect("the pooled login maps to SUPPORT");
    assert_eq!(op.user_id, s.op.user_id);
    let pooled = Conn {
        role: "SUPPORT",
        db: pdb.clone(),
        op: op.clone(),
        db_role: s.db_role.clone(),
        url: pooled_url,
    };

    let id = verified(&pooled, &alice.email, RequestKind::Export).await;
    let theirs = request::show(&pdb, &op, id).await.expect("history, pooled");
    let mine = request::show(&db, &owner, id)
        .await
        .expect("history, owner");
    assert_eq!(
        serde_json::to_value(&theirs.history).expect("json"),
        serde_json::to_value(&mine.history).expect("json")
    );

    let dir = tempfile::tempdir().expect("tmp");
    let base = export_to(&db, &owner, id, &dir.path().join("owner"))
        .await
        .expect("the owner exports directly");
    let got = export_to(&pdb, &op, id, &dir.path().join("pooled"))
        .await
        .unwrap_or_else(|e| panic!("SUPPORT exports through the pooler: {e}\n{}", pooler.log()));
    assert_eq!(got.manifest.row_counts, base.manifest.row_counts);
    same_files(
        &table_files(&dir.path().join("owner")),
        &table_files(&dir.path().join("pooled")),
        "pooled",
    );

    let ips = ["203.0.113.7".to_owned()];
    let pooled_sweep = sweep::sweep_for(&pdb, &op, Some(&alice.email), &ips)
        .await
        .expect("sweep through the pooler");
    let direct = sweep::sweep_for(&db, &owner, Some(&alice.email), &ips)
        .await
        .expect("sweep as the owner");
    assert!(!pooled_sweep.clean, "alice is still there");
    assert_eq!(
        serde_json::to_value(&pooled_sweep.hits).expect("json"),
        serde_json::to_value(&direct.hits).expect("json")
    );
    pdb.close().await;
}
