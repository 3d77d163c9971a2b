//! Four-eyes approvals on both stores: an action named in `approvals.required` is filed, not
//! run; self-approval is refused; a second operator's approval runs it exactly once, audited
//! with both operators; reject and cancel close it without running it. On PostgreSQL the same
//! rules hold for operators' own logins in plain SQL.

// `ncy_core::params!` builds a Vec that call sites borrow as a slice.
#![allow(clippy::useless_vec)]

use ncy_approvals::{Env, Request, Status};
use ncy_core::admin::settings::{self, APPROVALS_BULK_MIN_ROWS, APPROVALS_REQUIRED};
use ncy_core::admin::{orgs, tasks, users};
use ncy_core::auth::{login, Client, LockoutPolicy, Operator};
use ncy_core::db::{Db, Target};
use ncy_core::{params, Error};
use ncy_gdpr::request::{self, NewRequest, RequestKind};
use ncy_tests::{conformance, Store};
use uuid::Uuid;

mod common;
use common::ADMIN2;

/// A second ADMIN, logged in.
async fn second_admin(db: &Db, admin: &Operator) -> Operator {
    common::create_second_admin(db, admin).await;
    login(
        db,
        ADMIN2.0,
        ADMIN2.1,
        Client::Cli,
        &LockoutPolicy::default(),
    )
    .await
    .unwrap()
    .operator
}

async fn require(db: &Db, admin: &Operator, actions: &str) {
    settings::set(db, admin, APPROVALS_REQUIRED, actions)
        .await
        .unwrap();
}

fn filed(e: Error) -> Uuid {
    match e {
        Error::ApprovalFiled { id, .. } => id,
        other => panic!("expected the action to be filed for approval, got {other}"),
    }
}

fn target(store: &Store) -> Target {
    match (&store.url, store.db.sqlite_path()) {
        (Some(u), _) => Target::Postgres(u.clone()),
        (None, Some(p)) => Target::Local(p.to_path_buf()),
        _ => unreachable!("a test store is one or the other"),
    }
}

async fn audit_of(db: &Db, id: Uuid) -> Vec<(String, Option<Uuid>)> {
    db.query(
        r#"SELECT "action", "user_id" FROM "AuditLog" WHERE "target_table" = 'ApprovalRequest' AND "target_id" = $1 ORDER BY "created_at", "action""#,
        &params![id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.text("action").unwrap(), r.opt_uuid("user_id").unwrap()))
    .collect()
}

