//! Offline sync: the first sync of a big slice against the raw copy limit measured in the same
//! run (COPY TO STDOUT from PostgreSQL into prepared SQLite inserts in one transaction, same
//! encrypted cache schema), and an incremental pull of 1 000 changes in that slice.

use std::time::Instant;

use futures_util::StreamExt;
use ncy_core::auth::{Client, Operator};
use ncy_core::params;
use ncy_sync::tables::{self, Slice};
use ncy_sync::{Cache, Ctl};
use sqlx::Connection;

use crate::harness::{migrated_synthetic, pct_ms, Bench};

/// Runs the sync measures on a database of its own (one organization holding every task).
pub async fn run(b: &mut Bench) {
    let tasks = std::env::var("NCY_SYNC_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| b.scale.n(1_000_000, 2_000));
    let users = (tasks / 100).max(200);
    let (db, url) = b.database("bench_sync").await;
    let db = db.pg().expect("a PostgreSQL store").clone();
    migrated_synthetic(&db, users, 1, tasks).await;
    let admin = uuid::Uuid::new_v4();
    db.query(
        r#"INSERT INTO "User" ("id", "email", "password_hash", "role") VALUES ($1, 'bench-sync@ncy-8.test', 'x', 'ADMIN')"#,
        &params![admin],
    )
    .await
    .expect("bench operator");
    let op = {
        let mut tx = db.begin().await.expect("begin");
        let op = Operator::load(&mut tx, admin, Client::Cli, None)
            .await
            .expect("operator");
        tx.rollback().await.expect("rollback");
        op
    };
    let org = db
        .query(r#"SELECT "id" FROM "Organization" LIMIT 1"#, &[])
        .await
        .expect("org")[0]
        .uuid("id")
        .expect("org id");
    let slug = "synthetic-org-0".to_owned();
    let dir = tempfile::tempdir().expect("tempdir");

    // Baseline: the raw copy limit for the slice's tasks.
    let slice = Slice {
        orgs: vec![org],
        operator: admin,
        own_tasks_only: false,
        review_orgs: vec![],
    };
    // NCY_SYNC_BENCH_RAW=0 skips it (and the initial sync's line): for re-measuring the pulls
    // of a large slice without the half hour the raw copy of 10M tasks takes.
    let raw = std::env::var("NCY_SYNC_BENCH_RAW").as_deref() != Ok("0");
    let raw_rate = if raw {
        let base_cache =
            Cache::create(&dir.path().join("baseline.db"), &ncy_sync::cache::new_key())
                .await
                .expect("baseline cache");
        let t = Instant::now();
        let copied = raw_copy(&url, &base_cache, &slice).await;
        Some(copied as f64 / t.elapsed().as_secs_f64())
    } else {
        None
    };

    // Ours: the whole first sync (every table of the slice, counts for progress, checkpoints).
    let key = ncy_sync::cache::new_key();
    let cache = ncy_sync::initial::prepare_at(
        &db,
        &url,
        &op,
        std::slice::from_ref(&slug),
        &dir.path().join("cache.db"),
        &key,
    )
    .await
    .expect("cache");
    let t = Instant::now();
    let rep = ncy_sync::initial::initial_sync(&db, &cache, Ctl::default())
        .await
        .expect("initial sync");
    let ours_rate = rep.rows as f64 / t.elapsed().as_secs_f64();
    if let Some(raw_rate) = raw_rate {
        b.record(
            "initial sync",
            &format!("initial sync: {tasks} tasks, rows/s vs raw COPY→SQLite"),
            ours_rate,
            raw_rate,
            "rows/s",
        );
    }

    // Incremental: 1 000 changed tasks in the slice, pulled.
    // NCY_SYNC_BENCH_PULLS sets how many pulls (5 unless set): more, for a profile of the pulls.
    let pulls = std::env::var("NCY_SYNC_BENCH_PULLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut samples = Vec::new();
    for i in 0..pulls {
        change_tasks(&db, &format!("bench change {i}")).await;
        let t = Instant::now();
        let r = ncy_sync::pull::pull(&db, &cache, &op, Ctl::default())
            .await
            .expect("pull");
        samples.push(t.elapsed());
        assert!(r.changes >= 1000, "the pull saw the changes");
    }
    b.record(
        "incremental sync",
        &format!("incremental sync: 1000 changes in a {tasks}-task slice (p50; goal)"),
        pct_ms(&samples, 50.0),
        25.0,
        "ms",
    );
    // The page-size comparison needs a second cache of the whole slice: not at large scale,
    // where it would add another first sync of 10M tasks and 40 pulls for a side measure.
    if b.scale != crate::harness::Scale::Large {
        page_sizes(b, &db, &url, &op, &slug, dir.path(), &cache).await;
    }
    wake(b, &db, &cache, &op).await;
    push(b, &db, &url, &cache, &op).await;
    db.close().await;
}

/// Changes 1 000 tasks picked by `label` (a different set each label): title and updated_at.
async fn change_tasks(db: &ncy_core::db::Db, label: &str) {
    db.query(
        r#"UPDATE "Task" SET "title" = $1, "updated_at" = now()
           WHERE "id" IN (SELECT "id" FROM "Task" ORDER BY md5("id"::text || $1) LIMIT 1000)"#,
        &params![label],
    )
    .await
    .expect("changes");
}

/// The same incremental pull into a cache of today's cipher settings and into one made as the
/// first caches were (SQLCipher's defaults: 4 KiB pages, HMAC-SHA512), both holding the slice:
/// 1 000 changes, pulled by one cache then the other (the order alternating), each pull after
/// a pause that lets the previous one's background checkpoint finish, so that neither pays for
/// the other's.
async fn page_sizes(
    b: &mut Bench,
    db: &ncy_core::db::PgDb,
    url: &str,
    op: &Operator,
    slug: &str,
    dir: &std::path::Path,
    cache: &Cache,
) {
    use ncy_sync::cache::LEGACY_CIPHER;
    let legacy = ncy_sync::initial::prepare_with(
        db,
        url,
        op,
        &[slug.to_owned()],
        &dir.join("cache-legacy.db"),
        &ncy_sync::cache::new_key(),
        LEGACY_CIPHER,
    )
    .await
    .expect("legacy cache");
    ncy_sync::initial::initial_sync(db, &legacy, Ctl::default())
        .await
        .expect("legacy initial sync");
    let pause = std::time::Duration::from_millis(200);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..20 {
        change_tasks(db, &format!("page size change {i}")).await;
        let order = if i % 2 == 0 {
            [(cache, true), (&legacy, false)]
        } else {
            [(&legacy, false), (cache, true)]
        };
        for (c, is_ours) in order {
            tokio::time::sleep(pause).await;
            let t = Instant::now();
            let r = ncy_sync::pull::pull(db, c, op, Ctl::default())
                .await
                .expect("pull");
            let d = t.elapsed();
            assert!(r.changes >= 1000, "the pull saw the changes");
            if is_ours {
                ours.push(d);
            } else {
                theirs.push(d);
            }
        }
    }
    tokio::time::sleep(pause).await;
    b.record(
        "incremental sync: page size",
        "incremental sync p50: 1 KiB pages, HMAC-SHA256 vs 4 KiB, HMAC-SHA512 (SQLCipher's defaults)",
        pct_ms(&ours, 50.0),
        pct_ms(&theirs, 50.0),
        "ms",
    );
}

/// One change reaching a watching cache, from just before its commit on the server until the
/// watcher's pull has written it: the watcher woken by LISTEN ncy_sync (migration 0021),
/// against the same watcher polling every second (`sync run --watch --interval 1`).
async fn wake(b: &mut Bench, db: &ncy_core::db::PgDb, cache: &Cache, op: &Operator) {
    let listening = wake_latency(db, cache, op, b.scale.upto_full(30, 5) as usize, true).await;
    let polling = wake_latency(db, cache, op, 5, false).await;
    b.record(
        "sync: change to a watching cache",
        "sync: one change reaching a watching cache, p50 (LISTEN vs 1 s polling)",
        pct_ms(&listening, 50.0),
        pct_ms(&polling, 50.0),
        "ms",
    );
}

async fn wake_latency(
    db: &ncy_core::db::PgDb,
    cache: &Cache,
    op: &Operator,
    n: usize,
    listen: bool,
) -> Vec<std::time::Duration> {
    use ncy_sync::wake::Wakeup;
    let mut wake = if listen {
        let w = Wakeup::listen(db).await;
        assert!(w.listening(), "the bench server accepts LISTEN");
        w
    } else {
        Wakeup::polling()
    };
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (db, cache, op, stop) = (db.clone(), cache.clone(), op.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                wake.wait(std::time::Duration::from_secs(1)).await;
                let r = ncy_sync::pull::pull(&db, &cache, &op, Ctl::default())
                    .await
                    .expect("watcher pull");
                if r.changes > 0 && done_tx.send(Instant::now()).is_err() {
                    break;
                }
            }
        })
    };
    let task: uuid::Uuid = db
        .query(r#"SELECT "id" FROM "Task" ORDER BY "id" LIMIT 1"#, &[])
        .await
        .expect("a task")[0]
        .uuid("id")
        .expect("id");
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        db.query(
            r#"UPDATE "Task" SET "title" = $1, "updated_at" = now() WHERE "id" = $2"#,
            &params![format!("wake {listen} {i}"), task],
        )
        .await
        .expect("a change");
        let done = done_rx.recv().await.expect("the watcher pulled it");
        samples.push(done.saturating_duration_since(t0));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(done_rx);
    let _ = watcher.await;
    samples
}

/// `sync push`: offline edits of distinct tasks pushed in batches, against a careful
/// hand-written client doing one transaction per edit (the UPDATE and one AuditLog INSERT, on
/// one connection with prepared statements), each on tasks of its own.
async fn push(b: &mut Bench, db: &ncy_core::db::PgDb, url: &str, cache: &Cache, op: &Operator) {
    let edits = b.scale.n(100_000, 500).min(10_000) as usize;
    let ids: Vec<String> = cache
        .db
        .query(
            r#"SELECT "id" FROM "Task" WHERE "deleted_at" IS NULL ORDER BY "id" LIMIT $1"#,
            &params![(2 * edits) as i64],
        )
        .await
        .expect("cached tasks")
        .iter()
        .map(|r| r.text("id").expect("id"))
        .collect();
    assert_eq!(ids.len(), 2 * edits, "enough tasks for both runs");
    let (mine, theirs) = ids.split_at(edits);

    let offline = cache.offline_operator().await.expect("offline operator");
    for (i, id) in mine.iter().enumerate() {
        let patch = ncy_core::admin::tasks::TaskPatch {
            title: Some(format!("reviewed offline {i}")),
            ..Default::default()
        };
        let id = uuid::Uuid::parse_str(id).expect("uuid");
        ncy_sync::edit_task(cache, &offline, id, &patch)
            .await
            .expect("offline edit");
    }
    let t = Instant::now();
    let rep = ncy_sync::push::push(db, cache, op, Ctl::default())
        .await
        .expect("push");
    let ours = rep.applied as f64 / t.elapsed().as_secs_f64();
    assert_eq!(rep.applied as usize, edits, "every edit applied");

    let mut pg = sqlx::PgConnection::connect(url).await.expect("connect");
    let t = Instant::now();
    for (i, id) in theirs.iter().enumerate() {
        let mut tx = pg.begin().await.expect("begin");
        sqlx::query(
            r#"UPDATE "Task" SET "title" = $1, "updated_at" = now() WHERE "id" = $2::uuid"#,
        )
        .bind(format!("reviewed by hand {i}"))
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("update");
        sqlx::query(
            r#"INSERT INTO "AuditLog" ("id", "user_id", "action", "target_table", "target_id", "new_value", "created_at")
               VALUES (gen_random_uuid(), $1::uuid, 'TASK_UPDATE', 'Task', $2::uuid, jsonb_build_object('title', $3::text), now())"#,
        )
        .bind(op.user_id.to_string())
        .bind(id)
        .bind(format!("reviewed by hand {i}"))
        .execute(&mut *tx)
        .await
        .expect("audit");
        tx.commit().await.expect("commit");
    }
    let base = edits as f64 / t.elapsed().as_secs_f64();
    b.record(
        "sync push",
        &format!("sync push: {edits} offline edits, edits/s vs one transaction per edit"),
        ours,
        base,
        "edits/s",
    );
}

/// COPY the slice's tasks out of PostgreSQL into prepared SQLite inserts, one transaction.
async fn raw_copy(url: &str, cache: &Cache, slice: &Slice) -> u64 {
    let t = tables::TASK;
    let mut pg = sqlx::PgConnection::connect(url).await.expect("connect");
    let sql = format!("COPY ({}) TO STDOUT", t.select_slice(slice));
    let mut out = pg.copy_out_raw(&sql).await.expect("copy out");
    let mut tx = cache.db.begin().await.expect("begin");
    ncy_sync::cache::writer_on(&mut tx).await.expect("writer");
    let mut n = 0u64;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = out.next().await {
        buf.extend_from_slice(&chunk.expect("chunk"));
        tx.with_sqlite_conn(|conn| {
            let mut stmt = conn.prepare_cached(&t.upsert_sql()).expect("prepare");
            let mut start = 0;
            while let Some(nl) = buf[start..].iter().position(|c| *c == b'\n') {
                let row = ncy_sync::copy::decode_line(&buf[start..start + nl], t.cols.len())
                    .expect("row");
                stmt.execute(rusqlite::params_from_iter(row.iter()))
                    .expect("insert");
                n += 1;
                start += nl + 1;
            }
            buf.drain(..start);
            Ok(())
        })
        .expect("the cache is SQLite");
    }
    drop(out);
    ncy_sync::cache::writer_off(&mut tx).await.expect("writer");
    tx.commit().await.expect("commit");
    n
}
