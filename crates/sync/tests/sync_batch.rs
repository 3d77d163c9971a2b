//! Batched push: many outbox entries per server transaction, each still merged, recorded and
//! audited on its own. A server refusal inside a batch rejects only that entry; a crash at any
//! point of a batch loses nothing and applies nothing twice; cancelling keeps what committed.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use common::*;
use ncy_core::admin::tasks::TaskPatch;
use ncy_core::model::TaskStatus;
use ncy_core::{params, Error};
use ncy_sync::outbox::{self, Entry};
use ncy_sync::{conflicts, edit_task, push, Cache, Ctl, Progress};
use uuid::Uuid;

/// Adds `n` tasks to the slice (before the cache is made) and returns their ids.
async fn more_tasks(s: &Server, n: usize) -> Vec<Uuid> {
    let mut out = Vec::new();
    for i in 0..n {
        let id = Uuid::new_v4();
        q(
            &s.db,
            r#"INSERT INTO "Task" ("id", "project_id", "title") VALUES ($1, $2, $3)"#,
            params![
                id,
                s.projects[i % s.projects.len()],
                format!("batch task {i}")
            ],
        )
        .await;
        out.push(id);
    }
    out
}

async fn edit(c: &Cache, id: Uuid, patch: TaskPatch) -> Entry {
    let offline = c.offline_operator().await.unwrap();
    edit_task(c, &offline, id, &patch)
        .await
        .unwrap()
        .expect("a change")
}

fn title(t: &str) -> TaskPatch {
    TaskPatch {
        title: Some(t.into()),
        ..Default::default()
    }
}

/// AuditLog rows carrying this mutation, and how many of them are marked redacted.
async fn audits_of(s: &Server, m: Uuid) -> (i64, i64) {
    let r = q(
        &s.db,
        r#"SELECT count(*) AS n, count("redacted_at") AS r FROM "AuditLog" WHERE "new_value"->'_sync'->>'mutation_id' = $1"#,
        params![m.to_string()],
    )
    .await;
    (r[0].int("n").unwrap(), r[0].int("r").unwrap())
}

