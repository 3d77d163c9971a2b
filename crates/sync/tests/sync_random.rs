//! Randomized sync: several server-side writers commit overlapping transactions while several
//! offline clients edit, sync at random moments and are "killed" at random points inside push
//! and pull (the operation stops between two steps, its open transactions are dropped). At the
//! end every cache equals the server's slice, every accepted offline write is on the server or
//! in a conflict record, and none was applied twice. Fixed seeds; `NCY_SYNC_SOAK=1` runs more
//! seeds and longer.
#![allow(clippy::useless_vec)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use ncy_core::admin::tasks::TaskPatch;
use ncy_core::db::{ConnectOptions, Db, PgDb, Target, Value};
use ncy_core::model::{TaskPriority, TaskStatus};
use ncy_core::params;
use ncy_sync::outbox::Entry;
use ncy_sync::{conflicts, pull, push, Cache, Ctl};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

fn soak() -> bool {
    std::env::var("NCY_SYNC_SOAK")
        .map(|v| v == "1")
        .unwrap_or(false)
}

async fn pool(url: &str) -> PgDb {
    Db::connect(
        &Target::Postgres(url.to_owned()),
        &ConnectOptions {
            max_connections: 3,
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap()
    .pg()
    .expect("a PostgreSQL store")
    .clone()
}

async fn ids(db: &Db, sql: &str, p: Vec<Value>) -> Vec<Uuid> {
    db.query(sql, &p)
        .await
        .unwrap()
        .iter()
        .map(|r| r.uuid("id").unwrap())
        .collect()
}

/// One server-side writer: transactions of a few statements with pauses between them, so they
/// overlap with each other and with the clients' pulls and pushes.
async fn writer(url: String, seed: u64, n: usize, projects: Vec<Uuid>, users: Vec<Uuid>) {
    let db = pool(&url).await;
    let mut rng = StdRng::seed_from_u64(seed);
    for i in 0..n {
        let tasks = ids(&db, r#"SELECT "id" FROM "Task" ORDER BY "id""#, vec![]).await;
        let mut tx = db.begin().await.unwrap();
        let mut ok = true;
        for _ in 0..rng.gen_range(1..4) {
            let t = tasks[rng.gen_range(0..tasks.len())];
            let r = match rng.gen_range(0..10) {
                0..=3 => {
                    tx.execute(
                        r#"UPDATE "Task" SET "title" = $2, "updated_at" = now() WHERE "id" = $1"#,
                        &params![t, format!("server {seed}-{i}")],
                    )
                    .await
                }
                4 => {
                    let s = TaskStatus::ALL[rng.gen_range(0..TaskStatus::ALL.len())];
                    tx.execute(
                        r#"UPDATE "Task" SET "status" = $2::"TaskStatus" WHERE "id" = $1"#,
                        &params![t, s],
                    )
                    .await
                }
                5 => {
                    tx.execute(
                        r#"UPDATE "Task" SET "deleted_at" = CASE WHEN "deleted_at" IS NULL THEN now() ELSE NULL END WHERE "id" = $1"#,
                        &params![t],
                    )
                    .await
                }
                6 if tasks.len() > 8 => {
                    tx.execute(r#"DELETE FROM "Task" WHERE "id" = $1"#, &params![t])
                        .await
                }
                7 => {
                    let p = projects[rng.gen_range(0..projects.len())];
                    tx.execute(
                        r#"UPDATE "Task" SET "project_id" = $2 WHERE "id" = $1"#,
                        &params![t, p],
                    )
                    .await
                }
                8 => {
                    let p = projects[rng.gen_range(0..projects.len())];
                    let u = users[rng.gen_range(0..users.len())];
                    tx.execute(
                        r#"INSERT INTO "Task" ("project_id", "title", "assignee_id") VALUES ($1, $2, $3)"#,
                        &params![p, format!("new {seed}-{i}"), u],
                    )
                    .await
                }
                _ => {
                    let u = users[rng.gen_range(0..users.len())];
                    tx.execute(
                        r#"UPDATE "Task" SET "assignee_id" = $2 WHERE "id" = $1"#,
                        &params![t, u],
                    )
                    .await
                }
            };
            if r.is_err() {
                ok = false;
                break;
            }
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..15))).await;
        }
        if ok {
            let _ = tx.commit().await;
        } else {
            let _ = tx.rollback().await;
        }
    }
    db.close().await;
}

struct Client {
    cache: Cache,
    _dir: tempfile::TempDir,
    accepted: Vec<Entry>,
}

fn random_patch(rng: &mut StdRng, tag: &str, users: &[Uuid]) -> TaskPatch {
    let mut p = TaskPatch::default();
    match rng.gen_range(0..5) {
        0 => p.title = Some(tag.to_owned()),
        1 => p.status = Some(TaskStatus::ALL[rng.gen_range(0..TaskStatus::ALL.len())]),
        2 => p.priority = Some(TaskPriority::ALL[rng.gen_range(0..TaskPriority::ALL.len())]),
        3 => p.assignee_id = Some(Some(users[rng.gen_range(0..users.len())])),
        _ => {
            p.title = Some(tag.to_owned());
            p.metadata = Some(serde_json::json!({ "note": tag }));
        }
    }
    p
}

/// One client: random offline edits, pushes and pulls, crashing at random points.
async fn client_loop(
    url: String,
    seed: u64,
    rounds: usize,
    c: Arc<tokio::sync::Mutex<Client>>,
    users: Vec<Uuid>,
) {
    let db = pool(&url).await;
    let online = ncy_tests::login_as(&db, "admin@ncy-8.com", "admin123").await;
    let mut rng = StdRng::seed_from_u64(seed);
    let crash_rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed)));
    for i in 0..rounds {
        let mut cl = c.lock().await;
        let cr = crash_rng.clone();
        let fault = move |point: &str| {
            let hit = cr.lock().unwrap().gen_bool(0.15);
            if hit {
                eprintln!("client {seed}: simulated crash at {point}");
            }
            hit
        };
        let ctl = Ctl {
            fault: Some(&fault),
            ..Default::default()
        };
        match rng.gen_range(0..7) {
            0..=2 => {
                let offline = cl.cache.operator().await.unwrap();
                let live = ids(
                    &cl.cache.db,
                    r#"SELECT "id" FROM "Task" WHERE "deleted_at" IS NULL ORDER BY "id""#,
                    vec![],
                )
                .await;
                if live.is_empty() {
                    continue;
                }
                let t = live[rng.gen_range(0..live.len())];
                let cached_users = ids(
                    &cl.cache.db,
                    r#"SELECT "id" FROM "User" WHERE "deleted_at" IS NULL"#,
                    vec![],
                )
                .await;
                let patch = random_patch(
                    &mut rng,
                    &format!("client {seed}-{i}"),
                    if cached_users.is_empty() {
                        &users
                    } else {
                        &cached_users
                    },
                );
                if let Ok(Some(e)) = ncy_sync::edit_task(&cl.cache, &offline, t, &patch).await {
                    cl.accepted.push(e);
                }
            }
            3 => {
                let _ = push::push(&db, &cl.cache, &online, ctl).await;
            }
            6 => {
                // A person resolves an open conflict: keep mine (a new mutation) or theirs.
                let open = conflicts::list(&cl.cache, false).await.unwrap();
                if !open.is_empty() {
                    let k = &open[rng.gen_range(0..open.len())];
                    let how = if rng.gen_bool(0.5) {
                        ncy_sync::Resolution::Mine
                    } else {
                        ncy_sync::Resolution::Theirs
                    };
                    let offline = cl.cache.operator().await.unwrap();
                    if let Ok(r) = conflicts::resolve(&cl.cache, &offline, k.id, &how).await {
                        if let Some(m) = r.mutation {
                            cl.accepted.push(m);
                        }
                    }
                }
            }
            4 => {
                let _ = pull::pull(&db, &cl.cache, &online, ctl).await;
            }
            _ => {
                let _ = ncy_sync::run(&db, &cl.cache, &online, ctl).await;
            }
        }
        drop(cl);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..10))).await;
    }
    db.close().await;
}

