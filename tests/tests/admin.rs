//! The administration core on both stores: every mutation writes exactly one matching audit
//! row and a failed one writes nothing; the RBAC matrix (every operation × every built-in
//! role); bad input gives a clear error naming the field and changes nothing.

use futures_util::future::BoxFuture;
use ncy_core::admin::logs;
use ncy_core::admin::orgs;
use ncy_core::admin::projects::{self, ProjectPatch};
use ncy_core::admin::tasks::{self, NewTask, TaskFilter, TaskPatch};
use ncy_core::admin::users::{self, NewUser, UserFilter, UserPatch};
use ncy_core::audit::query::{self as audit_query, AuditFilter, Format};
use ncy_core::auth::{perm, rbac, Operator};
use ncy_core::db::Db;
use ncy_core::model::{OrgRole, ProjectStatus, TaskPriority, TaskStatus, UserRole, UserStatus};
use ncy_core::Error;
use ncy_tests::{audit_count, conformance, operators, state, Store};
use uuid::Uuid;

type Op = for<'a> fn(&'a Fx, &'a Operator, u32) -> BoxFuture<'a, Result<(), Error>>;

/// Fixture: a seeded store plus an admin who prepares targets.
struct Fx {
    db: Db,
    admin: Operator,
    project: Uuid,
    manager_email: String,
}

impl Fx {
    async fn user(&self, i: u32, tag: &str) -> String {
        let email = format!("{tag}{i}@fixture.test");
        users::create(
            &self.db,
            &self.admin,
            &NewUser {
                email: email.clone(),
                role: None,
                status: None,
                password: Some("password-123".into()),
            },
        )
        .await
        .expect("fixture user");
        email
    }
    async fn org(&self, i: u32, tag: &str) -> String {
        let slug = format!("{tag}-{i}");
        // Owned by the manager: the matrix checks RBAC, so their org role must allow it all.
        orgs::create(
            &self.db,
            &self.admin,
            "Fixture Org",
            &slug,
            &self.manager_email,
            None,
        )
        .await
        .expect("fixture org");
        slug
    }
    async fn task(&self) -> Uuid {
        tasks::create(
            &self.db,
            &self.admin,
            &NewTask {
                project_id: self.project,
                title: "fixture task".into(),
                ..Default::default()
            },
        )
        .await
        .expect("fixture task")
        .id
    }
}

macro_rules! op {
    (|$fx:ident, $op:ident, $i:ident| $body:block) => {{
        fn f<'a>($fx: &'a Fx, $op: &'a Operator, $i: u32) -> BoxFuture<'a, Result<(), Error>> {
            let _ = (&$fx, &$op, &$i);
            Box::pin(async move { $body })
        }
        f as Op
    }};
}

