//! Four-eyes approvals through operators' own PostgreSQL logins: the database keeps the rules
//! (migration 0020) for psql as much as for the app: no self-approval, no deciding or filing in
//! someone else's name, no approval without the request's permission, no way back once decided,
//! no deletion of the queue.

// `ncy_core::params!` builds a Vec that call sites borrow as a slice.
#![allow(clippy::useless_vec)]

use ncy_approvals::{Env, Request, Status};
use ncy_core::admin::settings::{self, APPROVALS_REQUIRED};
use ncy_core::admin::{operators, users};
use ncy_core::auth::{identify, Client};
use ncy_core::db::Target;
use ncy_core::Error;
use ncy_tests::logins::{connect_as, conns, sql, url_as, Conn, PASSWORD};

mod common;
use common::ADMIN2;

fn by_role<'a>(cs: &'a [Conn], role: &str) -> &'a Conn {
    cs.iter()
        .find(|c| c.role == role)
        .unwrap_or_else(|| panic!("no {role} operator"))
}

fn refused(r: ncy_core::Result<u64>, what: &str) {
    match r {
        Err(e) => assert!(
            matches!(
                e,
                Error::Forbidden { .. } | Error::Invalid { .. } | Error::Conflict { .. }
            ) || ["denied", "violates", "42501", "23514"]
                .iter()
                .any(|k| e.to_string().contains(k)),
            "{what}: refused for the wrong reason: {e}"
        ),
        Ok(n) => panic!("{what}: the database allowed it ({n} rows)"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_keeps_four_eyes_for_operator_logins() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let cs = conns(&db, &url).await;
    let admin = by_role(&cs, "ADMIN");
    let employee = by_role(&cs, "EMPLOYEE");
    let support = by_role(&cs, "SUPPORT");
    // A second ADMIN operator with their own login.
    common::create_second_admin(&db, &admin.op).await;
    let p = operators::provision(&db, &admin.op, ADMIN2.0, Some(PASSWORD))
        .await
        .unwrap();
    let url2 = url_as(&url, &p.db_role, PASSWORD);
    let db2 = connect_as(&url2).await.unwrap();
    let admin2 = identify(&db2, Client::Cli).await.unwrap().unwrap();
    settings::set(
        &admin.db,
        &admin.op,
        APPROVALS_REQUIRED,
        r#"["users.delete"]"#,
    )
    .await
    .unwrap();

    // Filed through the operator's own login.
    let del = Request::UserDelete {
        user: "employee@test-org.com".into(),
    };
    let id = match ncy_approvals::gate(&admin.db, &admin.op, &del).await {
        Err(Error::ApprovalFiled { id, .. }) => id,
        other => panic!("expected a filed request, got {other:?}"),
    };
    let me = admin.op.user_id;
    let other = admin2.user_id;

    // psql as the requester: approving one's own request, or in someone else's name.
    refused(
        sql(&admin.db, &format!(r#"UPDATE "ApprovalRequest" SET "status" = 'APPROVED', "decided_by" = '{me}' WHERE "id" = '{id}'"#)).await,
        "self-approval",
    );
    refused(
        sql(&admin.db, &format!(r#"UPDATE "ApprovalRequest" SET "status" = 'APPROVED', "decided_by" = '{other}' WHERE "id" = '{id}'"#)).await,
        "approval in another operator's name",
    );
    // An operator without users.write cannot approve, even in their own name.
    let emp = employee.op.user_id;
    refused(
        sql(&employee.db, &format!(r#"UPDATE "ApprovalRequest" SET "status" = 'APPROVED', "decided_by" = '{emp}' WHERE "id" = '{id}'"#)).await,
        "approval without the permission",
    );
    // Filing in someone else's name, or filing already approved.
    let sup = support.op.user_id;
    refused(
        sql(&support.db, &format!(r#"INSERT INTO "ApprovalRequest" ("id", "action", "permission", "summary", "payload", "requested_by") VALUES (gen_random_uuid(), 'users.delete', 'users.write', 'x', '{{}}', '{me}')"#)).await,
        "filing as another operator",
    );
    refused(
        sql(&support.db, &format!(r#"INSERT INTO "ApprovalRequest" ("id", "action", "permission", "summary", "payload", "requested_by", "status", "decided_by") VALUES (gen_random_uuid(), 'gdpr.erase', 'gdpr.handle', 'x', '{{}}', '{sup}', 'APPROVED', '{me}')"#)).await,
        "filing pre-approved",
    );
    // Rewriting what was asked, or deleting the request.
    refused(
        sql(&admin.db, &format!(r#"UPDATE "ApprovalRequest" SET "payload" = '{{"action": "users.delete", "user": "admin@ncy-8.com"}}' WHERE "id" = '{id}'"#)).await,
        "changing the payload",
    );
    refused(
        sql(
            &admin.db,
            &format!(r#"DELETE FROM "ApprovalRequest" WHERE "id" = '{id}'"#),
        )
        .await,
        "deleting the request",
    );
    let a = ncy_approvals::get(&db, &admin.op, id).await.unwrap();
    assert_eq!(a.status, Status::Pending, "nothing above changed it");

    // The second admin approves over their own login: it runs once, as them.
    let target = Target::Postgres(url2.clone());
    let env = Env {
        db: &db2,
        target: &target,
        backup_dir: None,
    };
    let done = ncy_approvals::approve(&env, &admin2, id).await.unwrap();
    assert_eq!(done.status, Status::Executed);
    assert_eq!(done.decided_by, Some(other));
    let gone = users::get(&db, &admin.op, "employee@test-org.com")
        .await
        .unwrap()
        .user;
    assert!(gone.deleted_at.is_some());
    // No way back once decided, not even for the approver.
    refused(
        sql(&db2, &format!(r#"UPDATE "ApprovalRequest" SET "status" = 'PENDING', "decided_by" = NULL WHERE "id" = '{id}'"#)).await,
        "reopening an executed request",
    );
    refused(
        sql(
            &db2,
            &format!(r#"UPDATE "ApprovalRequest" SET "status" = 'APPROVED' WHERE "id" = '{id}'"#),
        )
        .await,
        "approving twice",
    );
    // The audit trail names both operators, each through their own login.
    let rows = db
        .query(
            r#"SELECT "action", "user_id" FROM "AuditLog" WHERE "target_table" = 'ApprovalRequest' AND "target_id" = $1 ORDER BY "created_at""#,
            &ncy_core::params![id],
        )
        .await
        .unwrap();
    let got: Vec<(String, Option<uuid::Uuid>)> = rows
        .iter()
        .map(|r| (r.text("action").unwrap(), r.opt_uuid("user_id").unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("APPROVAL_REQUEST".into(), Some(me)),
            ("APPROVAL_APPROVE".into(), Some(other)),
            ("APPROVAL_EXECUTED".into(), Some(other)),
        ]
    );
}