conformance!(
    a_delete_waits_for_a_second_admin_and_runs_once,
    |store: Store| async move {
        let db = store.db.clone();
        let ops = ncy_tests::operators(&db).await;
        let admin = &ops.admin;
        let admin2 = second_admin(&db, admin).await;
        let t = target(&store);
        let env = Env {
            db: &db,
            target: &t,
            backup_dir: None,
        };

        // Off by default: the action runs at once.
        let off = Request::UserDelete {
            user: "system@ncy-8.com".into(),
        };
        ncy_approvals::gate(&db, admin, &off).await.unwrap();

        // Bad settings are refused with the list of known actions.
        let e = settings::set(
            &db,
            admin,
            APPROVALS_REQUIRED,
            r#"["users.delete", "drop.all"]"#,
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("gdpr.erase"), "{e}");
        assert!(settings::set(&db, admin, APPROVALS_REQUIRED, "yes")
            .await
            .is_err());
        require(&db, admin, r#"["users.delete", "orgs.delete"]"#).await;

        let del = Request::UserDelete {
            user: "employee@test-org.com".into(),
        };
        let id = filed(ncy_approvals::gate(&db, admin, &del).await.unwrap_err());
        let still = users::get(&db, admin, "employee@test-org.com")
            .await
            .unwrap();
        assert!(still.user.deleted_at.is_none(), "filed, not run");
        // Asking again finds the same pending request.
        assert_eq!(
            filed(ncy_approvals::gate(&db, admin, &del).await.unwrap_err()),
            id
        );
        // Filing needs the action's permission.
        let e = ncy_approvals::gate(&db, &ops.employee, &del)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "forbidden", "{e}");

        // Self-approval is refused; so is an approver without the permission.
        let e = ncy_approvals::approve(&env, admin, id).await.unwrap_err();
        assert_eq!(e.code(), "conflict", "{e}");
        assert!(e.to_string().contains("another operator"), "{e}");
        let e = ncy_approvals::approve(&env, &ops.manager, id)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "forbidden", "{e}");
        let a = ncy_approvals::get(&db, admin, id).await.unwrap();
        assert_eq!(a.status, Status::Pending);
        assert_eq!(a.summary, format!("delete user {}", still.user.id));
        assert!(
            !a.payload.to_string().contains('@'),
            "no email in the queue"
        );
        // The queue shows it to the second admin, not to an operator without users.write.
        let q = ncy_approvals::list(&db, &admin2, Some(Status::Pending), 50)
            .await
            .unwrap();
        assert_eq!(q.iter().map(|a| a.id).collect::<Vec<_>>(), vec![id]);
        assert!(ncy_approvals::list(&db, &ops.employee, None, 50)
            .await
            .unwrap()
            .is_empty());

        // The second admin approves: it runs once, as them.
        let done = ncy_approvals::approve(&env, &admin2, id).await.unwrap();
        assert_eq!(done.status, Status::Executed);
        assert_eq!(done.decided_by, Some(admin2.user_id));
        assert_eq!(done.requested_by, admin.user_id);
        assert!(done.executed_at.is_some() && done.result.is_some());
        let gone = users::get(&db, admin, "employee@test-org.com")
            .await
            .unwrap()
            .user;
        assert!(gone.deleted_at.is_some());
        let e = ncy_approvals::approve(&env, &admin2, id).await.unwrap_err();
        assert_eq!(e.code(), "conflict", "approved once only: {e}");
        assert!(e.to_string().contains("executed already"), "{e}");
        let deletes = db
            .query(
                r#"SELECT "user_id" FROM "AuditLog" WHERE "action" = 'USER_DELETE' AND "target_id" = $1"#,
                &params![gone.id],
            )
            .await
            .unwrap();
        assert_eq!(deletes.len(), 1, "the action ran exactly once");
        assert_eq!(
            deletes[0].opt_uuid("user_id").unwrap(),
            Some(admin2.user_id)
        );
        assert_eq!(
            audit_of(&db, id).await,
            vec![
                ("APPROVAL_REQUEST".into(), Some(admin.user_id)),
                ("APPROVAL_APPROVE".into(), Some(admin2.user_id)),
                ("APPROVAL_EXECUTED".into(), Some(admin2.user_id)),
            ]
        );
        let exec = db
            .query(
                r#"SELECT "new_value" FROM "AuditLog" WHERE "action" = 'APPROVAL_EXECUTED' AND "target_id" = $1"#,
                &params![id],
            )
            .await
            .unwrap()[0]
            .opt_json("new_value")
            .unwrap()
            .unwrap();
        assert_eq!(exec["requested_by"], admin.user_id.to_string());
        assert_eq!(exec["approved_by"], admin2.user_id.to_string());

        // Reject (with a reason) and cancel close a request without running it.
        let org = Request::OrgDelete {
            org: "test-org".into(),
        };
        let oid = filed(ncy_approvals::gate(&db, admin, &org).await.unwrap_err());
        let e = ncy_approvals::reject(&db, &admin2, oid, "  ")
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid", "{e}");
        let e = ncy_approvals::cancel(&db, &admin2, oid).await.unwrap_err();
        assert_eq!(e.code(), "conflict", "only the requester cancels: {e}");
        let r = ncy_approvals::reject(&db, &admin2, oid, "quarter end")
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.reason.as_deref()),
            (Status::Rejected, Some("quarter end"))
        );
        assert!(ncy_approvals::approve(&env, &admin2, oid).await.is_err());
        let oid2 = filed(ncy_approvals::gate(&db, admin, &org).await.unwrap_err());
        assert_ne!(oid2, oid, "a new request once the old one is closed");
        let c = ncy_approvals::cancel(&db, admin, oid2).await.unwrap();
        assert_eq!(c.status, Status::Cancelled);
        let org_now = orgs::get(&db, admin, "test-org")
            .await
            .unwrap()
            .organization;
        assert!(org_now.deleted_at.is_none());

        // An approved action that fails is recorded FAILED with its error; nothing applied.
        let twice = Request::UserDelete {
            user: "employee@test-org.com".into(),
        };
        let fid = filed(ncy_approvals::gate(&db, admin, &twice).await.unwrap_err());
        let e = ncy_approvals::approve(&env, &admin2, fid)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("already deleted"), "{e}");
        let f = ncy_approvals::get(&db, admin, fid).await.unwrap();
        assert_eq!(f.status, Status::Failed);
        assert!(f.error.unwrap().contains("already deleted"));
    }
);

