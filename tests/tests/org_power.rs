//! Power in an organization: the same cases give the same outcome on the shared app login
//! (PostgreSQL), on the local workspace (SQLite), and on each operator's own PostgreSQL login,
//! where the database's row policies decide. Every actor has the MANAGER RBAC role, so the RBAC
//! permission allows every call and only their role in the organization tells them apart.

use std::collections::HashMap;

use ncy_core::admin::orgs;
use ncy_core::admin::projects::{self, ProjectPatch};
use ncy_core::admin::tasks::{self, NewTask, TaskFilter, TaskPatch};
use ncy_core::admin::users::{self, NewUser};
use ncy_core::auth::Operator;
use ncy_core::db::Db;
use ncy_core::model::{OrgRole, TaskStatus, UserRole};
use ncy_core::Error;
use ncy_tests::logins::{connect_as, url_as, PASSWORD};
use ncy_tests::{conformance, login_as, Store};
use uuid::Uuid;

/// The actors, by their role in the organization (`out`: not a member).
const ACTORS: &[(&str, Option<OrgRole>)] = &[
    ("owner", Some(OrgRole::OWNER)),
    ("admin", Some(OrgRole::ADMIN)),
    ("manager", Some(OrgRole::MANAGER)),
    ("member", Some(OrgRole::MEMBER)),
    ("out", None),
];

/// An actor's connection and identity.
struct Actor {
    db: Db,
    op: Operator,
}

/// What the cases act on.
struct World {
    project: Uuid,
    mine: Uuid,
    other: Uuid,
    member_id: Uuid,
    actors: HashMap<&'static str, Actor>,
}

fn email(name: &str) -> String {
    format!("{name}@power.test")
}

/// Seeds the store and builds the organization: every actor a MANAGER user, their org roles,
/// a project, a team, a task assigned to `member` and one assigned to no one.
async fn setup(db: &Db) -> (Operator, World) {
    let admin = ncy_tests::seeded_admin(db).await;
    for (name, _) in ACTORS {
        users::create(
            db,
            &admin,
            &NewUser {
                email: email(name),
                role: Some(UserRole::MANAGER),
                status: None,
                password: Some(PASSWORD.into()),
            },
        )
        .await
        .expect("actor user");
    }
    orgs::create(db, &admin, "Power", "power", &email("owner"), None)
        .await
        .expect("org");
    for (name, role) in ACTORS {
        if let Some(r) = role.filter(|r| *r != OrgRole::OWNER) {
            orgs::set_member(db, &admin, "power", &email(name), r)
                .await
                .expect("member");
        }
    }
    orgs::create_team(db, &admin, "power", "Crew", None)
        .await
        .expect("team");
    let project = projects::create(db, &admin, "power", "Plan", None, None)
        .await
        .expect("project")
        .id;
    let member_id = users::get(db, &admin, &email("member"))
        .await
        .expect("member user")
        .user
        .id;
    let task = |assignee| NewTask {
        project_id: project,
        title: "power task".into(),
        assignee_id: assignee,
        ..Default::default()
    };
    let mine = tasks::create(db, &admin, &task(Some(member_id)))
        .await
        .expect("task")
        .id;
    let other = tasks::create(db, &admin, &task(None))
        .await
        .expect("task")
        .id;
    let w = World {
        project,
        mine,
        other,
        member_id,
        actors: HashMap::new(),
    };
    (admin, w)
}

/// "ok", "forbidden", "not found", or the error itself.
fn outcome<T>(r: Result<T, Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(Error::Forbidden { .. }) => "forbidden".into(),
        Err(Error::NotFound { .. }) => "not found".into(),
        Err(e) => format!("error: {e}"),
    }
}

