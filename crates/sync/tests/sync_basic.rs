//! Sync against a real PostgreSQL and real encrypted SQLite files.
#![allow(clippy::useless_vec)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use ncy_core::admin::tasks::TaskPatch;
use ncy_core::auth::perm;
use ncy_core::db::{Cipher, CipherHmac};
use ncy_core::model::TaskStatus;
use ncy_core::{params, Error};
use ncy_sync::{conflicts, edit_task, pull, push, Cache, Ctl, Resolution};

async fn first_task(c: &Cache) -> uuid::Uuid {
    c.db.query(
        r#"SELECT "id" FROM "Task" WHERE "deleted_at" IS NULL ORDER BY "id" LIMIT 1"#,
        &[],
    )
    .await
    .unwrap()[0]
        .uuid("id")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_pulls_exactly_the_slice_without_secrets() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    assert_matches(&s.db, &c).await;
    let st = c.status().await.unwrap();
    assert!(st.initial_sync_done);
    assert_eq!(
        st.rows["Task"], 10,
        "the dev seed's 10 tasks, not the other org's"
    );
    let hashes =
        c.db.query(r#"SELECT DISTINCT "password_hash" AS h FROM "User""#, &[])
            .await
            .unwrap();
    assert_eq!(hashes.len(), 1);
    assert_eq!(hashes[0].text("h").unwrap(), "!cache");
    for t in ["Session", "ApiKey", "LoginAttempt"] {
        let n =
            c.db.query(&format!(r#"SELECT count(*) AS n FROM "{t}""#), &[])
                .await
                .unwrap()[0]
                .int("n")
                .unwrap();
        assert_eq!(n, 0, "{t} never reaches the cache");
    }
    let outsider =
        c.db.query(
            r#"SELECT count(*) AS n FROM "User" WHERE "email" = 'outsider@other.test'"#,
            &[],
        )
        .await
        .unwrap()[0]
            .int("n")
            .unwrap();
    assert_eq!(outsider, 0, "users outside the slice stay out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_key_is_a_clear_error() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    let path = c.path.clone();
    drop(c);
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        !bytes.windows(15).any(|w| w == b"SQLite format 3"),
        "the file is encrypted"
    );
    for key in [ncy_sync::cache::new_key(), String::new()] {
        match Cache::open(&path, &key).await {
            Err(Error::LocalStore {
                reason, path: p, ..
            }) => {
                assert!(p.contains("cache.db"));
                assert!(
                    reason.contains("key") || reason.contains("encrypted"),
                    "{reason}"
                );
            }
            other => panic!("expected a LocalStore error, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edit_is_pushed_once_and_audited_with_local_time() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    let id = first_task(&c).await;
    // Offline, the admin keeps its reads and task edits, and nothing that could not be pushed.
    let offline = c.offline_operator().await.unwrap();
    assert!(offline.can(perm::USERS_READ) && offline.can(perm::TASKS_WRITE));
    for p in [
        perm::USERS_WRITE,
        perm::BACKUPS_RUN,
        perm::GDPR_HANDLE,
        perm::SETTINGS_WRITE,
    ] {
        assert!(s.admin.can(p) && !offline.can(p), "{p}");
    }
    let patch = TaskPatch {
        status: Some(TaskStatus::REVIEW),
        title: Some("reviewed offline".into()),
        ..Default::default()
    };
    let e = edit_task(&c, &offline, id, &patch)
        .await
        .unwrap()
        .expect("a change");
    assert_eq!(e.new["title"], "reviewed offline");
    // The cache shows the edit before any push.
    let t =
        c.db.query(
            r#"SELECT "title" FROM "Task" WHERE "id" = $1"#,
            &params![id],
        )
        .await
        .unwrap();
    assert_eq!(t[0].text("title").unwrap(), "reviewed offline");
    // A write that bypasses the outbox would never be pushed: the cache refuses it.
    let lost = TaskPatch {
        title: Some("lost".into()),
        ..Default::default()
    };
    let err = ncy_core::admin::tasks::update(&c.db, &offline, id, &lost)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sync-aware"), "{err}");
    let rep = push::push(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!((rep.pushed, rep.applied), (1, 1));
    let row = q(
        &s.db,
        r#"SELECT "title", "status"::text AS s FROM "Task" WHERE "id" = $1"#,
        params![id],
    )
    .await;
    assert_eq!(row[0].text("title").unwrap(), "reviewed offline");
    assert_eq!(row[0].text("s").unwrap(), "REVIEW");
    // A retry of the same mutation (the client died before recording it) applies nothing.
    let again = push::apply_one(&s.db, &s.admin, &e, Ctl::default())
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.status, "applied");
    let audits = q(
        &s.db,
        r#"SELECT "new_value" FROM "AuditLog" WHERE "target_id" = $1 AND "action" = 'TASK_UPDATE'"#,
        params![id],
    )
    .await;
    assert_eq!(audits.len(), 1, "applied once");
    let nv = audits[0].opt_json("new_value").unwrap().unwrap();
    assert_eq!(nv["_sync"]["mutation_id"], e.mutation_id.to_string());
    assert_eq!(
        nv["_sync"]["local_time"],
        ncy_core::db::format_ts(&e.local_time)
    );
    let n = q(
        &s.db,
        r#"SELECT count(*) AS n FROM "SyncMutation" WHERE "id" = $1"#,
        params![e.mutation_id],
    )
    .await;
    assert_eq!(n[0].int("n").unwrap(), 1);
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_matches(&s.db, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_merge_per_field_and_conflicts_resolve() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    let id = first_task(&c).await;
    let offline = c.operator().await.unwrap();
    let base_title =
        c.db.query(
            r#"SELECT "title" FROM "Task" WHERE "id" = $1"#,
            &params![id],
        )
        .await
        .unwrap()[0]
            .text("title")
            .unwrap();
    // Offline: title and priority. Online meanwhile: title (conflict) and status (untouched
    // offline).
    edit_task(
        &c,
        &offline,
        id,
        &TaskPatch {
            title: Some("mine".into()),
            priority: Some(ncy_core::model::TaskPriority::URGENT),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    ncy_core::admin::tasks::update(
        &s.db,
        &s.admin,
        id,
        &TaskPatch {
            title: Some("theirs".into()),
            status: Some(TaskStatus::DONE),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let rep = ncy_sync::run(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap()
        .0;
    assert_eq!(rep.conflicts, 1);
    let row = q(
        &s.db,
        r#"SELECT "title", "priority"::text AS p, "status"::text AS s FROM "Task" WHERE "id" = $1"#,
        params![id],
    )
    .await;
    assert_eq!(
        row[0].text("title").unwrap(),
        "theirs",
        "a conflicting field is not applied"
    );
    assert_eq!(row[0].text("p").unwrap(), "URGENT", "a clean field is");
    assert_eq!(row[0].text("s").unwrap(), "DONE");
    assert_matches(&s.db, &c).await;
    let open = conflicts::list(&c, false).await.unwrap();
    assert_eq!(open.len(), 1);
    let k = &open[0];
    assert_eq!(k.field, "title");
    assert_eq!(k.base, serde_json::json!(base_title));
    assert_eq!(k.mine, serde_json::json!("mine"));
    assert_eq!(k.theirs, serde_json::json!("theirs"));
    // Keep mine: a new mutation whose base is theirs; it applies on the next push.
    let r = conflicts::resolve(&c, &offline, k.id, &Resolution::Mine)
        .await
        .unwrap();
    let m = r.mutation.expect("keeping mine queues a mutation");
    assert_eq!(m.base["title"], "theirs");
    assert!(conflicts::resolve(&c, &offline, k.id, &Resolution::Theirs)
        .await
        .is_err());
    let rep = ncy_sync::run(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap()
        .0;
    assert_eq!(rep.applied, 1);
    let row = q(
        &s.db,
        r#"SELECT "title" FROM "Task" WHERE "id" = $1"#,
        params![id],
    )
    .await;
    assert_eq!(row[0].text("title").unwrap(), "mine");
    assert!(conflicts::list(&c, false).await.unwrap().is_empty());
    assert_matches(&s.db, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_deleted_on_the_server_while_edited_offline_is_a_conflict() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    let ids: Vec<uuid::Uuid> =
        c.db.query(r#"SELECT "id" FROM "Task" ORDER BY "id" LIMIT 2"#, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.uuid("id").unwrap())
            .collect();
    let offline = c.operator().await.unwrap();
    for id in &ids {
        edit_task(
            &c,
            &offline,
            *id,
            &TaskPatch {
                title: Some("offline".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    q(
        &s.db,
        r#"DELETE FROM "Task" WHERE "id" = $1"#,
        params![ids[0]],
    )
    .await;
    ncy_core::admin::tasks::delete(&s.db, &s.admin, ids[1])
        .await
        .unwrap();
    let (p, _) = ncy_sync::run(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(p.conflicts, 2);
    let open = conflicts::list(&c, false).await.unwrap();
    assert_eq!(open.len(), 2);
    assert!(open
        .iter()
        .all(|k| k.mine == serde_json::json!("offline") && k.reason.contains("deleted")));
    assert_matches(&s.db, &c).await;
    let err = conflicts::resolve(&c, &offline, open[0].id, &Resolution::Mine)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("deleted on the server"), "{err}");
    conflicts::resolve(&c, &offline, open[0].id, &Resolution::Theirs)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_commits_late_is_still_pulled() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    let ids: Vec<uuid::Uuid> =
        c.db.query(r#"SELECT "id" FROM "Task" ORDER BY "id" LIMIT 2"#, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.uuid("id").unwrap())
            .collect();
    // A takes the earlier change sequence number, B a later one; B commits first.
    let mut a = s.db.begin().await.unwrap();
    a.execute(
        r#"UPDATE "Task" SET "title" = 'late A' WHERE "id" = $1"#,
        &params![ids[0]],
    )
    .await
    .unwrap();
    let mut b = s.db.begin().await.unwrap();
    b.execute(
        r#"UPDATE "Task" SET "title" = 'early B' WHERE "id" = $1"#,
        &params![ids[1]],
    )
    .await
    .unwrap();
    b.commit().await.unwrap();
    let seqs = q(&s.db, r#"SELECT max("seq") AS m FROM "SyncChange""#, vec![]).await;
    let b_seq = seqs[0].int("m").unwrap();
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    let title = |id| {
        let c = c.clone();
        async move {
            c.db.query(
                r#"SELECT "title" FROM "Task" WHERE "id" = $1"#,
                &params![id],
            )
            .await
            .unwrap()[0]
                .text("title")
                .unwrap()
        }
    };
    assert_eq!(title(ids[1]).await, "early B");
    a.commit().await.unwrap();
    let a_seq = q(
        &s.db,
        r#"SELECT min("seq") AS m FROM "SyncChange" WHERE "row_id" = $1"#,
        params![ids[0]],
    )
    .await[0]
        .int("m")
        .unwrap();
    assert!(
        a_seq < b_seq,
        "A holds the earlier sequence number ({a_seq} < {b_seq})"
    );
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(
        title(ids[0]).await,
        "late A",
        "the late commit is not skipped"
    );
    assert_eq!(title(ids[1]).await, "early B");
    assert_matches(&s.db, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_moves_and_membership_changes_reach_the_cache() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    let t = q(
        &s.db,
        r#"SELECT "id" FROM "Task" WHERE "project_id" = $1 ORDER BY "id""#,
        params![s.projects[0]],
    )
    .await;
    // Hard delete, soft delete, a project moving out of the slice, and one moving in.
    q(
        &s.db,
        r#"DELETE FROM "Task" WHERE "id" = $1"#,
        params![t[0].uuid("id").unwrap()],
    )
    .await;
    q(
        &s.db,
        r#"UPDATE "Task" SET "deleted_at" = now() WHERE "id" = $1"#,
        params![t[1].uuid("id").unwrap()],
    )
    .await;
    q(
        &s.db,
        r#"UPDATE "Project" SET "organization_id" = $2 WHERE "id" = $1"#,
        params![s.projects[1], s.other_org],
    )
    .await;
    q(
        &s.db,
        r#"UPDATE "Project" SET "organization_id" = $2 WHERE "id" = $1"#,
        params![s.other_project, s.org],
    )
    .await;
    q(
        &s.db,
        r#"UPDATE "OrganizationMember" SET "deleted_at" = now() WHERE "organization_id" = $1"#,
        params![s.org],
    )
    .await;
    q(
        &s.db,
        r#"UPDATE "User" SET "status" = 'SUSPENDED' WHERE "email" = 'employee@test-org.com'"#,
        vec![],
    )
    .await;
    // Team membership: a user from outside joins a team of the other organization, then that
    // team moves in with its members while the seed's team moves out with its own.
    let team = q(
        &s.db,
        r#"SELECT "id" FROM "Team" WHERE "organization_id" = $1"#,
        params![s.org],
    )
    .await[0]
        .uuid("id")
        .unwrap();
    let other_team = uuid::Uuid::new_v4();
    q(
        &s.db,
        r#"INSERT INTO "Team" ("id", "organization_id", "name") VALUES ($1, $2, 'Elsewhere')"#,
        params![other_team, s.other_org],
    )
    .await;
    q(
        &s.db,
        r#"INSERT INTO "TeamMember" ("team_id", "user_id") SELECT $1, "id" FROM "User" WHERE "email" = 'outsider@other.test'"#,
        params![other_team],
    )
    .await;
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_matches(&s.db, &c).await;
    q(
        &s.db,
        r#"UPDATE "Team" SET "organization_id" = $2 WHERE "id" = $1"#,
        params![other_team, s.org],
    )
    .await;
    q(
        &s.db,
        r#"UPDATE "Team" SET "organization_id" = $2 WHERE "id" = $1"#,
        params![team, s.other_org],
    )
    .await;
    let rep = pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert!(rep.changes > 0 && rep.removed > 0);
    assert_matches(&s.db, &c).await;
    let outsider =
        c.db.query(
            r#"SELECT count(*) AS n FROM "User" WHERE "email" = 'outsider@other.test'"#,
            &[],
        )
        .await
        .unwrap()[0]
            .int("n")
            .unwrap();
    assert_eq!(
        outsider, 1,
        "the assignee of a task that moved in comes along"
    );
    // A transaction left open elsewhere in the cluster (another database) does not make the
    // next pull read old changes again: the cursor is the snapshot, not just its xmin.
    let (other, _) = ncy_tests::fresh_pg().await;
    let mut open = other.begin().await.unwrap();
    open.query("SELECT pg_current_xact_id()::text AS x", &[])
        .await
        .unwrap();
    let rep = pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(rep.changes, 0, "nothing new, nothing re-read");
    q(
        &s.db,
        r#"UPDATE "Task" SET "title" = 'while another db waits' WHERE "id" = $1"#,
        params![t[2].uuid("id").unwrap()],
    )
    .await;
    let rep = pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(rep.changes, 1);
    open.rollback().await.unwrap();
    assert_matches(&s.db, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_can_be_cancelled_and_resumed() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let key = ncy_sync::cache::new_key();
    let cancel = AtomicBool::new(false);
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |p: ncy_sync::Progress| {
        // Cancel once the first Task batch is stored.
        if p.phase.contains("Task") {
            cancel.store(true, Ordering::Relaxed);
        }
        seen.lock().unwrap().push(p);
    };
    let ctl = Ctl {
        work: ncy_sync::Work::new(&progress, Some(&cancel)),
        batch: Some(3),
        ..Default::default()
    };
    let path = dir.path().join("cache.db");
    let err = ncy_sync::initial::init_at(
        &s.db,
        &s.url,
        &s.admin,
        &["test-org".into()],
        &path,
        &key,
        ctl,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled));
    let c = Cache::open(&path, &key).await.unwrap();
    let partial = c.status().await.unwrap();
    assert!(!partial.initial_sync_done);
    assert_eq!(partial.rows["Task"], 3, "one batch of tasks was kept");
    assert!(
        !index_sql(&c)
            .await
            .iter()
            .any(|s| s.contains(r#"ON "Task""#)),
        "the first sync makes the tables' indexes at its end"
    );
    {
        let p = seen.lock().unwrap();
        assert!(p.iter().all(|x| x.done <= x.total && x.total > 0));
    }
    // A change while the first sync is interrupted reaches the cache through the feed.
    let t = q(
        &s.db,
        r#"SELECT "id" FROM "Task" WHERE "project_id" = ANY($1::uuid[]) ORDER BY "id""#,
        vec![ncy_core::db::Value::TextArray(
            s.projects.iter().map(|p| p.to_string()).collect(),
        )],
    )
    .await;
    let last = t.last().unwrap().uuid("id").unwrap();
    q(
        &s.db,
        r#"DELETE FROM "Task" WHERE "id" = $1"#,
        params![t[0].uuid("id").unwrap()],
    )
    .await;
    q(
        &s.db,
        r#"UPDATE "Task" SET "title" = 'changed meanwhile' WHERE "id" = $1"#,
        params![last],
    )
    .await;
    // Killed just before a batch commits: nothing of that batch is kept, the resume redoes it.
    let crash = |p: &str| p == "initial:before-commit";
    let err = ncy_sync::initial::initial_sync(
        &s.db,
        &c,
        Ctl {
            batch: Some(3),
            fault: Some(&crash),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("simulated crash"));
    assert_eq!(c.status().await.unwrap().rows["Task"], 3);
    let rep = ncy_sync::initial::initial_sync(
        &s.db,
        &c,
        Ctl {
            batch: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(rep.resumed);
    // The indexes the first sync set aside are back, as a new cache has them. SQLite sorted
    // their keys in memory: this build keeps temporary data in memory, never in a plaintext file.
    let temp_in_memory = q(
        &c.db,
        "SELECT count(*) AS n FROM pragma_compile_options WHERE compile_options = 'TEMP_STORE=2'",
        vec![],
    )
    .await[0]
        .int("n")
        .unwrap();
    assert_eq!(temp_in_memory, 1);
    let fresh = Cache::create(&dir.path().join("fresh.db"), &key)
        .await
        .unwrap();
    assert_eq!(index_sql(&c).await, index_sql(&fresh).await);
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_matches(&s.db, &c).await;
}

/// The `CREATE INDEX` statements of a cache, sorted.
async fn index_sql(c: &Cache) -> Vec<String> {
    c.db.query(
        r#"SELECT "sql" FROM "sqlite_master" WHERE "type" = 'index' AND "sql" IS NOT NULL ORDER BY "name""#,
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.text("sql").unwrap())
    .collect()
}

// A private cluster: transaction ids are cluster-wide, and other tests' open transactions would
// make the "fresh" cache's cursor look older than the pruned changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_the_feed_makes_a_stale_cache_rebuild_and_leaves_a_fresh_one_alone() {
    let cluster = ncy_tests::cluster::Cluster::start(ncy_tests::cluster::Options {
        stat_statements: false,
        archive: false,
        fast: true,
    })
    .unwrap();
    let url = cluster.url("postgres");
    ncy_tests::cluster::stop_at_exit(cluster);
    let db = ncy_core::db::Db::connect(
        &ncy_core::db::Target::Postgres(url.clone()),
        &ncy_tests::small_pool(),
    )
    .await
    .unwrap();
    let db = db.pg().expect("a PostgreSQL store").clone();
    let set = ncy_core::migrate::MigrationSet::embedded(db.dialect()).unwrap();
    ncy_core::migrate::up(&db, &set).await.unwrap();
    let admin = ncy_tests::seeded_admin(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let init = |name: &'static str| {
        let (db, url, admin, dir) = (
            db.clone(),
            url.clone(),
            admin.clone(),
            dir.path().to_owned(),
        );
        async move {
            ncy_sync::initial::init_at(
                &db,
                &url,
                &admin,
                &["test-org".to_owned()],
                &dir.join(name),
                &ncy_sync::cache::new_key(),
                Ctl::default(),
            )
            .await
            .unwrap()
            .0
        }
    };
    let stale = init("stale.db").await;
    let offline = stale.operator().await.unwrap();
    let id = first_task(&stale).await;
    edit_task(
        &stale,
        &offline,
        id,
        &TaskPatch {
            title: Some("kept across the rebuild".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    q(&db, r#"UPDATE "Task" SET "title" = 'old change'"#, vec![]).await;
    q(
        &db,
        r#"UPDATE "SyncChange" SET "changed_at" = now() - interval '3 days'"#,
        vec![],
    )
    .await;
    let fresh = init("fresh.db").await;
    assert!(
        ncy_sync::prune::prune(&db, &admin, chrono::Duration::minutes(5))
            .await
            .is_err()
    );
    let rep = ncy_sync::prune::prune(&db, &admin, chrono::Duration::days(1))
        .await
        .unwrap();
    assert!(rep.deleted >= 10);
    let err = pull::pull(&db, &stale, &admin, Ctl::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("sync init"));
    // Its pending edit still goes up; the cache is then rebuilt with `sync init`.
    let p = push::push(&db, &stale, &admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(p.pushed, 1);
    pull::pull(&db, &fresh, &admin, Ctl::default())
        .await
        .unwrap();
    assert_matches(&db, &fresh).await;
    let emp = ncy_tests::login_as(&db, "employee@test-org.com", "employee123").await;
    assert!(matches!(
        ncy_sync::prune::prune(&db, &emp, chrono::Duration::days(1)).await,
        Err(Error::Forbidden { .. })
    ));
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_caches_only_their_own_tasks_and_reviews_them_offline() {
    let s = server().await;
    let emp = ncy_tests::login_as(&s.db, "employee@test-org.com", "employee123").await;
    let (c, _d) = cache(&s, &emp).await;
    assert_matches(&s.db, &c).await;
    let mine = q(
        &s.db,
        r#"SELECT count(*) AS n FROM "Task" WHERE "assignee_id" = $1"#,
        params![emp.user_id],
    )
    .await[0]
        .int("n")
        .unwrap();
    let st = c.status().await.unwrap();
    assert_eq!(st.rows["Task"] as i64, mine);
    assert!(
        mine > 0 && mine < 10,
        "the dev seed assigns some tasks to the employee"
    );
    let id = first_task(&c).await;
    let cur =
        c.db.query(
            r#"SELECT "status" FROM "Task" WHERE "id" = $1"#,
            &params![id],
        )
        .await
        .unwrap()[0]
            .text("status")
            .unwrap();
    let offline = c.offline_operator().await.unwrap();
    // A review (status) is allowed offline; a title change is not (tasks.write).
    let err = edit_task(
        &c,
        &offline,
        id,
        &TaskPatch {
            title: Some("no".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    edit_task(
        &c,
        &offline,
        id,
        &TaskPatch {
            status: Some(if cur == "REVIEW" {
                TaskStatus::IN_PROGRESS
            } else {
                TaskStatus::REVIEW
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .unwrap();
    let (p, _) = ncy_sync::run(&s.db, &c, &emp, Ctl::default())
        .await
        .unwrap();
    assert_eq!(p.applied, 1);
    // Reassigned to someone else on the server: the task leaves this cache.
    q(
        &s.db,
        r#"UPDATE "Task" SET "assignee_id" = NULL WHERE "id" = $1"#,
        params![id],
    )
    .await;
    pull::pull(&s.db, &c, &emp, Ctl::default()).await.unwrap();
    assert_matches(&s.db, &c).await;
    assert_eq!(c.status().await.unwrap().rows["Task"] as i64, mine - 1);
}

/// A pull that writes hundreds of rows leaves the WAL checkpoint to a background thread: the
/// cache still matches the server after it, and after a second big pull on top of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_pulls_match_the_server() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    q(
        &s.db,
        r#"INSERT INTO "Task" ("project_id", "title") SELECT $1, 'bulk ' || g FROM generate_series(1, 400) g"#,
        params![s.projects[0]],
    )
    .await;
    let rep = pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(rep.upserted, 400);
    assert_matches(&s.db, &c).await;
    q(
        &s.db,
        r#"UPDATE "Task" SET "title" = "title" || ' (edited)', "updated_at" = now() WHERE "title" LIKE 'bulk %'"#,
        vec![],
    )
    .await;
    let rep = pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(rep.upserted, 400);
    assert_matches(&s.db, &c).await;
}

/// Cache rows keyed by a uuid lie under their key's rowid (a pull reads each by one descent of
/// the table); a row whose rowid another row already holds, or that an older cache stored
/// elsewhere, is still found and updated through its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_lie_under_their_keys_rowid_and_the_others_are_still_found() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    for t in ["Task", "User", "Project"] {
        let rows = q(
            &c.db,
            &format!(r#"SELECT rowid AS r, "id" FROM "{t}""#),
            vec![],
        )
        .await;
        assert!(!rows.is_empty());
        for r in rows {
            let id = r.text("id").unwrap();
            assert_eq!(
                Some(r.int("r").unwrap()),
                ncy_sync::tables::key_rowid(&id),
                "{t} {id} lies under its key's rowid"
            );
        }
    }
    assert!(
        ncy_sync::tables::key_rowid("00000000-0000-4000-8000-000000000000")
            < ncy_sync::tables::key_rowid("ffffffff-ffff-4fff-bfff-ffffffffffff"),
        "rowids keep the keys' order"
    );
    let a = first_task(&c).await;
    // A twin: the same first 63 bits as `a`, another id. Its rowid is taken by `a`.
    let mut twin = *a.as_bytes();
    twin[15] ^= 0xff;
    let twin = uuid::Uuid::from_bytes(twin);
    assert_eq!(
        ncy_sync::tables::key_rowid(&a.to_string()),
        ncy_sync::tables::key_rowid(&twin.to_string())
    );
    q(
        &s.db,
        r#"INSERT INTO "Task" ("id", "project_id", "title") VALUES ($1, $2, 'twin')"#,
        params![twin, s.projects[0]],
    )
    .await;
    // Another task stored elsewhere, as a cache made before keyed rowids holds it.
    let moved = q(
        &c.db,
        r#"SELECT "id" FROM "Task" WHERE "id" <> $1 AND "deleted_at" IS NULL ORDER BY "id" DESC LIMIT 1"#,
        params![a.to_string()],
    )
    .await[0]
        .text("id")
        .unwrap();
    let mut tx = c.db.begin().await.unwrap();
    ncy_sync::cache::writer_on(&mut tx).await.unwrap();
    tx.execute(
        r#"UPDATE "Task" SET rowid = 42 WHERE "id" = $1"#,
        &params![moved.as_str()],
    )
    .await
    .unwrap();
    ncy_sync::cache::writer_off(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_matches(&s.db, &c).await;
    let at: i64 = q(
        &c.db,
        r#"SELECT rowid AS r FROM "Task" WHERE "id" = $1"#,
        params![twin.to_string()],
    )
    .await[0]
        .int("r")
        .unwrap();
    assert_ne!(Some(at), ncy_sync::tables::key_rowid(&twin.to_string()));
    // Every one of the three changes on the server and reaches the cache.
    q(
        &s.db,
        r#"UPDATE "Task" SET "title" = "title" || ' (edited)', "updated_at" = now() WHERE "id" = ANY($1::uuid[])"#,
        vec![ncy_core::db::Value::TextArray(vec![
            a.to_string(),
            twin.to_string(),
            moved.clone(),
        ])],
    )
    .await;
    let rep = pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(rep.upserted, 3);
    assert_matches(&s.db, &c).await;
    let n = q(
        &c.db,
        r#"SELECT count(*) AS n FROM "Task" WHERE "title" LIKE '% (edited)'"#,
        vec![],
    )
    .await[0]
        .int("n")
        .unwrap();
    assert_eq!(n, 3, "updated in place, none inserted twice");
}

/// The cache's cipher settings, as SQLCipher reports them for the open connection.
/// The value of `PRAGMA name` on the cache's writer connection, as text (SQLCipher answers its
/// own pragmas with text; SQLite's numbers read as text too).
async fn pragma(c: &Cache, name: &str) -> String {
    let sql = format!("PRAGMA {name}");
    c.db.sqlite()
        .expect("a SQLite cache")
        .with_conn(move |conn| {
            conn.query_row(&sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => panic!("PRAGMA {name}: unexpected {other:?}"),
                })
                .map_err(|e| Error::db(e.to_string()))
        })
        .await
        .unwrap()
}

async fn cipher_of(c: &Cache) -> Cipher {
    let n = pragma(c, "page_size").await;
    let hmac = pragma(c, "cipher_hmac_algorithm").await;
    Cipher {
        page_size: n.parse().unwrap(),
        hmac: match hmac.as_str() {
            "HMAC_SHA256" => CipherHmac::Sha256,
            "HMAC_SHA512" => CipherHmac::Sha512,
            other => panic!("unexpected HMAC {other}"),
        },
    }
}

/// Caches are made with small pages and HMAC-SHA256 now ([`ncy_sync::cache::CIPHER`]); a cache
/// made before, with 1 KiB pages and HMAC-SHA512 or with SQLCipher's defaults (4 KiB pages,
/// HMAC-SHA512), still opens with its key alone, syncs both ways, and keeps its format, also
/// when it was left with a write-ahead log (a crash). A wrong key is still a wrong key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_of_earlier_cipher_settings_still_open_and_sync() {
    use ncy_sync::cache::{CIPHER, EARLIER_CIPHERS, LEGACY_CIPHER};
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    // A new cache gets today's settings, and reopens with them.
    let new = dir.path().join("new.db");
    let new_key = ncy_sync::cache::new_key();
    let (c, _) = ncy_sync::initial::init_at(
        &s.db,
        &s.url,
        &s.admin,
        &["test-org".to_owned()],
        &new,
        &new_key,
        Ctl::default(),
    )
    .await
    .unwrap();
    assert_eq!(cipher_of(&c).await, CIPHER);
    assert_eq!(CIPHER.page_size, 1024);
    assert_eq!(CIPHER.hmac, CipherHmac::Sha256);
    drop(c);
    let c = Cache::open(&new, &new_key).await.unwrap();
    assert_eq!(cipher_of(&c).await, CIPHER);
    assert_matches(&s.db, &c).await;
    // A pull sizes the writer's page cache to the file.
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    let size: i64 = pragma(&c, "cache_size").await.parse().unwrap();
    let file = std::fs::metadata(&new).unwrap().len();
    assert_eq!(size, -(ncy_sync::cache::page_cache_kib(file) as i64));
    drop(c);
    assert_wrong_key(&new).await;

    for (i, cipher) in EARLIER_CIPHERS.into_iter().enumerate() {
        earlier_cache_opens_and_syncs(&s, dir.path(), i, cipher, cipher == LEGACY_CIPHER).await;
    }
}

/// Opening `path` with another key is a clear wrong-key error, whatever its cipher settings.
async fn assert_wrong_key(path: &std::path::Path) {
    match Cache::open(path, &ncy_sync::cache::new_key()).await {
        Err(Error::LocalStore { reason, .. }) => assert!(reason.contains("key"), "{reason}"),
        other => panic!("expected a LocalStore error, got {other:?}"),
    }
}

/// A cache made with the earlier `cipher` settings opens, syncs both ways and survives a crash
/// (see above); `plain` says SQLCipher's plain open (no settings given) reads it too.
async fn earlier_cache_opens_and_syncs(
    s: &Server,
    dir: &std::path::Path,
    i: usize,
    cipher: Cipher,
    plain: bool,
) {
    let old = dir.join(format!("old-{i}.db"));
    let key = ncy_sync::cache::new_key();
    let c = ncy_sync::initial::prepare_with(
        &s.db,
        &s.url,
        &s.admin,
        &["test-org".to_owned()],
        &old,
        &key,
        cipher,
    )
    .await
    .unwrap();
    ncy_sync::initial::initial_sync(&s.db, &c, Ctl::default())
        .await
        .unwrap();
    assert_eq!(cipher_of(&c).await, cipher);
    let id = first_task(&c).await;
    drop(c);
    if plain {
        // SQLCipher's defaults are what its plain open (no settings given) reads.
        let plain = ncy_core::db::Db::open_sqlite_encrypted(&old, &key).unwrap();
        assert_eq!(
            plain
                .query("SELECT page_size AS n FROM pragma_page_size()", &[])
                .await
                .unwrap()[0]
                .int("n")
                .unwrap(),
            4096
        );
        drop(plain);
    }

    let c = Cache::open(&old, &key).await.unwrap();
    assert_eq!(cipher_of(&c).await, cipher);
    assert_matches(&s.db, &c).await;
    // Both ways: a server change is pulled, an offline edit is pushed.
    q(
        &s.db,
        r#"UPDATE "Task" SET "title" = 'changed on the server', "updated_at" = now() WHERE "id" = $1"#,
        params![id],
    )
    .await;
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(title_of(&c.db, id).await, "changed on the server");
    let offline = c.offline_operator().await.unwrap();
    let patch = TaskPatch {
        title: Some(format!("edited in old cache {i}")),
        ..Default::default()
    };
    edit_task(&c, &offline, id, &patch)
        .await
        .unwrap()
        .expect("a change");
    let rep = push::push(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(rep.applied, 1);
    assert_eq!(
        title_of(&s.db, id).await,
        format!("edited in old cache {i}")
    );
    q(
        &s.db,
        r#"UPDATE "Task" SET "title" = $2, "updated_at" = now() WHERE "id" = $1"#,
        params![id, format!("after crash {i}")],
    )
    .await;
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_matches(&s.db, &c).await;

    // A crash: the file and its write-ahead log as they are while the cache is open (the last
    // pull is in the log, not yet in the file).
    let wal = |p: &std::path::Path| std::path::PathBuf::from(format!("{}-wal", p.display()));
    assert!(std::fs::metadata(wal(&old)).unwrap().len() > 0, "a log");
    let crashed = dir.join(format!("crashed-{i}.db"));
    std::fs::copy(&old, &crashed).unwrap();
    std::fs::copy(wal(&old), wal(&crashed)).unwrap();
    drop(c);
    let c = Cache::open(&crashed, &key).await.unwrap();
    assert_eq!(cipher_of(&c).await, cipher);
    assert_eq!(title_of(&c.db, id).await, format!("after crash {i}"));
    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_matches(&s.db, &c).await;
    drop(c);
    assert_wrong_key(&old).await;
}

/// Whether the cache holds the user `id`.
async fn cached_user(c: &Cache, id: uuid::Uuid) -> bool {
    c.db.query(
        r#"SELECT count(*) AS n FROM "User" WHERE "id" = $1"#,
        &params![id],
    )
    .await
    .unwrap()[0]
        .int("n")
        .unwrap()
        == 1
}

/// A task's assignee is in the slice while a live task of the slice refers to them: a change of
/// assignee brings the new one and lets the old one go, a change of other columns keeps them
/// (a pull looks up only users whose references changed), deleting the task lets them go and
/// restoring it brings them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignees_follow_their_tasks_references() {
    let s = server().await;
    let mut outsiders = Vec::new();
    for n in 0..2 {
        outsiders.push(
            q(
                &s.db,
                r#"INSERT INTO "User" ("email", "password_hash") VALUES ($1, 'x') RETURNING "id""#,
                params![format!("assignee-{n}@elsewhere.test")],
            )
            .await[0]
                .uuid("id")
                .unwrap(),
        );
    }
    let (old, new) = (outsiders[0], outsiders[1]);
    let task = q(
        &s.db,
        r#"SELECT "id" FROM "Task" WHERE "project_id" = $1 AND "deleted_at" IS NULL ORDER BY "id" LIMIT 1"#,
        params![s.projects[0]],
    )
    .await[0]
        .uuid("id")
        .unwrap();
    q(
        &s.db,
        r#"UPDATE "Task" SET "assignee_id" = $2 WHERE "id" = $1"#,
        params![task, old],
    )
    .await;
    let (c, _d) = cache(&s, &s.admin).await;
    assert!(cached_user(&c, old).await && !cached_user(&c, new).await);

    let set_assignee =
        r#"UPDATE "Task" SET "assignee_id" = $2, "updated_at" = now() WHERE "id" = $1"#;
    change_and_pull(&s, &c, set_assignee, params![task, new]).await;
    assert!(cached_user(&c, new).await, "the new assignee comes along");
    assert!(!cached_user(&c, old).await, "the old one leaves the slice");

    let retitle =
        r#"UPDATE "Task" SET "title" = 'same assignee', "updated_at" = now() WHERE "id" = $1"#;
    change_and_pull(&s, &c, retitle, params![task]).await;
    assert!(cached_user(&c, new).await, "an unchanged assignee stays");

    let delete = r#"UPDATE "Task" SET "deleted_at" = now() WHERE "id" = $1"#;
    change_and_pull(&s, &c, delete, params![task]).await;
    assert!(
        !cached_user(&c, new).await,
        "a deleted task no longer brings its assignee"
    );

    let restore = r#"UPDATE "Task" SET "deleted_at" = NULL WHERE "id" = $1"#;
    change_and_pull(&s, &c, restore, params![task]).await;
    assert!(cached_user(&c, new).await, "a restored task brings it back");
}

/// Runs `sql` on the server, pulls as the admin and checks the cache matches the server.
async fn change_and_pull(s: &Server, c: &Cache, sql: &str, p: Vec<ncy_core::db::Value>) {
    q(&s.db, sql, p).await;
    pull::pull(&s.db, c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_matches(&s.db, c).await;
}