async fn scenario(seed: u64, clients: usize, writers: usize, rounds: usize) {
    let s = server().await;
    // More tasks in the slice, and the other org's project as a place to move tasks out to.
    let mut projects = s.projects.clone();
    for i in 0..20 {
        q(
            &s.db,
            r#"INSERT INTO "Task" ("project_id", "title") VALUES ($1, $2)"#,
            params![projects[i % projects.len()], format!("extra {i}")],
        )
        .await;
    }
    projects.push(s.other_project);
    let mut all_users = s.users.clone();
    all_users.extend(
        ids(
            &s.db,
            r#"SELECT "id" FROM "User" WHERE "email" = 'outsider@other.test'"#,
            vec![],
        )
        .await,
    );

    let mut cs = Vec::new();
    for _ in 0..clients {
        let (cache, dir) = cache(&s, &s.admin).await;
        cs.push(Arc::new(tokio::sync::Mutex::new(Client {
            cache,
            _dir: dir,
            accepted: vec![],
        })));
    }
    let mut handles = Vec::new();
    for w in 0..writers {
        handles.push(tokio::spawn(writer(
            s.url.clone(),
            seed * 100 + w as u64,
            rounds,
            projects.clone(),
            all_users.clone(),
        )));
    }
    for (k, c) in cs.iter().enumerate() {
        handles.push(tokio::spawn(client_loop(
            s.url.clone(),
            seed * 1000 + k as u64,
            rounds,
            c.clone(),
            all_users.clone(),
        )));
    }
    for h in handles {
        h.await.unwrap();
    }

    // Back online for good: everyone pushes what is left, then everyone pulls.
    for c in &cs {
        let cl = c.lock().await;
        let rep = push::push(&s.db, &cl.cache, &s.admin, Ctl::default())
            .await
            .unwrap();
        assert!(rep.pushed <= cl.accepted.len() as u64);
        assert!(ncy_sync::outbox::pending(&cl.cache)
            .await
            .unwrap()
            .is_empty());
    }
    for c in &cs {
        let cl = c.lock().await;
        pull::pull(&s.db, &cl.cache, &s.admin, Ctl::default())
            .await
            .unwrap();
        assert_matches(&s.db, &cl.cache).await;
    }

    // Every accepted write: recorded once on the server, each field applied, already there,
    // or kept as a conflict; never applied twice.
    let mut total = 0;
    for c in &cs {
        let cl = c.lock().await;
        let kept = conflicts::list(&cl.cache, true).await.unwrap();
        let mut kept_by: HashMap<(Uuid, String), usize> = HashMap::new();
        for k in &kept {
            *kept_by.entry((k.mutation_id, k.field.clone())).or_default() += 1;
        }
        for e in &cl.accepted {
            total += 1;
            let m = q(
                &s.db,
                r#"SELECT "status", "result" FROM "SyncMutation" WHERE "id" = $1"#,
                params![e.mutation_id],
            )
            .await;
            assert_eq!(
                m.len(),
                1,
                "mutation {} reached the server exactly once",
                e.mutation_id
            );
            let out: push::Outcome =
                serde_json::from_value(m[0].opt_json("result").unwrap().unwrap()).unwrap();
            for (f, v) in &e.new {
                let applied = out.applied.get(f) == Some(v);
                let conflict = out.conflicts.iter().any(|x| &x.field == f);
                let noop = !applied && !conflict;
                if conflict {
                    assert_eq!(
                        kept_by.get(&(e.mutation_id, f.clone())),
                        Some(&1),
                        "the conflict on {f} of {} is kept locally, once",
                        e.mutation_id
                    );
                }
                assert!(applied || conflict || noop);
            }
            let audits = q(
                &s.db,
                r#"SELECT count(*) AS n FROM "AuditLog" WHERE "new_value"->'_sync'->>'mutation_id' = $1"#,
                params![e.mutation_id.to_string()],
            )
            .await[0]
                .int("n")
                .unwrap();
            let expect = if out.applied.is_empty() { 0 } else { 1 };
            assert_eq!(
                audits, expect,
                "mutation {} applied {audits} times",
                e.mutation_id
            );
        }
        // Nothing local that was not accepted.
        let all = ncy_sync::outbox::all(&cl.cache).await.unwrap();
        assert_eq!(all.len(), cl.accepted.len());
    }
    assert!(total > 0, "the scenario made offline edits");
    let st = q(
        &s.db,
        r#"SELECT count(*) FILTER (WHERE "status" = 'applied') AS a, count(*) FILTER (WHERE "status" = 'conflict') AS c,
                  count(*) FILTER (WHERE "status" = 'noop') AS n, count(*) FILTER (WHERE "status" = 'rejected') AS r FROM "SyncMutation""#,
        vec![],
    )
    .await;
    eprintln!(
        "seed {seed}: {total} offline writes; server outcomes applied {} conflict {} noop {} rejected {}",
        st[0].int("a").unwrap(),
        st[0].int("c").unwrap(),
        st[0].int("n").unwrap(),
        st[0].int("r").unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_writers_and_crashing_clients_converge() {
    let seeds: Vec<u64> = if soak() {
        (1..=12).collect()
    } else {
        vec![7, 11]
    };
    let rounds = if soak() { 150 } else { 25 };
    for seed in seeds {
        scenario(seed, 3, 3, rounds).await;
    }
}
