//! Read transactions (`Db::begin_read`): lists, details and the dashboard run beside an open
//! write on both stores and see only committed rows. On SQLite they run on read-only
//! connections beside the writer's, so a long count no longer holds up a page; a write in
//! one fails there.

use std::time::Duration;

use ncy_core::admin::{stats, users};
use ncy_core::model::UserStatus;
use ncy_core::params;
use ncy_tests::{conformance, seeded_admin, Store};

/// Turns a read that waits for the open write (a hang) into a failure.
const NO_HANG: Duration = Duration::from_secs(60);

const WHO: &str = "employee@test-org.com";
const SUSPEND: &str =
    r#"UPDATE "User" SET "status" = 'SUSPENDED' WHERE "email" = 'employee@test-org.com'"#;

conformance!(
    reads_run_beside_an_open_write_and_see_only_committed_rows,
    |store: Store| async move {
        let db = &store.db;
        let op = seeded_admin(db).await;
        let before = stats::load(db, &op).await.expect("dashboard");
        let status = |d: users::UserDetail| d.user.status;
        let old = status(users::get(db, &op, WHO).await.expect("get"));
        assert_eq!(old, UserStatus::ACTIVE);

        let mut write = db.begin().await.expect("write tx");
        assert_eq!(write.execute(SUSPEND, &[]).await.expect("rename"), 1);

        // While the write is open: the dashboard, a list and a detail all answer, from the
        // last committed state.
        let during = tokio::time::timeout(NO_HANG, stats::load(db, &op))
            .await
            .expect("the dashboard waited for an open write")
            .expect("dashboard during the write");
        assert_eq!(during.users_active, before.users_active);
        let page = tokio::time::timeout(
            NO_HANG,
            users::list(db, &op, &users::UserFilter::default(), 50, None),
        )
        .await
        .expect("the users list waited for an open write")
        .expect("list during the write");
        let listed = page
            .items
            .iter()
            .find(|u| u.email == WHO)
            .expect("user listed");
        assert_eq!(listed.status, old, "a read saw an uncommitted write");
        let seen = tokio::time::timeout(NO_HANG, users::get(db, &op, WHO))
            .await
            .expect("a detail waited for an open write")
            .expect("get during the write");
        assert_eq!(status(seen), old);

        write.commit().await.expect("commit");
        let after = status(users::get(db, &op, WHO).await.expect("get"));
        assert_eq!(
            after,
            UserStatus::SUSPENDED,
            "a read after the commit sees it"
        );
        let counted = stats::load(db, &op).await.expect("dashboard");
        assert_eq!(
            counted.users_active.map(|n| n + 1),
            before.users_active,
            "the dashboard after the commit counts it"
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_a_read_transaction_fails_on_sqlite_and_changes_nothing() {
    let store = ncy_tests::fresh(ncy_core::db::Dialect::Sqlite).await;
    let db = &store.db;
    let op = seeded_admin(db).await;
    let mut read = db.begin_read().await.expect("read tx");
    let err = read
        .execute(SUSPEND, &[])
        .await
        .expect_err("a read transaction refused the write");
    assert!(
        err.to_string().contains("readonly") || err.to_string().contains("read-only"),
        "{err}"
    );
    drop(read);
    let d = users::get(db, &op, WHO).await.expect("get");
    assert_eq!(d.user.status, UserStatus::ACTIVE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_store_reads_with_its_key_on_several_connections_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.db");
    let db = ncy_core::db::Db::open_sqlite_encrypted(&path, "correct horse battery staple")
        .expect("open encrypted");
    let mut w = db.begin().await.expect("write");
    w.batch(r#"CREATE TABLE "Probe" ("n" INTEGER NOT NULL)"#)
        .await
        .expect("create");
    for n in 1..=3i64 {
        w.execute(r#"INSERT INTO "Probe" ("n") VALUES ($1)"#, &params![n])
            .await
            .expect("insert");
    }
    w.commit().await.expect("commit");

    // Two read transactions open at the same time, each on its own keyed connection.
    let mut a = db.begin_read().await.expect("first reader");
    let mut b = db.begin_read().await.expect("second reader");
    let sum = r#"SELECT SUM("n") AS s FROM "Probe""#;
    let sa: i64 = a.query_one_as(sum, &[]).await.expect("first reads");
    let sb: i64 = b.query_one_as(sum, &[]).await.expect("second reads");
    assert_eq!((sa, sb), (6, 6));

    // A reader's snapshot holds while the writer commits more.
    let mut w = db.begin().await.expect("write");
    w.execute(r#"INSERT INTO "Probe" ("n") VALUES (4)"#, &[])
        .await
        .expect("insert");
    w.commit().await.expect("commit");
    let again: i64 = a.query_one_as(sum, &[]).await.expect("first reads again");
    assert_eq!(again, 6, "a read transaction keeps its snapshot");
    a.rollback().await.expect("end first");
    b.rollback().await.expect("end second");
    let fresh: i64 = db
        .begin_read()
        .await
        .expect("reader")
        .query_one_as(sum, &[])
        .await
        .expect("fresh read");
    assert_eq!(fresh, 10);
}