/// (name, permissions any of which allows it, whether it mutates, the operation).
fn operations() -> Vec<(&'static str, Vec<&'static str>, bool, Op)> {
    vec![
        (
            "users list",
            vec![perm::USERS_READ],
            false,
            op!(|fx, op, i| {
                users::list(&fx.db, op, &UserFilter::default(), 10, None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "users show",
            vec![perm::USERS_READ],
            false,
            op!(|fx, op, i| { users::get(&fx.db, op, "admin@ncy-8.com").await.map(|_| ()) }),
        ),
        (
            "users create",
            vec![perm::USERS_WRITE],
            true,
            op!(|fx, op, i| {
                users::create(
                    &fx.db,
                    op,
                    &NewUser {
                        email: format!("created{i}@x.test"),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ())
            }),
        ),
        (
            "users update",
            vec![perm::USERS_WRITE],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "upd").await;
                users::update(
                    &fx.db,
                    op,
                    &e,
                    &UserPatch {
                        status: Some(UserStatus::INACTIVE),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ())
            }),
        ),
        (
            "users suspend",
            vec![perm::USERS_WRITE],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "sus").await;
                users::suspend(&fx.db, op, &e).await.map(|_| ())
            }),
        ),
        (
            "users reactivate",
            vec![perm::USERS_WRITE],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "rea").await;
                users::suspend(&fx.db, &fx.admin, &e).await.expect("setup");
                users::reactivate(&fx.db, op, &e).await.map(|_| ())
            }),
        ),
        (
            "users delete",
            vec![perm::USERS_WRITE],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "del").await;
                users::delete(&fx.db, op, &e).await.map(|_| ())
            }),
        ),
        (
            "users restore",
            vec![perm::USERS_WRITE],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "res").await;
                users::delete(&fx.db, &fx.admin, &e).await.expect("setup");
                users::restore(&fx.db, op, &e).await.map(|_| ())
            }),
        ),
        (
            "users reset-password",
            vec![perm::USERS_CREDENTIALS],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "rp").await;
                users::reset_password(&fx.db, op, &e).await.map(|_| ())
            }),
        ),
        (
            "users sessions",
            vec![perm::USERS_READ],
            false,
            op!(|fx, op, i| {
                users::sessions(&fx.db, op, "admin@ncy-8.com")
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "users revoke-session",
            vec![perm::USERS_CREDENTIALS],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "rs").await;
                let s = ncy_core::auth::login(
                    &fx.db,
                    &e,
                    "password-123",
                    ncy_core::auth::Client::Cli,
                    &Default::default(),
                )
                .await
                .expect("setup")
                .session_id;
                users::revoke_session(&fx.db, op, s).await
            }),
        ),
        (
            "users api-keys",
            vec![perm::USERS_READ],
            false,
            op!(|fx, op, i| {
                users::api_keys(&fx.db, op, "admin@ncy-8.com")
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "users create-api-key",
            vec![perm::USERS_CREDENTIALS],
            true,
            op!(|fx, op, i| {
                users::create_api_key(&fx.db, op, "admin@ncy-8.com", &["tasks.read".into()], None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "users revoke-api-key",
            vec![perm::USERS_CREDENTIALS],
            true,
            op!(|fx, op, i| {
                let k = users::create_api_key(
                    &fx.db,
                    &fx.admin,
                    "admin@ncy-8.com",
                    &["a".into()],
                    None,
                )
                .await
                .expect("setup");
                users::revoke_api_key(&fx.db, op, k.key.id).await
            }),
        ),
        (
            "users grant-role",
            vec![perm::ROLES_WRITE],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "gr").await;
                users::grant_role(&fx.db, op, &e, "SUPPORT").await
            }),
        ),
        (
            "users revoke-role",
            vec![perm::ROLES_WRITE],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "rr").await;
                users::grant_role(&fx.db, &fx.admin, &e, "SUPPORT")
                    .await
                    .expect("setup");
                users::revoke_role(&fx.db, op, &e, "SUPPORT").await
            }),
        ),
        (
            "orgs list",
            vec![perm::ORGS_READ],
            false,
            op!(|fx, op, i| {
                orgs::list(&fx.db, op, None, false, 10, None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "orgs show",
            vec![perm::ORGS_READ],
            false,
            op!(|fx, op, i| { orgs::get(&fx.db, op, "test-org").await.map(|_| ()) }),
        ),
        (
            "orgs create",
            vec![perm::ORGS_WRITE],
            true,
            op!(|fx, op, i| {
                // As its owner: only a global role creates one for someone else.
                orgs::create(&fx.db, op, "New", &format!("new-{i}"), &op.email, None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "orgs rename",
            vec![perm::ORGS_WRITE],
            true,
            op!(|fx, op, i| {
                let s = fx.org(i, "ren").await;
                orgs::rename(&fx.db, op, &s, "Renamed").await.map(|_| ())
            }),
        ),
        (
            "orgs settings",
            vec![perm::ORGS_WRITE],
            true,
            op!(|fx, op, i| {
                let s = fx.org(i, "set").await;
                orgs::set_settings(&fx.db, op, &s, serde_json::json!({"theme": "dark"}))
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "orgs transfer",
            vec![perm::ORGS_WRITE],
            true,
            op!(|fx, op, i| {
                let s = fx.org(i, "tra").await;
                let to = fx.user(i, "tra").await;
                orgs::transfer(&fx.db, op, &s, &to).await.map(|_| ())
            }),
        ),
        (
            "orgs delete",
            vec![perm::ORGS_WRITE],
            true,
            op!(|fx, op, i| {
                let s = fx.org(i, "odel").await;
                orgs::delete(&fx.db, op, &s).await.map(|_| ())
            }),
        ),
        (
            "orgs restore",
            vec![perm::ORGS_WRITE],
            true,
            op!(|fx, op, i| {
                let s = fx.org(i, "ores").await;
                orgs::delete(&fx.db, &fx.admin, &s).await.expect("setup");
                orgs::restore(&fx.db, op, &s).await.map(|_| ())
            }),
        ),
        (
            "orgs members list",
            vec![perm::ORGS_READ],
            false,
            op!(|fx, op, i| { orgs::list_members(&fx.db, op, "test-org").await.map(|_| ()) }),
        ),
        (
            "orgs members add",
            vec![perm::ORGS_WRITE],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "madd").await;
                orgs::set_member(&fx.db, op, "test-org", &e, OrgRole::MEMBER).await
            }),
        ),
        (
            "orgs members remove",
            vec![perm::ORGS_WRITE],
            true,
            op!(|fx, op, i| {
                let e = fx.user(i, "mrem").await;
                orgs::set_member(&fx.db, &fx.admin, "test-org", &e, OrgRole::MEMBER)
                    .await
                    .expect("setup");
                orgs::remove_member(&fx.db, op, "test-org", &e).await
            }),
        ),
        (
            "teams list",
            vec![perm::TEAMS_READ],
            false,
            op!(|fx, op, i| { orgs::list_teams(&fx.db, op, "test-org").await.map(|_| ()) }),
        ),
        (
            "teams create",
            vec![perm::TEAMS_WRITE],
            true,
            op!(|fx, op, i| {
                orgs::create_team(&fx.db, op, "test-org", &format!("Team {i}"), None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "teams rename",
            vec![perm::TEAMS_WRITE],
            true,
            op!(|fx, op, i| {
                orgs::create_team(&fx.db, &fx.admin, "test-org", &format!("R{i}"), None)
                    .await
                    .expect("setup");
                orgs::rename_team(
                    &fx.db,
                    op,
                    "test-org",
                    &format!("R{i}"),
                    &format!("R{i} renamed"),
                )
                .await
            }),
        ),
        (
            "teams delete",
            vec![perm::TEAMS_WRITE],
            true,
            op!(|fx, op, i| {
                orgs::create_team(&fx.db, &fx.admin, "test-org", &format!("D{i}"), None)
                    .await
                    .expect("setup");
                orgs::delete_team(&fx.db, op, "test-org", &format!("D{i}")).await
            }),
        ),
        (
            "teams add-member",
            vec![perm::TEAMS_WRITE],
            true,
            op!(|fx, op, i| {
                orgs::create_team(&fx.db, &fx.admin, "test-org", &format!("A{i}"), None)
                    .await
                    .expect("setup");
                orgs::team_member(
                    &fx.db,
                    op,
                    "test-org",
                    &format!("A{i}"),
                    &fx.manager_email,
                    true,
                )
                .await
            }),
        ),
        (
            "teams remove-member",
            vec![perm::TEAMS_WRITE],
            true,
            op!(|fx, op, i| {
                let _ = orgs::team_member(
                    &fx.db,
                    &fx.admin,
                    "test-org",
                    "Core Team",
                    "employee@test-org.com",
                    true,
                )
                .await;
                orgs::team_member(
                    &fx.db,
                    op,
                    "test-org",
                    "Core Team",
                    "employee@test-org.com",
                    false,
                )
                .await
            }),
        ),
        (
            "projects list",
            vec![perm::PROJECTS_READ],
            false,
            op!(|fx, op, i| {
                projects::list(&fx.db, op, Some("test-org"), None, false, 10, None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "projects show",
            vec![perm::PROJECTS_READ],
            false,
            op!(|fx, op, i| { projects::get(&fx.db, op, fx.project).await.map(|_| ()) }),
        ),
        (
            "projects create",
            vec![perm::PROJECTS_WRITE],
            true,
            op!(|fx, op, i| {
                projects::create(&fx.db, op, "test-org", &format!("P{i}"), None, None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "projects update",
            vec![perm::PROJECTS_WRITE],
            true,
            op!(|fx, op, i| {
                let p =
                    projects::create(&fx.db, &fx.admin, "test-org", &format!("U{i}"), None, None)
                        .await
                        .expect("setup");
                projects::update(
                    &fx.db,
                    op,
                    p.id,
                    &ProjectPatch {
                        status: Some(ProjectStatus::INACTIVE),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ())
            }),
        ),
        (
            "projects archive",
            vec![perm::PROJECTS_WRITE],
            true,
            op!(|fx, op, i| {
                let p =
                    projects::create(&fx.db, &fx.admin, "test-org", &format!("Ar{i}"), None, None)
                        .await
                        .expect("setup");
                projects::archive(&fx.db, op, p.id).await.map(|_| ())
            }),
        ),
        (
            "projects delete",
            vec![perm::PROJECTS_WRITE],
            true,
            op!(|fx, op, i| {
                let p =
                    projects::create(&fx.db, &fx.admin, "test-org", &format!("Pd{i}"), None, None)
                        .await
                        .expect("setup");
                projects::delete(&fx.db, op, p.id).await.map(|_| ())
            }),
        ),
        (
            "tasks list",
            vec![perm::TASKS_READ, perm::TASKS_READ_OWN],
            false,
            op!(|fx, op, i| {
                tasks::list(&fx.db, op, &TaskFilter::default(), 10, None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "tasks show",
            vec![perm::TASKS_READ],
            false,
            op!(|fx, op, i| {
                let t = fx.task().await;
                tasks::get(&fx.db, op, t).await.map(|_| ())
            }),
        ),
        (
            "tasks create",
            vec![perm::TASKS_WRITE],
            true,
            op!(|fx, op, i| {
                tasks::create(
                    &fx.db,
                    op,
                    &NewTask {
                        project_id: fx.project,
                        title: format!("T{i}"),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ())
            }),
        ),
        (
            "tasks update",
            vec![perm::TASKS_WRITE],
            true,
            op!(|fx, op, i| {
                let t = fx.task().await;
                tasks::update(
                    &fx.db,
                    op,
                    t,
                    &TaskPatch {
                        title: Some(format!("renamed {i}")),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ())
            }),
        ),
        (
            "tasks bulk-update",
            vec![perm::TASKS_WRITE],
            true,
            op!(|fx, op, i| {
                let t = fx.task().await;
                tasks::bulk_update(
                    &fx.db,
                    op,
                    &[t],
                    &TaskPatch {
                        priority: Some(TaskPriority::URGENT),
                        ..Default::default()
                    },
                    ncy_core::Work::none(),
                )
                .await
                .map(|_| ())
            }),
        ),
        (
            "tasks delete",
            vec![perm::TASKS_WRITE],
            true,
            op!(|fx, op, i| {
                let t = fx.task().await;
                tasks::delete(&fx.db, op, t).await.map(|_| ())
            }),
        ),
        (
            "audit list",
            vec![perm::AUDIT_READ],
            false,
            op!(|fx, op, i| {
                audit_query::list(&fx.db, op, &AuditFilter::default(), 10, None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "audit export",
            vec![perm::AUDIT_READ],
            false,
            op!(|fx, op, i| {
                let mut out = Vec::new();
                audit_query::export(
                    &fx.db,
                    op,
                    &AuditFilter::default(),
                    Format::Json,
                    &mut out,
                    ncy_core::Work::none(),
                )
                .await
                .map(|_| ())
            }),
        ),
        (
            "logs access",
            vec![perm::LOGS_READ],
            false,
            op!(|fx, op, i| {
                logs::access(&fx.db, op, &Default::default(), 10, None)
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "logs error",
            vec![perm::LOGS_READ],
            false,
            op!(|fx, op, i| {
                logs::errors(&fx.db, op, &Default::default(), 10, None)
                    .await
                    .map(|_| ())
            }),
        ),
    ]
}

async fn fixture(store: &Store) -> (Fx, ncy_tests::Operators) {
    let ops = operators(&store.db).await;
    let p = projects::list(
        &store.db,
        &ops.admin,
        Some("test-org"),
        None,
        false,
        10,
        None,
    )
    .await
    .unwrap();
    let fx = Fx {
        db: store.db.clone(),
        admin: ops.admin.clone(),
        project: p.items[0].id,
        manager_email: "manager@test-org.com".into(),
    };
    // The seed's manager is the organization's MANAGER; editing its members takes ADMIN.
    orgs::set_member(
        &fx.db,
        &fx.admin,
        "test-org",
        &fx.manager_email,
        OrgRole::ADMIN,
    )
    .await
    .expect("manager made org ADMIN");
    (fx, ops)
}

conformance!(
    rbac_matrix_every_operation_every_role,
    |store: Store| async move {
        let (fx, ops) = fixture(&store).await;
        let mut i = 0;
        let mut checked = 0;
        for (name, perms, _, f) in operations() {
            for (role, op) in ops.all() {
                i += 1;
                let granted = rbac::builtin_permissions(role);
                let allowed = perms.iter().any(|p| granted.contains(p));
                let before = audit_count(&fx.db).await;
                let r = f(&fx, op, i).await;
                match (allowed, &r) {
                    (true, Ok(())) => {}
                    (false, Err(Error::Forbidden { permission })) => {
                        let domain = perms[0].split('.').next().unwrap_or("");
                        assert!(
                        perms.contains(&permission.as_str()) || permission.starts_with(&format!("{domain}.")),
                        "{name} as {role}: Forbidden names {permission}, expected one of {perms:?}"
                    );
                        let _ = before;
                    }
                    _ => panic!(
                        "{name} as {role}: expected {}, got {r:?}",
                        if allowed { "allowed" } else { "Forbidden" }
                    ),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, operations().len() * 5);
    }
);

conformance!(
    every_mutation_writes_exactly_one_matching_audit_row,
    |store: Store| async move {
        let (fx, ops) = fixture(&store).await;
        let mut i = 1000;
        for (name, _, mutates, f) in operations() {
            if !mutates {
                continue;
            }
            i += 1;
            // Run the operation's own setup first (by running it as a forbidden operator, setup
            // happens and the operation is refused), then count, then run it for real: the delta
            // is exactly the operation's own rows.
            let ids_before: std::collections::HashSet<String> = fx
                .db
                .query(r#"SELECT "id" FROM "AuditLog""#, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.text("id").unwrap())
                .collect();
            f(&fx, &ops.admin, i)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let rows = fx
            .db
            .query(r#"SELECT "id", "action", "user_id", "user_agent", "old_value", "new_value" FROM "AuditLog""#, &[])
            .await
            .unwrap();
            let new_rows: Vec<_> = rows
                .iter()
                .filter(|r| !ids_before.contains(&r.text("id").unwrap()))
                .collect();
            assert!(!new_rows.is_empty(), "{name}: no audit row");
            for last in new_rows
                .iter()
                .filter(|r| r.text("action").unwrap() != "LOGIN")
            {
                assert_eq!(
                    last.uuid("user_id").unwrap(),
                    ops.admin.user_id,
                    "{name}: operator recorded as user_id"
                );
                assert!(
                    last.text("user_agent").unwrap().starts_with("ncy-admin/"),
                    "{name}: user agent"
                );
                let text = format!(
                    "{:?}{:?}",
                    last.opt_json("old_value").unwrap(),
                    last.opt_json("new_value").unwrap()
                );
                assert!(
                    !text.contains("$argon2") && !text.contains("ncyk_"),
                    "{name}: secrets never reach the audit log: {text}"
                );
            }
            let expected_action_prefix = name.split(' ').next().unwrap_or("");
            let family = new_rows.iter().any(|r| {
                let action = r.text("action").unwrap();
                match expected_action_prefix {
                    "users" => ["USER_", "SESSION_", "API_KEY_", "ROLE_"]
                        .iter()
                        .any(|p| action.starts_with(p)),
                    "orgs" => action.starts_with("ORG_"),
                    "teams" => action.starts_with("TEAM_"),
                    "projects" => action.starts_with("PROJECT_"),
                    "tasks" => action.starts_with("TASK_"),
                    _ => false,
                }
            });
            let action = new_rows
                .iter()
                .map(|r| r.text("action").unwrap())
                .collect::<Vec<_>>()
                .join(",");
            assert!(family, "{name}: last audit action {action}");
        }
    }
);

conformance!(
    exactly_one_audit_row_per_operation_counted_precisely,
    |store: Store| async move {
        let (fx, ops) = fixture(&store).await;
        let db = &fx.db;
        let a = &ops.admin;
        macro_rules! one_row {
            ($what:expr, $e:expr) => {{
                let before = audit_count(db).await;
                let r = $e;
                assert_eq!(
                    audit_count(db).await,
                    before + 1,
                    "{} writes exactly one audit row",
                    $what
                );
                r
            }};
        }
        let u = one_row!(
            "user create",
            users::create(
                db,
                a,
                &NewUser {
                    email: "one@x.test".into(),
                    ..Default::default()
                }
            )
            .await
            .unwrap()
        );
        one_row!(
            "user update",
            users::update(
                db,
                a,
                "one@x.test",
                &UserPatch {
                    role: Some(UserRole::MANAGER),
                    ..Default::default()
                }
            )
            .await
            .unwrap()
        );
        one_row!(
            "user suspend",
            users::suspend(db, a, "one@x.test").await.unwrap()
        );
        one_row!(
            "user reactivate",
            users::reactivate(db, a, "one@x.test").await.unwrap()
        );
        one_row!(
            "reset password",
            users::reset_password(db, a, "one@x.test").await.unwrap()
        );
        let k = one_row!(
            "api key",
            users::create_api_key(db, a, "one@x.test", &["x".into()], None)
                .await
                .unwrap()
        );
        one_row!(
            "api key revoke",
            users::revoke_api_key(db, a, k.key.id).await.unwrap()
        );
        one_row!(
            "grant",
            users::grant_role(db, a, "one@x.test", "SUPPORT")
                .await
                .unwrap()
        );
        one_row!(
            "revoke",
            users::revoke_role(db, a, "one@x.test", "SUPPORT")
                .await
                .unwrap()
        );
        one_row!("delete", users::delete(db, a, "one@x.test").await.unwrap());
        one_row!(
            "restore",
            users::restore(db, a, &u.user.id.to_string()).await.unwrap()
        );
        let o = one_row!(
            "org create",
            orgs::create(
                db,
                a,
                "Acme",
                "acme",
                "one@x.test",
                Some(serde_json::json!({"tier": 1}))
            )
            .await
            .unwrap()
        );
        one_row!(
            "org rename",
            orgs::rename(db, a, "acme", "Acme Corp").await.unwrap()
        );
        one_row!(
            "org settings",
            orgs::set_settings(db, a, "acme", serde_json::json!({"tier": 2}))
                .await
                .unwrap()
        );
        one_row!(
            "member add",
            orgs::set_member(db, a, "acme", "manager@test-org.com", OrgRole::MEMBER)
                .await
                .unwrap()
        );
        one_row!(
            "member role",
            orgs::set_member(db, a, "acme", "manager@test-org.com", OrgRole::ADMIN)
                .await
                .unwrap()
        );
        one_row!(
            "transfer",
            orgs::transfer(db, a, "acme", "manager@test-org.com")
                .await
                .unwrap()
        );
        one_row!(
            "team create",
            orgs::create_team(db, a, "acme", "Ops", Some("on call"))
                .await
                .unwrap()
        );
        one_row!(
            "team member",
            orgs::team_member(db, a, "acme", "Ops", "manager@test-org.com", true)
                .await
                .unwrap()
        );
        one_row!(
            "team rename",
            orgs::rename_team(db, a, "acme", "Ops", "SRE")
                .await
                .unwrap()
        );
        one_row!(
            "team delete",
            orgs::delete_team(db, a, "acme", "SRE").await.unwrap()
        );
        let p = one_row!(
            "project create",
            projects::create(db, a, &o.id.to_string(), "Launch", None, None)
                .await
                .unwrap()
        );
        one_row!(
            "project archive",
            projects::archive(db, a, p.id).await.unwrap()
        );
        let t = one_row!(
            "task create",
            tasks::create(
                db,
                a,
                &NewTask {
                    project_id: p.id,
                    title: "Ship".into(),
                    ..Default::default()
                }
            )
            .await
            .unwrap()
        );
        one_row!(
            "task update",
            tasks::update(
                db,
                a,
                t.id,
                &TaskPatch {
                    status: Some(TaskStatus::DONE),
                    ..Default::default()
                }
            )
            .await
            .unwrap()
        );
        one_row!("task delete", tasks::delete(db, a, t.id).await.unwrap());
        one_row!("task restore", tasks::restore(db, a, t.id).await.unwrap());
        one_row!("org delete", orgs::delete(db, a, "acme").await.unwrap());

        // The update's audit row holds only the changed fields.
        let rows = db
        .query(r#"SELECT "old_value", "new_value" FROM "AuditLog" WHERE "action" = 'TASK_UPDATE' AND "target_id" = $1"#, &ncy_core::params![t.id])
        .await
        .unwrap();
        assert_eq!(
            rows[0].opt_json("old_value").unwrap().unwrap(),
            serde_json::json!({"status": "TODO"})
        );
        assert_eq!(
            rows[0].opt_json("new_value").unwrap().unwrap(),
            serde_json::json!({"status": "DONE"})
        );

        // A no-op update writes nothing at all.
        let before = audit_count(db).await;
        tasks::update(
            db,
            a,
            t.id,
            &TaskPatch {
                status: Some(TaskStatus::DONE),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(audit_count(db).await, before);
    }
);

conformance!(failed_operations_write_nothing, |store: Store| async move {
    let (fx, ops) = fixture(&store).await;
    let db = &fx.db;
    let a = &ops.admin;
    let before = state(db).await;
    let long = "x".repeat(256);
    let failures: Vec<(&str, Result<(), Error>)> = vec![
        (
            "email",
            users::create(
                db,
                a,
                &NewUser {
                    email: "not-an-email".into(),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "email",
            users::create(
                db,
                a,
                &NewUser {
                    email: "ADMIN@ncy-8.com".into(),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "email",
            users::create(
                db,
                a,
                &NewUser {
                    email: format!("{}@x.io", "a".repeat(300)),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "password",
            users::create(
                db,
                a,
                &NewUser {
                    email: "short@x.io".into(),
                    password: Some("short".into()),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "email",
            users::update(
                db,
                a,
                "employee@test-org.com",
                &UserPatch {
                    email: Some("manager@test-org.com".into()),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "user",
            users::update(
                db,
                a,
                "nobody@nowhere.test",
                &UserPatch {
                    status: Some(UserStatus::ACTIVE),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "user",
            users::suspend(db, a, "admin@ncy-8.com").await.map(|_| ()),
        ),
        (
            "user",
            users::delete(db, a, &Uuid::new_v4().to_string())
                .await
                .map(|_| ()),
        ),
        (
            "role",
            users::grant_role(db, a, "employee@test-org.com", "KING").await,
        ),
        (
            "scopes",
            users::create_api_key(db, a, "employee@test-org.com", &["bad scope!".into()], None)
                .await
                .map(|_| ()),
        ),
        (
            "slug",
            orgs::create(db, a, "Dup", "test-org", "admin@ncy-8.com", None)
                .await
                .map(|_| ()),
        ),
        (
            "slug",
            orgs::create(
                db,
                a,
                "Bad",
                "Bad Slug'; DROP TABLE \"User\";--",
                "admin@ncy-8.com",
                None,
            )
            .await
            .map(|_| ()),
        ),
        (
            "name",
            orgs::create(db, a, &long, "long-name", "admin@ncy-8.com", None)
                .await
                .map(|_| ()),
        ),
        (
            "settings",
            orgs::set_settings(db, a, "test-org", serde_json::json!([1, 2]))
                .await
                .map(|_| ()),
        ),
        (
            "organization",
            orgs::rename(db, a, "no-such-org", "X").await.map(|_| ()),
        ),
        (
            "role",
            orgs::set_member(db, a, "test-org", "employee@test-org.com", OrgRole::OWNER).await,
        ),
        (
            "owner",
            orgs::transfer(db, a, "test-org", "admin@ncy-8.com")
                .await
                .map(|_| ()),
        ),
        (
            "title",
            tasks::create(
                db,
                a,
                &NewTask {
                    project_id: fx.project,
                    title: long.clone(),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "title",
            tasks::create(
                db,
                a,
                &NewTask {
                    project_id: fx.project,
                    title: "  ".into(),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "project",
            tasks::create(
                db,
                a,
                &NewTask {
                    project_id: Uuid::new_v4(),
                    title: "x".into(),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "assignee",
            tasks::create(
                db,
                a,
                &NewTask {
                    project_id: fx.project,
                    title: "x".into(),
                    assignee_id: Some(Uuid::new_v4()),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "metadata",
            tasks::create(
                db,
                a,
                &NewTask {
                    project_id: fx.project,
                    title: "x".into(),
                    metadata: Some(serde_json::json!("str")),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "task",
            tasks::update(
                db,
                a,
                Uuid::new_v4(),
                &TaskPatch {
                    status: Some(TaskStatus::DONE),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        ),
        (
            "cursor",
            users::list(db, a, &UserFilter::default(), 10, Some("not-a-cursor"))
                .await
                .map(|_| ()),
        ),
        (
            "limit",
            users::list(db, a, &UserFilter::default(), 0, None)
                .await
                .map(|_| ()),
        ),
    ];
    for (field, r) in failures {
        let e = r.expect_err(field);
        let msg = e.to_string();
        assert!(
            msg.to_lowercase().contains(field) || matches!(e, Error::NotFound { .. }),
            "error should name the field {field:?}: {msg}"
        );
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
    assert_eq!(
        state(db).await,
        before,
        "failed operations changed nothing and wrote no audit row"
    );
    // A bulk update that fails on its last id changes nothing at all.
    let t1 = fx.task().await;
    let mid = state(db).await;
    let r = tasks::bulk_update(
        db,
        a,
        &[t1, Uuid::new_v4()],
        &TaskPatch {
            status: Some(TaskStatus::DONE),
            ..Default::default()
        },
        ncy_core::Work::none(),
    )
    .await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    assert_eq!(state(db).await, mid, "failed bulk update left no trace");
});

conformance!(
    text_fields_keep_unicode_and_sql_metacharacters_verbatim,
    |store: Store| async move {
        let (fx, ops) = fixture(&store).await;
        let a = &ops.admin;
        let tricky = "Robert'); DROP TABLE \"Task\";-- 日本語 ✓ émoji 🎉 \\ % _";
        let t = tasks::create(
            &fx.db,
            a,
            &NewTask {
                project_id: fx.project,
                title: tricky.into(),
                description: Some(format!("{tricky}\nline two")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let back = tasks::get(&fx.db, a, t.id).await.unwrap();
        assert_eq!(back.title, tricky);
        let found = tasks::list(
            &fx.db,
            a,
            &TaskFilter {
                search: Some("DROP TABLE \"Task\";-- 日本".into()),
                ..Default::default()
            },
            10,
            None,
        )
        .await
        .unwrap();
        assert_eq!(
            found.items.len(),
            1,
            "search treats metacharacters literally"
        );
        let pct = tasks::list(
            &fx.db,
            a,
            &TaskFilter {
                search: Some("%".into()),
                ..Default::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
        assert_eq!(pct.items.len(), 1, "% is a literal, not a wildcard");
        let e = users::create(
            &fx.db,
            a,
            &NewUser {
                email: "o'brien+tag@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            users::get(&fx.db, a, "O'Brien+tag@example.com")
                .await
                .unwrap()
                .user
                .id,
            e.user.id
        );
        let org = orgs::create(
            &fx.db,
            a,
            "Zürich — 東京 ✓",
            "zurich-tokyo",
            "admin@ncy-8.com",
            Some(serde_json::json!({"note": "'; --"})),
        )
        .await
        .unwrap();
        assert_eq!(
            orgs::get(&fx.db, a, "zurich-tokyo")
                .await
                .unwrap()
                .organization
                .name,
            org.name
        );
    }
);

conformance!(
    keyset_pages_cover_every_row_once_in_order,
    |store: Store| async move {
        let (fx, ops) = fixture(&store).await;
        ncy_core::seed::synthetic(
            &fx.db,
            ncy_core::seed::SyntheticSpec {
                users: 1234,
                orgs: 5,
                tasks: 0,
                audit: 0,
                seed: 3,
            },
            true,
        )
        .await
        .unwrap();
        let total = fx
            .db
            .query(
                r#"SELECT count(*) AS n FROM "User" WHERE "deleted_at" IS NULL"#,
                &[],
            )
            .await
            .unwrap()[0]
            .int("n")
            .unwrap();
        let mut seen = std::collections::HashSet::new();
        let mut after: Option<String> = None;
        let mut last: Option<(chrono::NaiveDateTime, Uuid)> = None;
        loop {
            let p = users::list(
                &fx.db,
                &ops.admin,
                &UserFilter::default(),
                100,
                after.as_deref(),
            )
            .await
            .unwrap();
            for u in &p.items {
                assert!(seen.insert(u.id), "no row twice");
                if let Some(l) = last {
                    assert!(
                        (u.created_at, u.id) < l,
                        "strictly descending (created_at, id)"
                    );
                }
                last = Some((u.created_at, u.id));
            }
            match p.next_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len() as i64, total);
        // Filters combine with paging.
        let org = users::list(
            &fx.db,
            &ops.admin,
            &UserFilter {
                org: Some("synthetic-org-1".into()),
                ..Default::default()
            },
            1000,
            None,
        )
        .await
        .unwrap();
        assert!(!org.items.is_empty() && org.items.len() < 1234);
        let active = users::list(
            &fx.db,
            &ops.admin,
            &UserFilter {
                status: Some(UserStatus::SUSPENDED),
                role: Some(UserRole::EMPLOYEE),
                ..Default::default()
            },
            1000,
            None,
        )
        .await
        .unwrap();
        assert!(active
            .items
            .iter()
            .all(|u| u.status == UserStatus::SUSPENDED && u.role == UserRole::EMPLOYEE));
        let s = users::list(
            &fx.db,
            &ops.admin,
            &UserFilter {
                search: Some("USER000001".into()),
                include_deleted: true,
                ..Default::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
        assert_eq!(s.items.len(), 10, "case-insensitive email search");
    }
);

conformance!(
    bulk_update_of_ten_thousand_tasks_is_one_transaction,
    |store: Store| async move {
        let (fx, ops) = fixture(&store).await;
        ncy_core::seed::synthetic(
            &fx.db,
            ncy_core::seed::SyntheticSpec {
                users: 50,
                orgs: 2,
                tasks: 10_000,
                audit: 0,
                seed: 9,
            },
            true,
        )
        .await
        .unwrap();
        let ids: Vec<Uuid> = fx
        .db
        .query(r#"SELECT "id" FROM "Task" WHERE "title" LIKE 'Task %' AND "status" <> 'CANCELLED'"#, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.uuid("id").unwrap())
        .collect();
        let n = ids.len() as i64;
        assert!(n > 8000);
        let before = audit_count(&fx.db).await;
        let progress = std::sync::atomic::AtomicU64::new(0);
        let rep = tasks::bulk_update(
            &fx.db,
            &ops.admin,
            &ids,
            &TaskPatch {
                status: Some(TaskStatus::CANCELLED),
                ..Default::default()
            },
            ncy_core::Work::new(
                &|p: ncy_core::Progress| {
                    progress.store(p.done, std::sync::atomic::Ordering::Relaxed)
                },
                None,
            ),
        )
        .await
        .unwrap();
        assert_eq!(rep.updated as i64, n);
        assert_eq!(
            progress.load(std::sync::atomic::Ordering::Relaxed) as i64,
            n
        );
        assert_eq!(
            audit_count(&fx.db).await,
            before + n,
            "one audit row per changed task"
        );
        let left = fx.db.query(r#"SELECT count(*) AS n FROM "Task" WHERE "title" LIKE 'Task %' AND "status" <> 'CANCELLED'"#, &[]).await.unwrap()[0].int("n").unwrap();
        assert_eq!(left, 0);
        // A cancelled bulk update rolls back completely.
        let flag = std::sync::atomic::AtomicBool::new(true);
        let mid = audit_count(&fx.db).await;
        let r = tasks::bulk_update(
            &fx.db,
            &ops.admin,
            &ids,
            &TaskPatch {
                status: Some(TaskStatus::TODO),
                ..Default::default()
            },
            ncy_core::Work::none().with_cancel(&flag),
        )
        .await;
        assert!(matches!(r, Err(Error::Cancelled)));
        assert_eq!(audit_count(&fx.db).await, mid);
    }
);

conformance!(
    employees_review_only_their_own_tasks,
    |store: Store| async move {
        let (fx, ops) = fixture(&store).await;
        let emp = &ops.employee;
        let mine = tasks::list(&fx.db, emp, &TaskFilter::default(), 100, None)
            .await
            .unwrap();
        assert!(!mine.items.is_empty());
        assert!(
            mine.items
                .iter()
                .all(|t| t.assignee_id == Some(emp.user_id)),
            "only own tasks are listed"
        );
        let t = mine.items[0].id;
        tasks::update(
            &fx.db,
            emp,
            t,
            &TaskPatch {
                status: Some(TaskStatus::REVIEW),
                metadata: Some(serde_json::json!({"review": "looks good"})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let e = tasks::update(
            &fx.db,
            emp,
            t,
            &TaskPatch {
                title: Some("mine now".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, Error::Forbidden { ref permission } if permission == "tasks.write"),
            "{e}"
        );
        let other = fx.task().await;
        let e = tasks::update(
            &fx.db,
            emp,
            other,
            &TaskPatch {
                status: Some(TaskStatus::DONE),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }), "{e}");
        assert!(matches!(
            tasks::get(&fx.db, emp, other).await,
            Err(Error::Forbidden { .. })
        ));
    }
);

conformance!(
    dashboard_stats_follow_the_data_and_the_role,
    |store: Store| async move {
        use ncy_core::admin::stats;
        let db = &store.db;
        let ops = operators(db).await;
        let before = stats::load(db, &ops.admin).await.unwrap();
        // dev seed: 3 users + the SYSTEM and SUPPORT operators, one organization, two projects.
        assert_eq!(before.users_total, Some(5));
        assert_eq!(before.organizations, Some(1));
        assert_eq!(before.projects, Some(2));
        let open = tasks::list(db, &ops.admin, &TaskFilter::default(), 1000, None)
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|t| !matches!(t.status, TaskStatus::DONE | TaskStatus::CANCELLED))
            .collect::<Vec<_>>();
        assert_eq!(before.tasks_open, Some(open.len() as i64));
        let not_late = open
            .iter()
            .find(|t| t.due_date.is_none_or(|d| d > ncy_core::db::now()))
            .expect("an open task that is not overdue");

        // One task becomes overdue, one user is deleted: two audited mutations.
        let yesterday = ncy_core::db::now() - chrono::Duration::days(1);
        let patch = TaskPatch {
            due_date: Some(Some(yesterday)),
            ..Default::default()
        };
        tasks::update(db, &ops.admin, not_late.id, &patch)
            .await
            .unwrap();
        users::delete(db, &ops.admin, "employee@test-org.com")
            .await
            .unwrap();
        let after = stats::load(db, &ops.admin).await.unwrap();
        assert_eq!(after.users_total, Some(4));
        assert_eq!(after.users_active, before.users_active.map(|n| n - 1));
        assert_eq!(after.tasks_overdue, before.tasks_overdue.map(|n| n + 1));
        assert_eq!(after.tasks_open, before.tasks_open);
        assert_eq!(after.audit_last_24h, before.audit_last_24h.map(|n| n + 2));
        let today = ncy_core::db::now().format("%Y-%m-%d").to_string();
        let per_day: i64 = after.audit_per_day.iter().map(|c| c.count).sum();
        assert!(after.audit_per_day.iter().any(|c| c.day == today));
        assert_eq!(
            Some(per_day),
            after.audit_last_24h,
            "all audit rows are from today"
        );

        // Each figure stays hidden from roles without its permission.
        let support = stats::load(db, &ops.support).await.unwrap();
        assert_eq!(support.users_total, Some(4));
        assert_eq!(support.tasks_open, None);
        assert_eq!(support.audit_last_24h, None);
        let manager = stats::load(db, &ops.manager).await.unwrap();
        assert_eq!(manager.organizations, Some(1));
        assert!(manager.audit_per_day.is_empty());
    }
);