async fn mutations(s: &Server) -> i64 {
    q(&s.db, r#"SELECT count(*) AS n FROM "SyncMutation""#, vec![]).await[0]
        .int("n")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusal_inside_a_batch_rejects_only_that_entry() {
    let s = server().await;
    let ids = more_tasks(&s, 30).await;
    let (c, _d) = cache(&s, &s.admin).await;
    // A rule only the server knows: the app's checks pass, the UPDATE fails.
    q(
        &s.db,
        r#"ALTER TABLE "Task" ADD CONSTRAINT "Task_title_not_refused" CHECK ("title" <> 'refused by the server')"#,
        vec![],
    )
    .await;
    let mut entries = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let t = if i == 13 {
            "refused by the server".to_owned()
        } else {
            format!("pushed {i}")
        };
        entries.push(edit(&c, *id, title(&t)).await);
    }
    // A second edit of one task in the same batch merges on top of the first.
    let status = TaskPatch {
        status: Some(TaskStatus::DONE),
        ..Default::default()
    };
    entries.push(edit(&c, ids[7], status).await);

    let rep = push::push(
        &s.db,
        &c,
        &s.admin,
        Ctl {
            batch: Some(50),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (rep.pushed, rep.applied, rep.rejected, rep.conflicts),
        (31, 30, 1, 0)
    );
    for (i, id) in ids.iter().enumerate() {
        let want = if i == 13 {
            "batch task 13".to_owned()
        } else {
            format!("pushed {i}")
        };
        assert_eq!(title_of(&s.db, *id).await, want);
    }
    let st = q(
        &s.db,
        r#"SELECT "status"::text AS s FROM "Task" WHERE "id" = $1"#,
        params![ids[7]],
    )
    .await;
    assert_eq!(st[0].text("s").unwrap(), "DONE");
    for (i, e) in entries.iter().enumerate() {
        let (n, redacted) = audits_of(&s, e.mutation_id).await;
        assert_eq!(n, if i == 13 { 0 } else { 1 }, "entry {i} audited once");
        assert_eq!(
            redacted, 0,
            "push writes its audit rows whole, never edits them"
        );
    }
    // The refusal is kept locally with the server's reason; nothing stays pending.
    let open = conflicts::list(&c, false).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].mutation_id, entries[13].mutation_id);
    assert!(open[0].reason.contains("refused"), "{}", open[0].reason);
    assert!(outbox::pending(&c).await.unwrap().is_empty());
    assert_matches(&s.db, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_anywhere_in_a_batch_loses_nothing_and_applies_nothing_twice() {
    let s = server().await;
    let ids = more_tasks(&s, 20).await;
    let (c, _d) = cache(&s, &s.admin).await;
    let mut entries = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        entries.push(edit(&c, *id, title(&format!("crash-proof {i}"))).await);
    }
    let crash_at = |point: &'static str| move |p: &str| p == point;
    for point in ["push:after-claim", "push:before-commit"] {
        let f = crash_at(point);
        let err = push::push(
            &s.db,
            &c,
            &s.admin,
            Ctl {
                fault: Some(&f),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains(point), "{err}");
        assert_eq!(
            mutations(&s).await,
            0,
            "{point}: nothing of the batch committed"
        );
        assert_eq!(title_of(&s.db, ids[0]).await, "batch task 0");
        assert_eq!(outbox::pending(&c).await.unwrap().len(), 20);
    }
    // Committed on the server, then killed before the cache recorded it: the rerun replays.
    for point in ["push:after-commit", "push:before-local-commit"] {
        let f = crash_at(point);
        push::push(
            &s.db,
            &c,
            &s.admin,
            Ctl {
                fault: Some(&f),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(mutations(&s).await, 20, "{point}: the batch committed");
        assert_eq!(outbox::pending(&c).await.unwrap().len(), 20);
    }
    let rep = push::push(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!((rep.pushed, rep.replayed, rep.applied), (20, 20, 20));
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(audits_of(&s, e.mutation_id).await.0, 1, "entry {i}");
        assert_eq!(title_of(&s.db, ids[i]).await, format!("crash-proof {i}"));
    }
    assert!(outbox::pending(&c).await.unwrap().is_empty());
    assert_matches(&s.db, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_keeps_committed_batches_and_progress_counts_them() {
    let s = server().await;
    let ids = more_tasks(&s, 20).await;
    let (c, _d) = cache(&s, &s.admin).await;
    for (i, id) in ids.iter().enumerate() {
        edit(&c, *id, title(&format!("cancelled {i}"))).await;
    }
    let cancel = AtomicBool::new(false);
    let seen = Mutex::new(Vec::<Progress>::new());
    let progress = |p: Progress| {
        cancel.store(true, Ordering::Relaxed);
        seen.lock().unwrap().push(p);
    };
    let err = push::push(
        &s.db,
        &c,
        &s.admin,
        Ctl {
            work: ncy_sync::Work::new(&progress, Some(&cancel)),
            batch: Some(5),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    {
        let p = seen.lock().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].phase.as_str(), p[0].done, p[0].total),
            ("push", 5, 20)
        );
    }
    assert_eq!(mutations(&s).await, 5);
    assert_eq!(outbox::pending(&c).await.unwrap().len(), 15);
    // Without a fixed size the first batch is FIRST_BATCH entries (or all of them).
    let firsts = Mutex::new(Vec::<u64>::new());
    let count = |p: Progress| firsts.lock().unwrap().push(p.done);
    let rep = push::push(
        &s.db,
        &c,
        &s.admin,
        Ctl::from(ncy_sync::Work::none().with_progress(&count)),
    )
    .await
    .unwrap();
    assert_eq!((rep.pushed, rep.applied), (15, 15));
    assert_eq!(firsts.lock().unwrap().first(), Some(&15));
    assert_matches(&s.db, &c).await;
}