/// Runs every case in order and returns (case, outcome).
async fn run(w: &World) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let a = |n: &str| &w.actors[n];
    let mut note = |case: String, o: String| out.push((case, o));
    for (name, _) in ACTORS {
        let x = a(name);
        let (db, op) = (&x.db, &x.op);
        let listed = orgs::list(db, op, None, false, 100, None)
            .await
            .map(|p| p.items.iter().any(|o| o.slug == "power"));
        note(format!("{name}: org listed"), format!("{listed:?}"));
        note(
            format!("{name}: org show"),
            outcome(orgs::get(db, op, "power").await),
        );
        let projects = projects::list(db, op, None, None, false, 100, None)
            .await
            .map(|p| p.items.iter().any(|p| p.id == w.project));
        note(format!("{name}: project listed"), format!("{projects:?}"));
        note(
            format!("{name}: project show"),
            outcome(projects::get(db, op, w.project).await),
        );
        let seen = tasks::list(db, op, &TaskFilter::default(), 1000, None)
            .await
            .map(|p| {
                (
                    p.items.iter().any(|t| t.id == w.mine),
                    p.items.iter().any(|t| t.id == w.other),
                )
            });
        note(
            format!("{name}: tasks listed (mine, other)"),
            format!("{seen:?}"),
        );
        note(
            format!("{name}: show the member's task"),
            outcome(tasks::get(db, op, w.mine).await),
        );
        note(
            format!("{name}: show the unassigned task"),
            outcome(tasks::get(db, op, w.other).await),
        );
        note(
            format!("{name}: members"),
            outcome(orgs::list_members(db, op, "power").await),
        );
        note(
            format!("{name}: teams"),
            outcome(orgs::list_teams(db, op, "power").await),
        );
        let f = users::UserFilter {
            org: Some("power".into()),
            ..Default::default()
        };
        note(
            format!("{name}: users of the org"),
            outcome(users::list(db, op, &f, 10, None).await),
        );
        let shown = users::get(db, op, &email("member"))
            .await
            .map(|u| u.organizations.iter().any(|m| m.slug == "power"));
        note(
            format!("{name}: a member's detail lists the org"),
            format!("{shown:?}"),
        );
        let d = ncy_core::admin::stats::load(db, op)
            .await
            .map(|d| (d.organizations, d.projects, d.tasks_open));
        note(
            format!("{name}: dashboard (organizations, projects, open tasks)"),
            format!("{d:?}"),
        );
    }
    // Writes, in an order where each success leaves the next case's ground as it found it.
    for (name, _) in ACTORS {
        let x = a(name);
        let (db, op) = (&x.db, &x.op);
        note(
            format!("{name}: rename the org"),
            outcome(orgs::rename(db, op, "power", &format!("Power by {name}")).await),
        );
        note(
            format!("{name}: org settings"),
            outcome(orgs::set_settings(db, op, "power", serde_json::json!({ "by": name })).await),
        );
        note(
            format!("{name}: add a member"),
            outcome(orgs::set_member(db, op, "power", "admin@ncy-8.com", OrgRole::MEMBER).await),
        );
        note(
            format!("{name}: remove a member"),
            outcome(orgs::remove_member(db, op, "power", "admin@ncy-8.com").await),
        );
        let team = format!("Team {name}");
        note(
            format!("{name}: create a team"),
            outcome(orgs::create_team(db, op, "power", &team, None).await),
        );
        note(
            format!("{name}: rename the team"),
            outcome(orgs::rename_team(db, op, "power", "Crew", &format!("Crew {name}")).await),
        );
        // Put the team's name back for the next actor (as the global admin).
        let _ = orgs::rename_team(
            &w.actors["owner"].db,
            &w.actors["owner"].op,
            "power",
            &format!("Crew {name}"),
            "Crew",
        )
        .await;
        note(
            format!("{name}: add a team member"),
            outcome(orgs::team_member(db, op, "power", "Crew", &email("member"), true).await),
        );
        note(
            format!("{name}: remove a team member"),
            outcome(orgs::team_member(db, op, "power", "Crew", &email("member"), false).await),
        );
        note(
            format!("{name}: create a project"),
            outcome(projects::create(db, op, "power", &format!("P {name}"), None, None).await),
        );
        let patch = ProjectPatch {
            description: Some(Some(format!("by {name}"))),
            ..Default::default()
        };
        note(
            format!("{name}: edit the project"),
            outcome(projects::update(db, op, w.project, &patch).await),
        );
        let new = NewTask {
            project_id: w.project,
            title: format!("by {name}"),
            ..Default::default()
        };
        note(
            format!("{name}: create a task"),
            outcome(tasks::create(db, op, &new).await),
        );
        let review = TaskPatch {
            status: Some(TaskStatus::REVIEW),
            metadata: Some(serde_json::json!({ "reviewed_by": name })),
            ..Default::default()
        };
        note(
            format!("{name}: review the member's task"),
            outcome(tasks::update(db, op, w.mine, &review).await),
        );
        let retitle = TaskPatch {
            title: Some(format!("retitled by {name}")),
            ..Default::default()
        };
        note(
            format!("{name}: retitle the member's task"),
            outcome(tasks::update(db, op, w.mine, &retitle).await),
        );
        note(
            format!("{name}: retitle the unassigned task"),
            outcome(tasks::update(db, op, w.other, &retitle).await),
        );
        let hand_over = TaskPatch {
            assignee_id: Some(None),
            ..Default::default()
        };
        let handed = tasks::update(db, op, w.mine, &hand_over).await;
        let handed_ok = handed.is_ok();
        note(
            format!("{name}: unassign the member's task"),
            outcome(handed),
        );
        if handed_ok {
            let back = TaskPatch {
                assignee_id: Some(Some(w.member_id)),
                ..Default::default()
            };
            tasks::update(&w.actors["owner"].db, &w.actors["owner"].op, w.mine, &back)
                .await
                .expect("assign back");
        }
        note(
            format!("{name}: bulk-edit both tasks"),
            outcome(
                tasks::bulk_update(db, op, &[w.mine, w.other], &retitle, ncy_core::Work::none())
                    .await,
            ),
        );
        let deleted = tasks::delete(db, op, w.other).await;
        let deleted_ok = deleted.is_ok();
        note(
            format!("{name}: delete the unassigned task"),
            outcome(deleted),
        );
        if deleted_ok {
            note(
                format!("{name}: restore the unassigned task"),
                outcome(tasks::restore(db, op, w.other).await),
            );
        }
        let moved = orgs::transfer(db, op, "power", &email("admin")).await;
        let moved_ok = moved.is_ok();
        note(format!("{name}: transfer the org"), outcome(moved));
        if moved_ok {
            // `admin` is the OWNER now, and hands it back (the owner is ADMIN meanwhile).
            let back = &w.actors["admin"];
            note(
                format!("{name}: the new owner transfers it back"),
                outcome(orgs::transfer(&back.db, &back.op, "power", &email(name)).await),
            );
        }
        let gone = orgs::delete(db, op, "power").await;
        let gone_ok = gone.is_ok();
        note(format!("{name}: delete the org"), outcome(gone));
        if gone_ok {
            note(
                format!("{name}: restore the org"),
                outcome(orgs::restore(db, op, "power").await),
            );
        }
    }
    out
}

