//! The outbox never stalls: an edit the server can never apply is parked with its reason while
//! the edits behind it land; a dead server counts failed tries with a growing backoff and the
//! next push lands them without a new edit; an edit of a field the server no longer has is
//! parked, never applied to another column; retry and discard work on one entry.

mod common;

use std::time::Duration;

use common::*;
use ncy_core::admin::tasks::TaskPatch;
use ncy_core::db::{now, PgDb, Protocol};
use ncy_core::{params, Error};
use ncy_sync::outbox::Entry;
use ncy_sync::{edit_task, push, queue, Cache, Ctl};
use uuid::Uuid;

async fn edit(c: &Cache, id: Uuid, t: &str) -> Entry {
    let offline = c.offline_operator().await.unwrap();
    let patch = TaskPatch {
        title: Some(t.into()),
        ..Default::default()
    };
    edit_task(c, &offline, id, &patch)
        .await
        .unwrap()
        .expect("a change")
}

async fn cached_tasks(c: &Cache, n: i64) -> Vec<(Uuid, String)> {
    c.db.query(
        r#"SELECT "id", "title" FROM "Task" WHERE "deleted_at" IS NULL ORDER BY "id" LIMIT $1"#,
        &params![n],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.uuid("id").unwrap(), r.text("title").unwrap()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_the_server_can_never_apply_is_parked_and_the_next_ones_land() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    // A rule only the server knows, failing with an error the app cannot foresee.
    q(
        &s.db,
        r#"CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN IF NEW."title" = 'poison' THEN RAISE EXCEPTION 'poisoned title'; END IF; RETURN NEW; END $$"#,
        vec![],
    )
    .await;
    q(
        &s.db,
        r#"CREATE TRIGGER poison BEFORE UPDATE ON "Task" FOR EACH ROW EXECUTE FUNCTION poison()"#,
        vec![],
    )
    .await;
    let tasks = cached_tasks(&c, 3).await;
    let (bad, before) = tasks[0].clone();
    edit(&c, bad, "poison").await;
    edit(&c, tasks[1].0, "fine 1").await;
    edit(&c, tasks[2].0, "fine 2").await;

    let rep = push::push(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!((rep.applied, rep.parked), (2, 1), "{rep:?}");
    assert_eq!(title_of(&s.db, tasks[1].0).await, "fine 1");
    assert_eq!(title_of(&s.db, tasks[2].0).await, "fine 2");
    assert_eq!(title_of(&s.db, bad).await, before);
    let items = queue::list(&c).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].state, "parked");
    assert!(
        items[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("poisoned title"),
        "{:?}",
        items[0].last_error
    );
    // The cache shows the task as the server has it, and later pushes skip the parked edit.
    assert_eq!(title_of(&c.db, bad).await, before);
    let again = push::push(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!((again.pushed, again.parked), (0, 0));

    // Once the server accepts it, a retry lands it.
    q(&s.db, r#"DROP TRIGGER poison ON "Task""#, vec![]).await;
    let it = queue::retry(&c, &items[0].entry.seq.to_string())
        .await
        .unwrap();
    assert_eq!(it.state, "pending");
    assert!(it.last_error.is_none(), "a retried entry starts afresh");
    assert_eq!(title_of(&c.db, bad).await, "poison");
    let rep = push::push(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(rep.applied, 1);
    assert_eq!(title_of(&s.db, bad).await, "poison");
    assert!(queue::list(&c).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_counts_tries_with_backoff_and_the_next_push_lands_without_a_new_edit() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    let (id, _) = cached_tasks(&c, 1).await[0].clone();
    edit(&c, id, "written offline").await;
    // Nothing listens on port 1 of this machine.
    let dead = PgDb::new(
        sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy("postgres://postgres@127.0.0.1:1/none")
            .unwrap(),
        Protocol::Prepared,
    );
    let mut waits = Vec::new();
    for attempt in 1..=2 {
        let e = push::push(&dead, &c, &s.admin, Ctl::default())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ServerUnreachable { .. }), "{e:?}");
        let items = queue::list(&c).await.unwrap();
        assert_eq!(items[0].state, "failed");
        assert_eq!(items[0].attempts, attempt);
        assert!(items[0].last_error.is_some());
        let next = items[0].next_attempt_at.expect("a next try");
        assert!(next > now());
        waits.push(next);
        assert_eq!(queue::next_due(&c).await.unwrap(), Some(next));
    }
    assert!(waits[1] > waits[0], "the backoff grows: {waits:?}");
    // The server is back: the next push lands the edit, with no new edit to wake it.
    let rep = push::push(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(rep.applied, 1);
    assert_eq!(title_of(&s.db, id).await, "written offline");
    assert!(queue::list(&c).await.unwrap().is_empty());
    assert_eq!(queue::next_due(&c).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_a_field_the_server_no_longer_has_is_parked_not_misapplied() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    let tasks = cached_tasks(&c, 2).await;
    // An edit queued by an older client whose schema had an "estimate" column.
    c.db.query(
        r#"INSERT INTO "SyncOutbox" ("mutation_id", "table_name", "row_id", "base", "new", "operator_id", "operator_email", "local_time", "status", "schema_version")
           VALUES ($1, 'Task', $2, '{"estimate": 3}', '{"estimate": 5}', $3, $4, $5, 'pending', 1)"#,
        &params![
            Uuid::new_v4(),
            tasks[0].0,
            s.admin.user_id,
            s.admin.email.as_str(),
            now()
        ],
    )
    .await
    .unwrap();
    edit(&c, tasks[1].0, "still lands").await;
    let rep = push::push(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!((rep.applied, rep.parked), (1, 1), "{rep:?}");
    let items = queue::list(&c).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].state, "parked");
    assert_eq!(items[0].schema_version, Some(1));
    let why = items[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("estimate") && why.contains("older"), "{why}");
    assert_eq!(title_of(&s.db, tasks[1].0).await, "still lands");
    assert_eq!(title_of(&s.db, tasks[0].0).await, tasks[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discarded_edit_is_gone_the_task_is_back_and_the_discard_is_audited() {
    let s = server().await;
    let (c, _d) = cache(&s, &s.admin).await;
    let (id, before) = cached_tasks(&c, 1).await[0].clone();
    let e = edit(&c, id, "never mind").await;
    assert!(queue::find(&c, "not-an-id").await.is_err());
    let op = c.offline_operator().await.unwrap();
    let gone = queue::discard(&c, &op, &e.mutation_id.to_string())
        .await
        .unwrap();
    assert_eq!(gone.entry.mutation_id, e.mutation_id);
    assert_eq!(title_of(&c.db, id).await, before);
    assert!(queue::list(&c).await.unwrap().is_empty());
    let audited = c
        .db
        .query(
            r#"SELECT count(*) AS n FROM "AuditLog" WHERE "action" = 'SYNC_DISCARD' AND "target_id" = $1"#,
            &params![id],
        )
        .await
        .unwrap()[0]
        .int("n")
        .unwrap();
    assert_eq!(audited, 1);
    let rep = push::push(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(rep.pushed, 0);
    assert_eq!(title_of(&s.db, id).await, before);
}