conformance!(
    bulk_edits_need_approval_from_the_configured_size,
    |store: Store| async move {
        let db = store.db.clone();
        let ops = ncy_tests::operators(&db).await;
        let admin = &ops.admin;
        let admin2 = second_admin(&db, admin).await;
        let t = target(&store);
        let env = Env {
            db: &db,
            target: &t,
            backup_dir: None,
        };
        require(&db, admin, r#"["tasks.bulk_update"]"#).await;
        settings::set(&db, admin, APPROVALS_BULK_MIN_ROWS, "3")
            .await
            .unwrap();
        let ids: Vec<Uuid> = db
            .query(r#"SELECT "id" FROM "Task" ORDER BY "id" LIMIT 3"#, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.uuid("id").unwrap())
            .collect();
        assert_eq!(ids.len(), 3, "the dev seed has tasks");
        let patch = tasks::TaskPatch {
            title: Some("Reviewed in bulk".into()),
            ..Default::default()
        };
        // Two rows: under the threshold, runs at once.
        let small = Request::TaskBulkUpdate {
            ids: ids[..2].to_vec(),
            patch: patch.clone(),
        };
        ncy_approvals::gate(&db, admin, &small).await.unwrap();
        let big = Request::TaskBulkUpdate {
            ids: ids.clone(),
            patch,
        };
        let id = filed(ncy_approvals::gate(&db, admin, &big).await.unwrap_err());
        let done = ncy_approvals::approve(&env, &admin2, id).await.unwrap();
        assert_eq!(done.status, Status::Executed);
        let titles = db
            .query(
                r#"SELECT count(*) AS n FROM "Task" WHERE "title" = 'Reviewed in bulk'"#,
                &[],
            )
            .await
            .unwrap()[0]
            .int("n")
            .unwrap();
        assert_eq!(titles, 3);
    }
);

conformance!(
    an_erasure_waits_for_a_second_operator,
    |store: Store| async move {
        let db = store.db.clone();
        let ops = ncy_tests::operators(&db).await;
        let t = target(&store);
        let env = Env {
            db: &db,
            target: &t,
            backup_dir: None,
        };
        require(&db, &ops.admin, r#"["gdpr.erase"]"#).await;
        users::create(
            &db,
            &ops.admin,
            &users::NewUser {
                email: "leaving@example.com".into(),
                role: None,
                status: None,
                password: Some("password-123".into()),
            },
        )
        .await
        .unwrap();
        let rid = request::create(
            &db,
            &ops.support,
            NewRequest {
                user: "leaving@example.com".into(),
                kind: RequestKind::Erasure,
                notes: None,
            },
        )
        .await
        .unwrap()
        .id;
        request::verify_identity(&db, &ops.support, rid, "ID card checked")
            .await
            .unwrap();
        let erase = Request::GdprErase {
            request_id: rid,
            confirm: "leaving@example.com".into(),
            backup_retention_days: 30,
        };
        let id = filed(
            ncy_approvals::gate(&db, &ops.support, &erase)
                .await
                .unwrap_err(),
        );
        let subject = users::get(&db, &ops.admin, "leaving@example.com").await;
        assert!(subject.is_ok(), "not erased while pending");
        let e = ncy_approvals::approve(&env, &ops.support, id)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("another operator"), "{e}");
        let done = ncy_approvals::approve(&env, &ops.admin, id).await.unwrap();
        assert_eq!(done.status, Status::Executed);
        assert_eq!(done.result.as_ref().unwrap()["sweep"]["clean"], true);
        assert!(
            users::get(&db, &ops.admin, "leaving@example.com")
                .await
                .is_err(),
            "the subject's email is gone"
        );
    }
);