/// The outcome of a call on something the actor sees (`visible`) and may (`allowed`) change.
fn answer(visible: bool, allowed: bool) -> &'static str {
    match (visible, allowed) {
        (false, _) => "not found",
        (true, true) => "ok",
        (true, false) => "forbidden",
    }
}

/// What each actor may do, as the database's row policies (migration 0010) have it.
fn expected() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut note = |case: String, o: &str| out.push((case, o.to_owned()));
    for (name, role) in ACTORS {
        let member = role.is_some();
        let manage = matches!(
            role,
            Some(OrgRole::OWNER | OrgRole::ADMIN | OrgRole::MANAGER)
        );
        let seen = |b: bool| answer(b, true);
        note(format!("{name}: org listed"), &format!("Ok({member})"));
        note(format!("{name}: org show"), seen(member));
        note(format!("{name}: project listed"), &format!("Ok({member})"));
        note(format!("{name}: project show"), seen(member));
        note(
            format!("{name}: tasks listed (mine, other)"),
            &format!("Ok(({}, {manage}))", manage || *name == "member"),
        );
        note(
            format!("{name}: show the member's task"),
            seen(manage || *name == "member"),
        );
        note(format!("{name}: show the unassigned task"), seen(manage));
        note(format!("{name}: members"), seen(member));
        note(format!("{name}: teams"), seen(member));
        note(format!("{name}: users of the org"), seen(member));
        note(
            format!("{name}: a member's detail lists the org"),
            &format!("Ok({member})"),
        );
        let open = if manage {
            2
        } else if member {
            1
        } else {
            0
        };
        let n = i64::from(member);
        note(
            format!("{name}: dashboard (organizations, projects, open tasks)"),
            &format!("Ok((Some({n}), Some({n}), Some({open})))"),
        );
    }
    for (name, role) in ACTORS {
        let member = role.is_some();
        let edit = matches!(role, Some(OrgRole::OWNER | OrgRole::ADMIN));
        let own = matches!(role, Some(OrgRole::OWNER));
        let manage = edit || matches!(role, Some(OrgRole::MANAGER));
        let assignee = *name == "member";
        // Not a member: the organization and everything in it is not there.
        let may = |b: bool| answer(member, b);
        note(format!("{name}: rename the org"), may(edit));
        note(format!("{name}: org settings"), may(edit));
        note(format!("{name}: add a member"), may(edit));
        note(format!("{name}: remove a member"), may(edit));
        note(format!("{name}: create a team"), may(manage));
        note(format!("{name}: rename the team"), may(manage));
        note(format!("{name}: add a team member"), may(manage));
        note(format!("{name}: remove a team member"), may(manage));
        note(format!("{name}: create a project"), may(manage));
        note(format!("{name}: edit the project"), may(manage));
        note(format!("{name}: create a task"), may(manage));
        // The member's own task: hidden from those who may not see it.
        let own_task = |b: bool| answer(manage || assignee, b);
        note(format!("{name}: review the member's task"), own_task(true));
        note(format!("{name}: retitle the member's task"), own_task(true));
        note(
            format!("{name}: retitle the unassigned task"),
            if manage { "ok" } else { "not found" },
        );
        note(
            format!("{name}: unassign the member's task"),
            own_task(manage),
        );
        note(
            format!("{name}: bulk-edit both tasks"),
            if manage { "ok" } else { "not found" },
        );
        note(
            format!("{name}: delete the unassigned task"),
            if manage { "ok" } else { "not found" },
        );
        if manage {
            note(format!("{name}: restore the unassigned task"), "ok");
        }
        note(format!("{name}: transfer the org"), may(own));
        if own {
            note(format!("{name}: the new owner transfers it back"), "ok");
        }
        note(format!("{name}: delete the org"), may(own));
        if own {
            note(format!("{name}: restore the org"), "ok");
        }
    }
    out
}

