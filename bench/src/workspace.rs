//! The local workspace (SQLite) as the desktop uses it: the first Users page opened while the
//! Dashboard's counts still run (they are issued at login), against the same page on an idle
//! workspace. Both are tasks on this 2-worker runtime, like the window's commands.

use std::time::{Duration, Instant};

use ncy_core::admin::stats;
use ncy_core::admin::users::{self, UserFilter};
use ncy_core::auth::{authenticate, login, Client, LockoutPolicy};
use ncy_core::db::Db;
use ncy_core::seed;

use crate::harness::{migrated_synthetic, pct_ms, Bench};

/// The window's Users page size.
const PAGE: u32 = 200;

pub async fn run(b: &mut Bench) {
    // NCY_BENCH_WORKSPACE_USERS overrides the scaled size (10M: the desktop's goal).
    let users = std::env::var("NCY_BENCH_WORKSPACE_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| b.scale.n(1_000_000, 2_000));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open_sqlite(&dir.path().join("workspace.db")).expect("workspace");
    migrated_synthetic(&db, users, (users / 10_000).max(1), 0).await;
    seed::dev(&db, true).await.expect("dev seed");
    let session = login(
        &db,
        "admin@ncy-8.com",
        "admin123",
        Client::Desktop,
        &LockoutPolicy::default(),
    )
    .await
    .expect("login");
    let token = session.token.clone();

    // What one window command does: check the session, then its own work.
    let page = |db: Db, token: String| async move {
        let t = Instant::now();
        let op = authenticate(&db, &token, Client::Desktop)
            .await
            .expect("session");
        let p = users::list(&db, &op, &UserFilter::default(), PAGE, None)
            .await
            .expect("users page");
        assert_eq!(p.items.len(), PAGE as usize);
        t.elapsed()
    };
    let iters = b.scale.upto_full(20, 5) as usize;
    let (mut alone, mut beside) = (Vec::<Duration>::new(), Vec::<Duration>::new());
    page(db.clone(), token.clone()).await;
    for _ in 0..iters {
        alone.push(page(db.clone(), token.clone()).await);
        // The Dashboard first, then the page, as the window sends them.
        let counts = tokio::spawn({
            let (db, token) = (db.clone(), token.clone());
            async move {
                let op = authenticate(&db, &token, Client::Desktop)
                    .await
                    .expect("session");
                stats::load(&db, &op).await.expect("dashboard")
            }
        });
        let users_page = tokio::spawn(page(db.clone(), token.clone()));
        beside.push(users_page.await.expect("page task"));
        counts.await.expect("dashboard task");
    }
    b.record(
        "workspace: users page beside the dashboard",
        &format!("workspace (SQLite, {users} users): first Users page while the Dashboard counts vs idle, p50"),
        pct_ms(&beside, 50.0),
        pct_ms(&alone, 50.0),
        "ms",
    );
}
