//! Offline edits pushed over the operator's own login: the batched push writes only the
//! columns each role may change, is audited once per edit by the application (the database's
//! own audit trigger sees the entry and adds none), and the chain still verifies; the server's
//! changes come back by a pull over the same login.

use ncy_core::admin::tasks::TaskPatch;
use ncy_core::model::TaskStatus;
use ncy_core::params;
use ncy_sync::{edit_task, push, Ctl};
use ncy_tests::fresh_pg;
use ncy_tests::logins::conns;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_push_offline_edits_through_their_own_roles() {
    let (db, url) = fresh_pg().await;
    let cs = conns(&db, &url).await;
    // The manager edits titles and priorities; the employee only reviews (status) own tasks.
    for (c, patch) in [
        (
            &cs[1],
            TaskPatch {
                title: Some("renamed offline by the manager".into()),
                ..Default::default()
            },
        ),
        (
            &cs[2],
            TaskPatch {
                status: Some(TaskStatus::REVIEW),
                ..Default::default()
            },
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cache, _) = ncy_sync::initial::init_at(
            c.db.pg().expect("a PostgreSQL store"),
            &c.url,
            &c.op,
            &["test-org".to_owned()],
            &dir.path().join("cache.db"),
            &ncy_sync::cache::new_key(),
            Ctl::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: first sync: {e}", c.role));
        let offline = cache.offline_operator().await.expect("offline operator");
        let ids: Vec<uuid::Uuid> = cache
            .db
            .query(r#"SELECT "id" FROM "Task" WHERE "deleted_at" IS NULL"#, &[])
            .await
            .expect("cached tasks")
            .iter()
            .map(|r| r.uuid("id").expect("id"))
            .collect();
        assert!(!ids.is_empty(), "{}: tasks to edit", c.role);
        let mut entries = Vec::new();
        for id in &ids {
            if let Some(e) = edit_task(&cache, &offline, *id, &patch)
                .await
                .unwrap_or_else(|e| panic!("{}: offline edit: {e}", c.role))
            {
                entries.push(e);
            }
        }
        assert!(!entries.is_empty(), "{}: edits made", c.role);
        let rep = push::push(
            c.db.pg().expect("a PostgreSQL store"),
            &cache,
            &c.op,
            Ctl::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: push over the own login: {e}", c.role));
        assert_eq!(
            (rep.pushed, rep.applied, rep.rejected),
            (entries.len() as u64, entries.len() as u64, 0),
            "{}",
            c.role
        );
        for e in &entries {
            let rows = db
                .query(
                    r#"SELECT "action", "user_id"::text AS u FROM "AuditLog" WHERE "target_id" = $1 AND "created_at" >= $2 ORDER BY "seq""#,
                    &params![e.row_id, e.local_time],
                )
                .await
                .expect("audit rows");
            let actions: Vec<String> = rows.iter().map(|r| r.text("action").unwrap()).collect();
            assert_eq!(actions, ["TASK_UPDATE"], "{}: one entry per edit", c.role);
            assert_eq!(rows[0].text("u").unwrap(), c.op.user_id.to_string());
        }
        // A change made on the server reaches the cache by a pull over the same login (the pull
        // reads the server's prune mark first: migration 0024 made it readable).
        let title = format!("changed on the server for {}", c.role);
        db.query(
            r#"UPDATE "Task" SET "title" = $1 WHERE "id" = $2 RETURNING "id""#,
            &params![title.as_str(), ids[0]],
        )
        .await
        .expect("server change");
        let pulled = ncy_sync::pull::pull(
            c.db.pg().expect("a PostgreSQL store"),
            &cache,
            &c.op,
            Ctl::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: pull over the own login: {e}", c.role));
        assert!(
            pulled.changes >= 1 && pulled.upserted >= 1,
            "{}: {pulled:?}",
            c.role
        );
        let cached = cache
            .db
            .query(
                r#"SELECT "title" FROM "Task" WHERE "id" = $1"#,
                &params![ids[0]],
            )
            .await
            .expect("cached task")[0]
            .text("title")
            .expect("title");
        assert_eq!(cached, title, "{}", c.role);
        cache.db.close().await;
    }
    // Outcomes hold task values: an operator reads and changes only their own.
    for c in [&cs[1], &cs[2]] {
        let others =
            c.db.query(
                r#"SELECT count(*) AS n FROM "SyncMutation" WHERE "operator_id" <> $1"#,
                &params![c.op.user_id],
            )
            .await
            .expect("count")[0]
                .int("n")
                .expect("n");
        assert_eq!(
            others, 0,
            "{}: no other operator's mutation is visible",
            c.role
        );
        let changed = ncy_tests::logins::sql(
            &c.db,
            &format!(
                r#"UPDATE "SyncMutation" SET "status" = 'noop' WHERE "operator_id" <> '{}'"#,
                c.op.user_id
            ),
        )
        .await;
        assert!(matches!(changed, Ok(0)), "{}: {changed:?}", c.role);
    }
    let all = db
        .query(
            r#"SELECT count(DISTINCT "operator_id") AS n FROM "SyncMutation""#,
            &[],
        )
        .await
        .expect("count")[0]
        .int("n")
        .expect("n");
    assert_eq!(all, 2, "both operators' mutations are recorded");
    let r = ncy_core::audit::verify(&db, &cs[0].op)
        .await
        .expect("verify");
    assert!(r.ok, "{r:?}");
}
