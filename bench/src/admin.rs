//! Administration reads: keyset paging of users (page N vs page 1, and vs OFFSET at page N)
//! and audit search by target.

use std::time::Instant;

use ncy_core::admin::users::{self, UserFilter};
use ncy_core::admin::Cursor;
use ncy_core::audit::query::{self as audit_query, AuditFilter};
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::db::{ConnectOptions, Db, Target};

use crate::harness::{pct_ms, sample, Bench};

const PAGE: u32 = 50;

/// Runs the measures on the seeded synthetic database.
pub async fn run(b: &mut Bench, url: &str) {
    let db = Db::connect(
        &Target::Postgres(url.to_owned()),
        &ConnectOptions::default(),
    )
    .await
    .expect("connect");
    ncy_core::seed::dev(&db, true)
        .await
        .expect("dev seed for an operator");
    let op = login(
        &db,
        "admin@ncy-8.com",
        "admin123",
        Client::Cli,
        &LockoutPolicy::default(),
    )
    .await
    .expect("login")
    .operator;
    let total = db
        .query(
            r#"SELECT count(*) AS n FROM "User" WHERE "deleted_at" IS NULL"#,
            &[],
        )
        .await
        .expect("count")[0]
        .int("n")
        .expect("n");
    let page_n = (10_000_i64).min(total / PAGE as i64 - 1).max(1);
    // The cursor that starts page N: the key of the last row of page N-1.
    let offset = (page_n - 1) * PAGE as i64;
    let row = db
        .query(
            &format!(r#"SELECT "created_at", "id" FROM "User" WHERE "deleted_at" IS NULL ORDER BY "created_at" DESC, "id" DESC OFFSET {} LIMIT 1"#, offset - 1),
            &[],
        )
        .await
        .expect("cursor row");
    let cursor = Cursor {
        ts: row[0].ts("created_at").expect("ts"),
        id: row[0].uuid("id").expect("id"),
    }
    .encode();
    let iters = match b.scale {
        crate::harness::Scale::Smoke => 20,
        _ => 200,
    };
    let f = UserFilter::default();
    let first = sample(iters, || async {
        users::list(&db, &op, &f, PAGE, None).await.expect("page 1");
    })
    .await;
    let nth = sample(iters, || async {
        let p = users::list(&db, &op, &f, PAGE, Some(&cursor))
            .await
            .expect("page n");
        assert_eq!(p.items.len(), PAGE as usize);
    })
    .await;
    let pool = db.pg().expect("pg").pool().clone();
    let sql = format!(
        r#"SELECT "id", "email", "role"::text, "status"::text, "created_at", "updated_at", "deleted_at", "password_hash" FROM "User"
           WHERE "deleted_at" IS NULL ORDER BY "created_at" DESC, "id" DESC LIMIT {} OFFSET {offset}"#,
        PAGE + 1
    );
    let off = sample(iters.min(50), || async {
        sqlx::query(&sql).fetch_all(&pool).await.expect("offset");
    })
    .await;
    b.record(
        "users keyset page p50",
        &format!("users keyset page {page_n} ÷ page 1 ({total} users), p50"),
        pct_ms(&nth, 50.0),
        pct_ms(&first, 50.0),
        "ms",
    );
    b.record(
        "users keyset page p95",
        &format!("users keyset page {page_n}, p95 (goal ≤ 5 ms) vs page 1 p95"),
        pct_ms(&nth, 95.0),
        pct_ms(&first, 95.0),
        "ms",
    );
    b.record(
        "users keyset vs offset",
        &format!("users keyset page {page_n} vs OFFSET page {page_n} (baseline), p50"),
        pct_ms(&nth, 50.0),
        pct_ms(&off, 50.0),
        "ms",
    );

    // Audit search by target: the core query vs the same SQL issued raw.
    let audit_rows = db
        .query(r#"SELECT count(*) AS n FROM "AuditLog""#, &[])
        .await
        .expect("count")[0]
        .int("n")
        .expect("n");
    let targets: Vec<uuid::Uuid> = db
        .query(r#"SELECT "target_id" FROM "AuditLog" WHERE "target_id" IS NOT NULL ORDER BY "id" LIMIT 200"#, &[])
        .await
        .expect("targets")
        .iter()
        .filter_map(|r| r.opt_uuid("target_id").ok().flatten())
        .collect();
    if targets.is_empty() {
        return;
    }
    // Ours and the raw SQL alternate on the same target, so neither runs during a quieter
    // stretch of the machine. Each target's rows are first read once untimed: at 5M rows a
    // target's 51 rows sit on 51 heap pages that are mostly not in shared buffers, and
    // whichever ran first paid those reads for both (ours ran first, and that was most of
    // the difference measured before). Which side runs first also alternates.
    let search = |t: uuid::Uuid| {
        let (db, op) = (&db, &op);
        async move {
            let f = AuditFilter {
                target: Some(t),
                ..Default::default()
            };
            audit_query::list(db, op, &f, PAGE, None)
                .await
                .expect("audit search");
        }
    };
    let raw_search = |t: uuid::Uuid| {
        let pool = &pool;
        async move {
            sqlx::query(
                r#"SELECT a.*, u."email" FROM "AuditLog" a LEFT JOIN "User" u ON u."id" = a."user_id"
                   WHERE a."target_id" = $1 ORDER BY a."created_at" DESC, a."id" DESC LIMIT 51"#,
            )
            .bind(t)
            .fetch_all(pool)
            .await
            .expect("raw audit search");
        }
    };
    search(targets[0]).await;
    raw_search(targets[0]).await;
    let (mut ours, mut raw) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    for i in 0..iters {
        let t = targets[(i + 1) % targets.len()];
        raw_search(t).await;
        for ours_now in [i % 2 == 0, i % 2 == 1] {
            let at = Instant::now();
            if ours_now {
                search(t).await;
                ours.push(at.elapsed());
            } else {
                raw_search(t).await;
                raw.push(at.elapsed());
            }
        }
    }
    b.record(
        "audit search p50",
        &format!("audit search by target ({audit_rows} rows), p50"),
        pct_ms(&ours, 50.0),
        pct_ms(&raw, 50.0),
        "ms",
    );
    b.record(
        "audit search",
        &format!("audit search by target ({audit_rows} rows), p95"),
        pct_ms(&ours, 95.0),
        pct_ms(&raw, 95.0),
        "ms",
    );
    db.close().await;
}
