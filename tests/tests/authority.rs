//! The database is the authority (migration 0010): operators connect as their own PostgreSQL
//! roles, and what the app refuses, SQL as that role refuses too. Every test logs in with the
//! operator's own SCRAM password (the harness requires it for members of ncy_operator).

use ncy_core::admin::operators;
use ncy_core::admin::users::{self, UserPatch};
use ncy_core::auth::{identify, rbac, Client};
use ncy_core::db::Db;
use ncy_core::model::UserStatus;
use ncy_core::params;
use ncy_tests::fresh_pg;
use ncy_tests::logins::{connect_as, conns, sql, url_as};

/// Tasks of `project` that `db` can read (a server connection or an offline cache).
async fn tasks_of(db: &Db, project: uuid::Uuid) -> i64 {
    db.query(
        r#"SELECT count(*) AS n FROM "Task" WHERE "project_id" = $1"#,
        &params![project],
    )
    .await
    .expect("count")[0]
        .int("n")
        .expect("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_corpus_is_refused_for_every_role() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let admin_id = cs[0].op.user_id;
    for c in &cs {
        let mut corpus = vec![
            r#"SELECT "password_hash" FROM "User""#.to_owned(),
            r#"SELECT "refresh_token" FROM "Session""#.into(),
            r#"SELECT "key_hash" FROM "ApiKey""#.into(),
            r#"SELECT * FROM "User""#.into(),
            format!(
                r#"INSERT INTO "Session" ("user_id", "refresh_token", "expires_at") VALUES ('{}', 'x', now() + interval '1 day')"#,
                c.op.user_id
            ),
            r#"UPDATE "AuditLog" SET "action" = 'X'"#.into(),
            r#"DELETE FROM "AuditLog""#.into(),
            r#"TRUNCATE "AuditLog""#.into(),
            r#"UPDATE "AuditChain" SET "seq" = 0"#.into(),
            r#"ALTER TABLE "AuditLog" DISABLE TRIGGER ALL"#.into(),
            r#"ALTER TABLE "Task" DISABLE ROW LEVEL SECURITY"#.into(),
            r#"GRANT SELECT ON "User" TO PUBLIC"#.into(),
            "GRANT ncy_admin TO CURRENT_USER".into(),
            "SET ROLE postgres".into(),
            "ALTER ROLE CURRENT_USER SUPERUSER".into(),
            "ALTER ROLE CURRENT_USER BYPASSRLS".into(),
            "CREATE TABLE evil (i int)".into(),
            "CREATE TEMP TABLE evil (i int)".into(),
            "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'".into(),
            format!(r#"UPDATE "OperatorRole" SET "user_id" = '{admin_id}'"#),
            format!("SELECT ncy_operator_disconnect('{}')", cs[0].db_role),
            format!("SELECT ncy_operator_sync('{admin_id}')"),
            // The mark that quiets the audit trigger during an erasure (migration 0018).
            r#"INSERT INTO "GdprErasing" ("txid") VALUES (txid_current())"#.into(),
        ];
        if c.role != "ADMIN" {
            corpus.push(format!(
                r#"UPDATE "User" SET "role" = 'ADMIN' WHERE "id" = '{}'"#,
                c.op.user_id
            ));
            corpus.push("SET ROLE ncy_admin".into());
            corpus.push(format!(
                "SELECT ncy_set_password('{admin_id}', '$argon2id$v=19$m=1,t=1,p=1$x$y')"
            ));
            corpus.push(format!(
                "SELECT ncy_operator_rotate('{admin_id}', 'SCRAM-SHA-256$4096:x$y:z')"
            ));
        }
        for q in &corpus {
            let r = sql(&c.db, q).await;
            assert!(r.is_err(), "{}: {q} must be refused, got {r:?}", c.role);
        }
        // An audit row cannot be forged: the database writes the operator as its actor.
        sql(
            &c.db,
            &format!(
                r#"INSERT INTO "AuditLog" ("action", "target_table", "user_id") VALUES ('FORGED', 'User', '{}')"#,
                if c.role == "ADMIN" { cs[1].op.user_id } else { admin_id }
            ),
        )
        .await
        .expect("operators may add audit entries");
        let actor = db
            .query(
                r#"SELECT "user_id" FROM "AuditLog" WHERE "action" = 'FORGED' ORDER BY "seq" DESC LIMIT 1"#,
                &[],
            )
            .await
            .expect("forged row")[0]
            .uuid("user_id")
            .expect("actor");
        assert_eq!(actor, c.op.user_id, "{}: the actor is forced", c.role);
    }
}

/// For every role and command, the app's answer (run as that role) and a direct SQL attempt as
/// that role agree, and neither succeeds without the permission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_matrix_app_and_sql_agree() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let employee = cs[2].op.user_id;
    let task = db
        .query(
            r#"SELECT "id" FROM "Task" WHERE "assignee_id" <> $1 ORDER BY "id" LIMIT 1"#,
            &params![employee],
        )
        .await
        .expect("task")[0]
        .uuid("id")
        .expect("id");
    let mut unauthorized = 0;
    for c in &cs {
        let perms: Vec<&str> = rbac::builtin_permissions(c.role);
        let has = |p: &str| perms.contains(&p);
        let mut checks: Vec<(&str, bool, bool)> = Vec::new();

        let app = users::update(
            &c.db,
            &c.op,
            "employee@test-org.com",
            &UserPatch {
                status: Some(UserStatus::SUSPENDED),
                ..Default::default()
            },
        )
        .await;
        if app.is_ok() {
            users::reactivate(&db, &cs[0].op, "employee@test-org.com")
                .await
                .expect("reactivate");
        }
        let direct = sql(
            &c.db,
            &format!(r#"UPDATE "User" SET "updated_at" = "updated_at" WHERE "id" = '{employee}'"#),
        )
        .await
        .map(|n| n > 0)
        .unwrap_or(false);
        checks.push(("users.write", app.is_ok(), direct));

        let app = ncy_core::admin::tasks::update(
            &c.db,
            &c.op,
            task,
            &ncy_core::admin::tasks::TaskPatch {
                title: Some(format!("edited by {}", c.role)),
                ..Default::default()
            },
        )
        .await;
        let direct = sql(
            &c.db,
            &format!(r#"UPDATE "Task" SET "title" = "title" WHERE "id" = '{task}'"#),
        )
        .await
        .map(|n| n > 0)
        .unwrap_or(false);
        checks.push(("tasks.write", app.is_ok(), direct));

        let app = ncy_core::audit::query::list(&c.db, &c.op, &Default::default(), 5, None).await;
        let direct = sql(&c.db, r#"SELECT "id" FROM "AuditLog" LIMIT 1"#)
            .await
            .is_ok();
        checks.push(("audit.read", app.is_ok(), direct));

        let app = users::reset_password(&c.db, &c.op, "system@ncy-8.com").await;
        let direct = sql(
            &c.db,
            "SELECT ncy_set_password((SELECT \"id\" FROM \"User\" WHERE \"email\" = 'system@ncy-8.com'), '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo')",
        )
        .await
        .is_ok();
        checks.push(("users.credentials", app.is_ok(), direct));

        // API keys: the app and the checked entry point agree; nobody writes the hash directly.
        let app = users::create_api_key(
            &c.db,
            &c.op,
            "employee@test-org.com",
            &["tasks.read".to_owned()],
            None,
        )
        .await;
        if let Ok(k) = &app {
            assert!(k.plaintext.starts_with("ncyk_"));
        }
        let direct = sql(
            &c.db,
            &format!("SELECT ncy_api_key_create(gen_random_uuid(), '{employee}', '{}', ARRAY['tasks.read'], NULL)", "ab".repeat(32)),
        )
        .await
        .is_ok();
        checks.push(("users.credentials", app.is_ok(), direct));
        let raw = sql(
            &c.db,
            &format!(r#"INSERT INTO "ApiKey" ("key_hash", "user_id", "scopes") VALUES ('x', '{employee}', ARRAY['tasks.read'])"#),
        )
        .await;
        assert!(
            raw.is_err(),
            "{}: a raw ApiKey insert must be refused",
            c.role
        );

        let app = ncy_core::admin::logs::access(&c.db, &c.op, &Default::default(), 5, None).await;
        let direct = sql(&c.db, r#"SELECT "id" FROM "AccessLog" LIMIT 1"#)
            .await
            .is_ok();
        checks.push(("logs.read", app.is_ok(), direct));

        // A user outside the operator's organizations: the app's lookup and a direct read.
        let app = users::get(&c.db, &c.op, "system@ncy-8.com").await;
        let direct = sql(
            &c.db,
            r#"SELECT "id" FROM "User" WHERE "email" = 'system@ncy-8.com'"#,
        )
        .await
        .map(|n| n > 0)
        .unwrap_or(false);
        checks.push(("users.read", app.is_ok(), direct));
        // Without users.read, the people one works with stay readable (task screens name them).
        let colleague = sql(
            &c.db,
            r#"SELECT "id" FROM "User" WHERE "email" IN ('manager@test-org.com', 'employee@test-org.com')"#,
        )
        .await
        .expect("colleagues");
        if c.role == "EMPLOYEE" {
            assert_eq!(
                colleague, 2,
                "an employee reads themselves and their organization's members"
            );
        }

        // The GDPR queue: the app's list and a direct read of GdprRequest.
        let app =
            ncy_gdpr::request::list(&c.db, &c.op, &ncy_gdpr::request::QueueFilter::default()).await;
        let direct = sql(&c.db, r#"SELECT "id" FROM "GdprRequest" LIMIT 1"#)
            .await
            .is_ok();
        checks.push(("gdpr.read", app.is_ok(), direct));

        // GDPR erasure: the app (through ncy_gdpr_erase on an operator's login) and a direct
        // call of the function, each on a verified ERASURE request of its own subject.
        let mut erasure = Vec::new();
        for way in ["app", "sql"] {
            let email = format!("erase-{way}-{}@example.com", c.role.to_lowercase());
            users::create(
                &db,
                &cs[0].op,
                &users::NewUser {
                    email: email.clone(),
                    role: Some(ncy_core::model::UserRole::EMPLOYEE),
                    status: None,
                    password: Some("subject-password-1".into()),
                },
            )
            .await
            .expect("subject");
            let r = ncy_gdpr::request::create(
                &db,
                &cs[0].op,
                ncy_gdpr::request::NewRequest {
                    user: email.clone(),
                    kind: ncy_gdpr::request::RequestKind::Erasure,
                    notes: None,
                },
            )
            .await
            .expect("erasure request");
            ncy_gdpr::request::verify_identity(&db, &cs[0].op, r.id, "ID card")
                .await
                .expect("verify");
            erasure.push((r.id, email));
        }
        let app = ncy_gdpr::erase::erase(
            &c.db,
            &c.op,
            erasure[0].0,
            &erasure[0].1,
            &Default::default(),
            ncy_core::Work::none(),
        )
        .await;
        let direct = sql(
            &c.db,
            &format!(
                "SELECT ncy_gdpr_erase('{}', '{}')",
                erasure[1].0, erasure[1].1
            ),
        )
        .await
        .is_ok();
        assert_eq!(
            app.is_ok(),
            has("gdpr.handle"),
            "{}: every holder of gdpr.handle erases over their own login: {:?}",
            c.role,
            app.as_ref().err()
        );
        checks.push(("gdpr.handle", app.is_ok(), direct));

        // The backup list: the app's and a direct read of BackupSnapshot.
        let app = ncy_backup::Backups::postgres(c.db.clone(), &c.url)
            .expect("backups")
            .list(&c.op, None, 5)
            .await;
        let direct = sql(&c.db, r#"SELECT "id" FROM "BackupSnapshot" LIMIT 1"#)
            .await
            .is_ok();
        checks.push(("backups.read", app.is_ok(), direct));

        // A new organization owned by the operator: the app and a direct INSERT.
        let slug = format!("matrix-{}", c.role.to_lowercase());
        let app = ncy_core::admin::orgs::create(
            &c.db,
            &c.op,
            "Matrix org",
            &format!("{slug}-app"),
            &c.op.email,
            None,
        )
        .await;
        let direct = sql(
            &c.db,
            &format!(
                r#"INSERT INTO "Organization" ("id", "name", "slug", "owner_id", "settings", "created_at", "updated_at")
                   VALUES (gen_random_uuid(), 'Matrix org', '{slug}-sql', '{}', '{{}}', now(), now())"#,
                c.op.user_id
            ),
        )
        .await
        .map(|n| n > 0)
        .unwrap_or(false);
        checks.push(("orgs.write", app.is_ok(), direct));

        // A project and a team in the seeded organization: the app and a direct INSERT.
        let role = c.role.to_lowercase();
        let app = ncy_core::admin::projects::create(
            &c.db,
            &c.op,
            "test-org",
            &format!("Matrix project {role} app"),
            None,
            None,
        )
        .await;
        let org_of = r#"(SELECT "id" FROM "Organization" WHERE "slug" = 'test-org')"#;
        let direct = sql(
            &c.db,
            &format!(
                r#"INSERT INTO "Project" ("id", "organization_id", "name", "created_at", "updated_at")
                   VALUES (gen_random_uuid(), {org_of}, 'Matrix project {role} sql', now(), now())"#
            ),
        )
        .await
        .map(|n| n > 0)
        .unwrap_or(false);
        checks.push(("projects.write", app.is_ok(), direct));
        let app = ncy_core::admin::orgs::create_team(
            &c.db,
            &c.op,
            "test-org",
            &format!("Matrix team {role} app"),
            None,
        )
        .await;
        let direct = sql(
            &c.db,
            &format!(
                r#"INSERT INTO "Team" ("id", "organization_id", "name", "created_at", "updated_at")
                   VALUES (gen_random_uuid(), {org_of}, 'Matrix team {role} sql', now(), now())"#
            ),
        )
        .await
        .map(|n| n > 0)
        .unwrap_or(false);
        checks.push(("teams.write", app.is_ok(), direct));

        // A global setting: the app and a direct INSERT.
        let app =
            ncy_core::admin::settings::set(&c.db, &c.op, &format!("matrix.app.{role}"), "1").await;
        let direct = sql(
            &c.db,
            &format!(
                r#"INSERT INTO "Settings" ("id", "user_id", "key", "value", "created_at", "updated_at")
                   VALUES (gen_random_uuid(), NULL, 'matrix.sql.{role}', '1', now(), now())"#
            ),
        )
        .await
        .map(|n| n > 0)
        .unwrap_or(false);
        checks.push(("settings.write", app.is_ok(), direct));

        // Granting a role to someone who is not an operator: the app and a direct INSERT.
        let target = format!("roles-{role}@example.com");
        users::create(
            &db,
            &cs[0].op,
            &users::NewUser {
                email: target.clone(),
                role: Some(ncy_core::model::UserRole::EMPLOYEE),
                status: None,
                password: Some("target-password-1".into()),
            },
        )
        .await
        .expect("a role target");
        let app = users::grant_role(&c.db, &c.op, &target, "SUPPORT").await;
        // Directly: the checked entry point (0022); nobody writes the table itself.
        let direct = sql(
            &c.db,
            &format!(
                r#"SELECT ncy_grant_role(u."id", r."id", NULL) FROM "User" u, "Role" r
                   WHERE u."email" = '{target}' AND r."name" = 'MANAGER'"#
            ),
        )
        .await
        .map(|n| n > 0)
        .unwrap_or(false);
        checks.push(("roles.write", app.is_ok(), direct));
        let raw = sql(
            &c.db,
            &format!(
                r#"INSERT INTO "UserRoleMap" ("user_id", "role_id")
                   SELECT u."id", r."id" FROM "User" u, "Role" r WHERE u."email" = '{target}' AND r."name" = 'SYSTEM'"#
            ),
        )
        .await;
        assert!(
            raw.is_err(),
            "{}: a raw UserRoleMap insert must be refused",
            c.role
        );

        // Reviewing a task assigned to oneself (status only): the app and a direct UPDATE of
        // that column, on a task of the seeded organization given to this operator.
        let own: uuid::Uuid = db
            .query(
                &format!(
                    r#"UPDATE "Task" SET "assignee_id" = '{}' WHERE "id" = (
                         SELECT t."id" FROM "Task" t JOIN "Project" p ON p."id" = t."project_id"
                         JOIN "Organization" o ON o."id" = p."organization_id"
                         WHERE o."slug" = 'test-org' AND t."id" <> '{task}' AND t."assignee_id" IS DISTINCT FROM '{}'
                           AND t."title" NOT LIKE 'own review%' ORDER BY t."id" LIMIT 1)
                       RETURNING "id""#,
                    c.op.user_id, c.op.user_id
                ),
                &[],
            )
            .await
            .expect("a task for the operator")[0]
            .uuid("id")
            .expect("id");
        db.query(
            &format!(r#"UPDATE "Task" SET "title" = 'own review ' || "id" WHERE "id" = '{own}'"#),
            &[],
        )
        .await
        .expect("mark it");
        let app = ncy_core::admin::tasks::update(
            &c.db,
            &c.op,
            own,
            &ncy_core::admin::tasks::TaskPatch {
                status: Some(ncy_core::model::TaskStatus::REVIEW),
                ..Default::default()
            },
        )
        .await;
        let direct = sql(
            &c.db,
            &format!(r#"UPDATE "Task" SET "status" = 'IN_PROGRESS' WHERE "id" = '{own}'"#),
        )
        .await
        .map(|n| n > 0)
        .unwrap_or(false);
        checks.push(("tasks.review_own", app.is_ok(), direct));

        for (perm, app_ok, sql_ok) in checks {
            assert_eq!(
                app_ok, sql_ok,
                "{} / {perm}: the app said {app_ok}, SQL as the role said {sql_ok}",
                c.role
            );
            if c.role == "ADMIN" {
                assert!(app_ok, "ADMIN holds every permission: {perm} must succeed");
            }
            if (app_ok || sql_ok) && !has(perm) {
                unauthorized += 1;
                eprintln!("unauthorized success: {} {perm}", c.role);
            }
        }
    }
    assert_eq!(unauthorized, 0, "no unauthorized success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_sees_nothing_of_another_organization() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let admin = &cs[0].op;
    let other = ncy_core::admin::orgs::create(
        &db,
        admin,
        "Other Org",
        "other-org",
        "admin@ncy-8.com",
        None,
    )
    .await
    .expect("org B");
    let project = ncy_core::admin::projects::create(&db, admin, "other-org", "Secret", None, None)
        .await
        .expect("project B");
    ncy_core::admin::tasks::create(
        &db,
        admin,
        &ncy_core::admin::tasks::NewTask {
            project_id: project.id,
            title: "secret task".into(),
            description: None,
            status: None,
            priority: None,
            assignee_id: None,
            due_date: None,
            metadata: None,
        },
    )
    .await
    .expect("task B");
    let m = &cs[1];
    for (t, col) in [
        ("Organization", "id"),
        ("OrganizationMember", "organization_id"),
        ("Team", "organization_id"),
        ("Project", "organization_id"),
    ] {
        let n =
            m.db.query(
                &format!(r#"SELECT count(*) AS n FROM "{t}" WHERE "{col}" = $1"#),
                &params![other.id],
            )
            .await
            .expect("count")[0]
                .int("n")
                .expect("n");
        assert_eq!(n, 0, "the manager sees no {t} row of org B");
    }
    assert_eq!(tasks_of(&m.db, project.id).await, 0, "no task of org B");
    // The app on the manager's connection: org B's tasks are not there, and it cannot be changed.
    let page = ncy_core::admin::tasks::list(&m.db, &m.op, &Default::default(), 1000, None)
        .await
        .expect("tasks list");
    assert!(page.items.iter().all(|t| t.project_id != project.id));
    assert!(
        ncy_core::admin::orgs::rename(&m.db, &m.op, &other.id.to_string(), "mine")
            .await
            .is_err(),
        "org B cannot be renamed by a manager of org A"
    );
    assert_eq!(
        sql(
            &m.db,
            &format!(
                r#"UPDATE "Organization" SET "name" = 'x' WHERE "id" = '{}'"#,
                other.id
            )
        )
        .await
        .expect("RLS filters, no error"),
        0
    );
    // Org A: the manager (org MANAGER, not OWNER) may not transfer or delete it either.
    let r = sql(
        &m.db,
        r#"UPDATE "Organization" SET "deleted_at" = now() WHERE "slug" = 'test-org'"#,
    )
    .await;
    assert!(
        !matches!(r, Ok(n) if n > 0),
        "only the OWNER deletes: {r:?}"
    );
    // The offline cache is pulled through the same policies, over the operator's own login:
    // org B cannot be chosen, and what lands is what SQL as that role may read.
    for c in [&cs[1], &cs[2]] {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = ncy_sync::cache::new_key();
        let path = dir.path().join("cache.db");
        let refused = ncy_sync::initial::init_at(
            c.db.pg().expect("a PostgreSQL store"),
            &c.url,
            &c.op,
            &["other-org".to_owned()],
            &path,
            &key,
            Default::default(),
        )
        .await;
        assert!(refused.is_err(), "{}: org B is not offered", c.role);
        let (cache, rep) = ncy_sync::initial::init_at(
            c.db.pg().expect("a PostgreSQL store"),
            &c.url,
            &c.op,
            &["test-org".to_owned()],
            &path,
            &key,
            Default::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: sync over the operator's own login: {e}", c.role));
        assert!(rep.rows > 0, "{}: the slice has rows", c.role);
        let ids = |rows: Vec<ncy_core::db::Row>| -> std::collections::BTreeSet<String> {
            rows.iter().map(|r| r.text("id").expect("id")).collect()
        };
        let cached = ids(cache
            .db
            .query(r#"SELECT "id" FROM "Task""#, &[])
            .await
            .expect("cached tasks"));
        let visible = ids(c
            .db
            .query(r#"SELECT "id"::text AS id FROM "Task""#, &[])
            .await
            .expect("visible tasks"));
        assert!(!cached.is_empty(), "{}: tasks cached", c.role);
        assert!(
            cached.is_subset(&visible),
            "{}: the cache holds only tasks the role may read",
            c.role
        );
        let orgs = cache
            .db
            .query(r#"SELECT "id" FROM "Organization""#, &[])
            .await
            .expect("cached orgs");
        assert!(
            orgs.iter()
                .all(|r| r.text("id").expect("id") != other.id.to_string()),
            "{}: no row of org B in the cache",
            c.role
        );
        assert_eq!(
            tasks_of(&cache.db, project.id).await,
            0,
            "{}: no task of org B in the cache",
            c.role
        );
        cache.db.close().await;
    }
    // The admin (global role) sees both organizations.
    let n = cs[0]
        .db
        .query(r#"SELECT count(*) AS n FROM "Organization""#, &[])
        .await
        .expect("count")[0]
        .int("n")
        .expect("n");
    assert_eq!(n, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_write_is_audited_once_with_its_actor_and_the_chain_verifies() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let m = &cs[1];
    let task =
        m.db.query(
            r#"SELECT "id", "title" FROM "Task" ORDER BY "id" LIMIT 1"#,
            &[],
        )
        .await
        .expect("task")[0]
            .uuid("id")
            .expect("id");
    sql(
        &m.db,
        &format!(r#"UPDATE "Task" SET "title" = 'via psql' WHERE "id" = '{task}'"#),
    )
    .await
    .expect("manager edits a task of their org");
    let rows = db
        .query(
            r#"SELECT "action", "user_id", "old_value", "new_value" FROM "AuditLog" WHERE "target_id" = $1 ORDER BY "seq""#,
            &params![task],
        )
        .await
        .expect("audit");
    assert_eq!(rows.len(), 1, "one entry for the direct write");
    assert_eq!(rows[0].text("action").unwrap(), "SQL_UPDATE");
    assert_eq!(rows[0].uuid("user_id").unwrap(), m.op.user_id);
    assert_eq!(
        rows[0].opt_json("new_value").unwrap(),
        Some(serde_json::json!({"title": "via psql"}))
    );
    // The app on the operator's connection writes its own entry, and the trigger does not add one.
    ncy_core::admin::tasks::update(
        &m.db,
        &m.op,
        task,
        &ncy_core::admin::tasks::TaskPatch {
            title: Some("via the app".into()),
            ..Default::default()
        },
    )
    .await
    .expect("app edit");
    let actions: Vec<String> = db
        .query(
            r#"SELECT "action" FROM "AuditLog" WHERE "target_id" = $1 ORDER BY "seq""#,
            &params![task],
        )
        .await
        .expect("audit")
        .iter()
        .map(|r| r.text("action").unwrap())
        .collect();
    assert_eq!(actions, ["SQL_UPDATE", "TASK_UPDATE"], "no double entry");
    let r = ncy_core::audit::verify(&db, &cs[0].op)
        .await
        .expect("verify");
    assert!(r.ok, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_do_not_fork_the_chain_and_tampering_is_caught() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let m = &cs[1];
    let tasks: Vec<uuid::Uuid> =
        m.db.query(r#"SELECT "id" FROM "Task" ORDER BY "id" LIMIT 4"#, &[])
            .await
            .expect("tasks")
            .iter()
            .map(|r| r.uuid("id").unwrap())
            .collect();
    assert_eq!(tasks.len(), 4);
    let before = ncy_tests::audit_count(&db).await;
    let mut handles = Vec::new();
    for (w, task) in tasks.into_iter().enumerate() {
        let u = m.url.clone();
        handles.push(tokio::spawn(async move {
            let wdb = connect_as(&u).await.expect("writer");
            for i in 0..50 {
                sql(
                    &wdb,
                    &format!(r#"UPDATE "Task" SET "title" = 'w{w} #{i}' WHERE "id" = '{task}'"#),
                )
                .await
                .expect("write");
            }
            wdb.close().await;
        }));
    }
    for h in handles {
        h.await.expect("writer task");
    }
    assert_eq!(
        ncy_tests::audit_count(&db).await - before,
        200,
        "4 × 50 writes audited"
    );
    let admin = &cs[0].op;
    let r = ncy_core::audit::verify(&db, admin).await.expect("verify");
    assert!(r.ok, "{r:?}");
    assert_eq!(r.head_seq, r.last_seq.unwrap());

    // GDPR erasure of transport details keeps the chain verifiable.
    sql(
        &db,
        &format!("SELECT ncy_audit_erase_transport('{}')", m.op.user_id),
    )
    .await
    .expect("erase transport");
    assert!(
        ncy_core::audit::verify(&db, admin)
            .await
            .expect("verify")
            .ok
    );

    // The owner (superuser here) edits a row behind the guard's back: caught, named.
    let victim = r.last_seq.unwrap() - 10;
    sql(
        &db,
        r#"ALTER TABLE "AuditLog" DISABLE TRIGGER ncy_audit_guard"#,
    )
    .await
    .expect("disable");
    sql(&db, &format!(r#"UPDATE "AuditLog" SET "new_value" = '{{"title": "nothing to see"}}' WHERE "seq" = {victim}"#))
        .await
        .expect("tamper");
    let bad = ncy_core::audit::verify(&db, admin).await.expect("verify");
    assert!(!bad.ok);
    let b = bad.first_bad.expect("first bad row");
    assert_eq!(b.seq, victim);
    assert_eq!(b.breach, ncy_core::audit::verify::Breach::Edited);

    // A deleted row (on a fresh copy of the chain's state: restore the edit first).
    sql(&db, &format!(
        r#"UPDATE "AuditLog" SET "new_value" = (SELECT "new_value" FROM "AuditLog" WHERE "seq" = {v} + 1) WHERE "seq" = {v}"#,
        v = victim
    ))
    .await
    .expect("still tampered");
    sql(
        &db,
        &format!(r#"DELETE FROM "AuditLog" WHERE "seq" = {}"#, victim - 5),
    )
    .await
    .expect("delete");
    let bad = ncy_core::audit::verify(&db, admin).await.expect("verify");
    let b = bad.first_bad.expect("first bad row");
    assert_eq!(b.seq, victim - 4, "{b:?}");
    assert_eq!(b.breach, ncy_core::audit::verify::Breach::Deleted);

    // Without the guard bypass, even the owner's edits and deletes are refused.
    sql(
        &db,
        r#"ALTER TABLE "AuditLog" ENABLE TRIGGER ncy_audit_guard"#,
    )
    .await
    .expect("enable");
    assert!(sql(
        &db,
        r#"UPDATE "AuditLog" SET "action" = 'X' WHERE "seq" = 1"#
    )
    .await
    .is_err());
    assert!(sql(&db, r#"DELETE FROM "AuditLog" WHERE "seq" = 1"#)
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_role_grants_and_revocation_follow_the_user_at_once() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let admin = &cs[0];
    let m = &cs[1];
    // Granting SUPPORT adds the group in the same transaction.
    users::grant_role(&admin.db, &admin.op, &m.op.email, "SUPPORT")
        .await
        .expect("grant");
    let groups = |list: Vec<operators::OperatorLogin>| {
        list.into_iter()
            .find(|o| o.user_id == m.op.user_id)
            .expect("listed")
            .groups
    };
    assert_eq!(
        groups(operators::list(&db, &admin.op).await.expect("list")),
        ["ncy_manager", "ncy_support"]
    );
    users::revoke_role(&admin.db, &admin.op, &m.op.email, "SUPPORT")
        .await
        .expect("revoke");
    assert_eq!(
        groups(operators::list(&db, &admin.op).await.expect("list")),
        ["ncy_manager"]
    );

    // Suspended by another admin: the open connection is ended and the next call is refused.
    users::suspend(&admin.db, &admin.op, &m.op.email)
        .await
        .expect("suspend");
    assert!(
        identify(&m.db, Client::Cli).await.is_err(),
        "the next call is refused"
    );
    assert!(connect_as(&m.url).await.is_err(), "and no new login");
    users::reactivate(&admin.db, &admin.op, &m.op.email)
        .await
        .expect("reactivate");
    let again = connect_as(&m.url)
        .await
        .expect("login again after reactivation");
    assert!(identify(&again, Client::Cli)
        .await
        .expect("identify")
        .is_some());
    again.close().await;

    // Rotation: the old password stops working, the new one works.
    let p = operators::rotate(&admin.db, &admin.op, &m.op.email, None)
        .await
        .expect("rotate");
    let new_pw = p.password.expect("a generated password is shown once");
    assert!(connect_as(&m.url).await.is_err(), "old password refused");
    let new_url = url_as(&url, &m.db_role, &new_pw);
    connect_as(&new_url)
        .await
        .expect("new password works")
        .close()
        .await;

    // Only roles.write may provision or revoke; revocation drops the role.
    assert!(operators::revoke(&m.db, &m.op, &admin.op.email)
        .await
        .is_err());
    operators::revoke(&admin.db, &admin.op, &m.op.email)
        .await
        .expect("revoke");
    assert!(
        connect_as(&new_url).await.is_err(),
        "a revoked role cannot log in"
    );
    let n = db
        .query(
            "SELECT count(*) AS n FROM pg_roles WHERE rolname = $1",
            &params![m.db_role.as_str()],
        )
        .await
        .expect("pg_roles")[0]
        .int("n")
        .expect("n");
    assert_eq!(n, 0, "the role is dropped");
    let actions: Vec<String> = db
        .query(r#"SELECT "action" FROM "AuditLog" WHERE "target_table" = 'OperatorRole' ORDER BY "seq""#, &[])
        .await
        .expect("audit")
        .iter()
        .map(|r| r.text("action").unwrap())
        .collect();
    assert!(
        actions.contains(&"OPERATOR_ROTATE".to_owned())
            && actions.contains(&"OPERATOR_REVOKE".to_owned()),
        "{actions:?}"
    );
}

/// What the app allows an operator works on their own login too (migration 0024, found by a
/// probe of every operation on every role's login): users.read shows sessions and API keys
/// without their secrets, and psql shows an operator without it only their own; an
/// organization's OWNER who is no global admin transfers it; settings.write prunes the sync
/// feed through the checked entry point. And the app refuses what the database refuses: a
/// non-global operator creates organizations only for themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_logins_do_what_the_app_allows() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    let by = |role: &str| cs.iter().find(|c| c.role == role).expect("role");
    let owner = ncy_tests::login_as(&db, "admin@ncy-8.com", "admin123").await;
    users::create_api_key(
        &db,
        &owner,
        "employee@test-org.com",
        &["tasks.read".to_owned()],
        None,
    )
    .await
    .expect("a key");
    db.query(
        r#"INSERT INTO "Session" ("id", "user_id", "refresh_token", "expires_at", "created_at")
           SELECT gen_random_uuid(), "id", 'secret-token', now() + interval '1 day', now()
             FROM "User" WHERE "email" IN ('employee@test-org.com', 'manager@test-org.com') RETURNING "id""#,
        &[],
    )
    .await
    .expect("sessions");
    let n_sessions = users::sessions(&db, &owner, "employee@test-org.com")
        .await
        .expect("sessions")
        .len();
    let n_keys = users::api_keys(&db, &owner, "employee@test-org.com")
        .await
        .expect("keys")
        .len();
    assert!(n_sessions >= 1 && n_keys >= 1);
    for c in &cs {
        let reads = rbac::builtin_permissions(c.role).contains(&"users.read");
        let s = users::sessions(&c.db, &c.op, "employee@test-org.com").await;
        let k = users::api_keys(&c.db, &c.op, "employee@test-org.com").await;
        assert_eq!(s.is_ok(), reads, "{}: sessions {s:?}", c.role);
        assert_eq!(k.is_ok(), reads, "{}: keys", c.role);
        if reads {
            assert_eq!(s.expect("sessions").len(), n_sessions, "{}", c.role);
            assert_eq!(k.expect("keys").len(), n_keys, "{}", c.role);
        }
        // psql: every row with users.read, else only their own; never a secret.
        let others = sql(
            &c.db,
            &format!(
                r#"SELECT "id" FROM "Session" WHERE "user_id" <> '{}'"#,
                c.op.user_id
            ),
        )
        .await
        .expect("read sessions");
        assert_eq!(others > 0, reads, "{}: others' sessions", c.role);
        for q in [
            r#"SELECT "refresh_token" FROM "Session""#,
            r#"SELECT "key_hash" FROM "ApiKey""#,
            r#"DELETE FROM "SyncChange""#,
        ] {
            let e = sql(&c.db, q).await.expect_err("refused");
            assert!(
                e.to_string().contains("permission denied"),
                "{}: {q}: {e}",
                c.role
            );
        }
    }

    // A MANAGER owns an organization they created, and hands it over.
    let m = by("MANAGER");
    let shared = ncy_tests::login_as(&db, "manager@test-org.com", "manager123").await;
    // Not for someone else, on their own login or through the app's shared one.
    for (cdb, op) in [(&m.db, &m.op), (&db, &shared)] {
        let e = ncy_core::admin::orgs::create(
            cdb,
            op,
            "Theirs",
            "theirs-org",
            "employee@test-org.com",
            None,
        )
        .await
        .expect_err("not for someone else");
        assert!(matches!(e, ncy_core::Error::Forbidden { .. }), "{e}");
    }
    ncy_core::admin::orgs::create(&m.db, &m.op, "Mine", "mine-org", &m.op.email, None)
        .await
        .expect("their own");
    let o = ncy_core::admin::orgs::transfer(&m.db, &m.op, "mine-org", "employee@test-org.com")
        .await
        .expect("the OWNER transfers it");
    assert_eq!(o.owner_id, by("EMPLOYEE").op.user_id);
    let roles = db
        .query(
            r#"SELECT u."email", m."role"::text AS role FROM "OrganizationMember" m JOIN "User" u ON u."id" = m."user_id"
               WHERE m."organization_id" = $1 ORDER BY u."email""#,
            &params![o.id],
        )
        .await
        .expect("members");
    let roles: Vec<(String, String)> = roles
        .iter()
        .map(|r| {
            (
                r.text("email").expect("email"),
                r.text("role").expect("role"),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("employee@test-org.com".to_owned(), "OWNER".to_owned()),
            ("manager@test-org.com".to_owned(), "ADMIN".to_owned())
        ]
    );
    let e = ncy_core::admin::orgs::transfer(&m.db, &m.op, "mine-org", &m.op.email)
        .await
        .expect_err("an ADMIN member does not take it back");
    assert!(matches!(e, ncy_core::Error::Forbidden { .. }), "{e}");

    // The sync feed: ADMIN prunes on their own login; MANAGER's SQL may not.
    let a = by("ADMIN");
    let r = ncy_sync::prune::prune(
        a.db.pg().expect("PostgreSQL"),
        &a.op,
        chrono::Duration::hours(1),
    )
    .await
    .expect("ADMIN prunes");
    assert_eq!(r.deleted, 0, "nothing is an hour old yet");
    let e = sql(&m.db, "SELECT * FROM ncy_sync_prune(now()::timestamp)")
        .await
        .expect_err("MANAGER lacks settings.write");
    assert!(e.to_string().contains("settings.write"), "{e}");
    assert!(
        ncy_core::audit::verify(&db, &a.op)
            .await
            .expect("verify")
            .ok
    );

    // A backup reads every table whole, which no operator role may: said before pg_dump runs.
    let dir = tempfile::tempdir().expect("tmp");
    let e = ncy_backup::Backups::postgres(a.db.clone(), &a.url)
        .expect("backups")
        .create(
            &a.op,
            &ncy_backup::CreateOptions::new(dir.path()),
            ncy_core::Work::none(),
        )
        .await
        .expect_err("an operator login cannot back up");
    let m = e.to_string();
    assert!(
        matches!(e, ncy_core::Error::Privilege { .. })
            && m.contains("cannot read public.")
            && m.contains("public.\"Session\"")
            && m.contains("schema owner"),
        "{m}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "no file left"
    );
    // Nor can it create the database a restore needs: the plan says so before anything runs.
    let plan = |db: &Db, url: &str, op: &ncy_core::auth::Operator| {
        let (db, url, op) = (db.clone(), url.to_owned(), op.clone());
        async move {
            ncy_backup::Backups::postgres(db, &url)
                .expect("backups")
                .restore_plan(
                    &op,
                    &ncy_backup::BackupRef::Path("/nonexistent/ncy.dump".into()),
                    &ncy_backup::RestoreOptions {
                        into: "ncy_restore_planned".into(),
                        ..Default::default()
                    },
                )
                .await
                .expect("plan")
        }
    };
    let p = plan(&a.db, &a.url, &a.op).await;
    assert!(
        !p.allowed && p.notes.iter().any(|n| n.contains("CREATEDB")),
        "{p:?}"
    );
    let p = plan(&db, &url, &owner).await;
    assert!(
        p.allowed && !p.notes.iter().any(|n| n.contains("CREATEDB")),
        "{p:?}"
    );
}