/// Runs `q` as the actor in a transaction that is rolled back: the rows it touched, or the
/// refusal.
async fn probe(db: &Db, q: &str) -> String {
    let mut tx = db.begin().await.expect("begin");
    let r = tx.execute(q, &[]).await;
    tx.rollback().await.expect("rollback");
    match r {
        Ok(n) => n.to_string(),
        Err(Error::Forbidden { .. }) => "forbidden".into(),
        Err(e) => format!("error: {e}"),
    }
}

/// Plain SQL as each actor (what psql as that login would do), and what the policies must
/// answer: rows touched, 0 when the row is hidden, or a refusal.
async fn sql_cases(w: &World, org: Uuid) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let (mut got, mut want) = (Vec::new(), Vec::new());
    for (name, role) in ACTORS {
        let edit = matches!(role, Some(OrgRole::OWNER | OrgRole::ADMIN));
        let own = matches!(role, Some(OrgRole::OWNER));
        let manage = edit || matches!(role, Some(OrgRole::MANAGER));
        let member = role.is_some();
        let n = |b: bool, k: &str| if b { k.to_owned() } else { "0".to_owned() };
        let cases = [
            (
                format!(r#"UPDATE "Organization" SET "name" = "name" WHERE "id" = '{org}'"#),
                n(edit, "1"),
            ),
            (
                format!(r#"UPDATE "Organization" SET "deleted_at" = now() WHERE "id" = '{org}'"#),
                if edit && !own {
                    "forbidden".into()
                } else {
                    n(own, "1")
                },
            ),
            (
                format!(
                    r#"UPDATE "OrganizationMember" SET "role" = "role" WHERE "organization_id" = '{org}'"#
                ),
                n(edit, "4"),
            ),
            (
                format!(r#"UPDATE "Team" SET "name" = "name" WHERE "organization_id" = '{org}'"#),
                n(manage, "1"),
            ),
            (
                format!(
                    r#"UPDATE "Project" SET "name" = "name" WHERE "organization_id" = '{org}'"#
                ),
                n(manage, "1"),
            ),
            (
                format!(
                    r#"UPDATE "Task" SET "title" = "title" WHERE "id" = '{}'"#,
                    w.mine
                ),
                n(manage || *name == "member", "1"),
            ),
            (
                format!(
                    r#"UPDATE "Task" SET "title" = "title" WHERE "id" = '{}'"#,
                    w.other
                ),
                n(manage, "1"),
            ),
            (
                format!(
                    r#"UPDATE "Task" SET "assignee_id" = NULL WHERE "id" = '{}'"#,
                    w.mine
                ),
                if member && !manage && *name == "member" {
                    "forbidden".into()
                } else {
                    n(manage, "1")
                },
            ),
        ];
        for (q, expect) in cases {
            got.push((format!("{name}: {q}"), probe(&w.actors[name].db, &q).await));
            want.push((format!("{name}: {q}"), expect));
        }
    }
    (got, want)
}

fn check(label: &str, got: Vec<(String, String)>) {
    compare(label, expected(), got);
}

fn compare(label: &str, want: Vec<(String, String)>, got: Vec<(String, String)>) {
    let diffs: Vec<String> = want
        .iter()
        .filter_map(|(case, w)| match got.iter().find(|(c, _)| c == case) {
            Some((_, g)) if g == w => None,
            Some((_, g)) => Some(format!("{case}: expected {w}, got {g}")),
            None => Some(format!("{case}: expected {w}, not run")),
        })
        .chain(
            got.iter()
                .filter(|(c, _)| !want.iter().any(|(w, _)| w == c))
                .map(|(c, g)| format!("{c}: not expected, got {g}")),
        )
        .collect();
    assert!(
        diffs.is_empty() && want.len() == got.len(),
        "{label}: {} of {} cases differ ({} expected, {} run):\n{}",
        diffs.len(),
        want.len(),
        want.len(),
        got.len(),
        diffs.join("\n")
    );
}

conformance!(
    organization_roles_bound_what_a_manager_may_do,
    |store: Store| async move {
        let db = store.db.clone();
        let (_, mut w) = setup(&db).await;
        for (name, _) in ACTORS {
            let op = login_as(&db, &email(name), PASSWORD).await;
            w.actors.insert(*name, Actor { db: db.clone(), op });
        }
        check(&format!("{:?}", store.dialect()), run(&w).await);
    }
);

/// The same cases over each actor's own PostgreSQL login: the row policies decide, and they
/// agree with the app case for case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_logins_agree_with_the_app_case_for_case() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let (admin, mut w) = setup(&db).await;
    for (name, _) in ACTORS {
        let p = ncy_core::admin::operators::provision(&db, &admin, &email(name), Some(PASSWORD))
            .await
            .expect("provision");
        let own = connect_as(&url_as(&url, &p.db_role, PASSWORD))
            .await
            .expect("operator login");
        let op = ncy_core::auth::identify(&own, ncy_core::auth::Client::Cli)
            .await
            .expect("identify")
            .expect("mapped to its user");
        w.actors.insert(*name, Actor { db: own, op });
    }
    let org = orgs::get(&db, &admin, "power")
        .await
        .expect("org")
        .organization
        .id;
    let (got, want) = sql_cases(&w, org).await;
    compare("plain SQL on operator logins", want, got);
    check("the app on operator logins", run(&w).await);
}

/// The tasks an actor's new offline cache of the organization holds, or the refusal.
async fn cached_tasks(server: &Db, url: &str, op: &Operator, w: &World) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ncy_sync::cache::new_key();
    let r = ncy_sync::initial::init_at(
        server.pg().expect("a PostgreSQL store"),
        url,
        op,
        &["power".to_owned()],
        &dir.path().join("cache.db"),
        &key,
        Default::default(),
    )
    .await;
    match r {
        Ok((cache, _)) => {
            let ids: Vec<String> = cache
                .db
                .query(r#"SELECT "id" FROM "Task""#, &[])
                .await
                .expect("cached tasks")
                .iter()
                .map(|r| r.text("id").expect("id"))
                .collect();
            cache.db.close().await;
            let has = |id: Uuid| ids.contains(&id.to_string());
            format!("mine {}, other {}", has(w.mine), has(w.other))
        }
        Err(e) => outcome::<()>(Err(e)),
    }
}

/// An offline cache holds what its operator may read online: every task of an organization
/// they manage, only their own where they are a plain MEMBER, nothing of one they are not in.
/// The same on the shared login (the app decides) and on their own logins (the policies do).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_caches_hold_what_the_organization_role_may_read() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let (admin, w) = setup(&db).await;
    let want = |name: &str| match name {
        "member" => "mine true, other false",
        "out" => "not found",
        _ => "mine true, other true",
    };
    for (name, _) in ACTORS {
        let op = login_as(&db, &email(name), PASSWORD).await;
        assert_eq!(
            cached_tasks(&db, &url, &op, &w).await,
            want(name),
            "{name} on the shared login"
        );
        let p = ncy_core::admin::operators::provision(&db, &admin, &email(name), Some(PASSWORD))
            .await
            .expect("provision");
        let own_url = url_as(&url, &p.db_role, PASSWORD);
        let own = connect_as(&own_url).await.expect("operator login");
        let op = ncy_core::auth::identify(&own, ncy_core::auth::Client::Cli)
            .await
            .expect("identify")
            .expect("mapped to its user");
        assert_eq!(
            cached_tasks(&own, &own_url, &op, &w).await,
            want(name),
            "{name} on their own login"
        );
    }
}
