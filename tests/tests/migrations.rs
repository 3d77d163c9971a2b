//! Migrations on both stores: up → down → up gives an identical schema; drift is refused;
//! a database created from the platform's own DDL is adopted (baselined), not duplicated.

use ncy_core::db::{Db, Dialect};
use ncy_core::migrate::{self, MigrationSet, State};
use ncy_tests::{empty_pg, empty_sqlite};

async fn round_trip(db: &Db) {
    let set = MigrationSet::embedded(db.dialect()).unwrap();
    let empty = migrate::schema_dump(db).await.unwrap();
    let r = migrate::up(db, &set).await.unwrap();
    assert_eq!(r.applied.len(), set.migrations.len());
    let first = migrate::schema_dump(db).await.unwrap();
    assert!(first.contains("AuditLog"), "schema dump lists the tables");
    let down = migrate::down(db, &set, set.migrations.len()).await.unwrap();
    assert_eq!(down.rolled_back.len(), set.migrations.len());
    let after_down = migrate::schema_dump(db).await.unwrap();
    // Only the bookkeeping table remains.
    assert_eq!(
        after_down
            .lines()
            .filter(|l| !l.contains("_ncy_migrations"))
            .collect::<Vec<_>>(),
        empty.lines().collect::<Vec<_>>()
    );
    migrate::up(db, &set).await.unwrap();
    let second = migrate::schema_dump(db).await.unwrap();
    assert_eq!(
        first, second,
        "up → down → up must give the identical schema"
    );
    let st = migrate::status(db, &set).await.unwrap();
    assert!(st.iter().all(|s| s.state == State::Applied));
    // Up again is a no-op.
    let again = migrate::up(db, &set).await.unwrap();
    assert!(again.applied.is_empty() && again.baselined.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_down_up_identical_postgres() {
    let (db, _) = empty_pg().await;
    round_trip(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_down_up_identical_sqlite() {
    let (db, _dir) = empty_sqlite();
    round_trip(&db).await;
}

async fn drift(db: &Db, dir: &std::path::Path) {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let sub = match db.dialect() {
        Dialect::Postgres => "postgres",
        Dialect::Sqlite => "sqlite",
    };
    let copy = dir.join("m");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(src.join(sub)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let set = MigrationSet::from_dir(db.dialect(), &copy).unwrap();
    migrate::up(db, &set).await.unwrap();
    // Edit an applied migration.
    let f = copy.join("0002_user_preferences.up.sql");
    let text = std::fs::read_to_string(&f).unwrap() + "\n-- edited\n";
    std::fs::write(&f, text).unwrap();
    let edited = MigrationSet::from_dir(db.dialect(), &copy).unwrap();
    let err = migrate::up(db, &edited).await.unwrap_err();
    assert!(
        matches!(err, ncy_core::Error::Drift { version: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("was edited after it was applied"),
        "{err}"
    );
    let st = migrate::status(db, &edited).await.unwrap();
    assert_eq!(st[1].state, State::Drifted);
    assert!(
        migrate::down(db, &edited, 1).await.is_err(),
        "down refuses too"
    );
    assert!(migrate::ensure_current(db, &edited).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_refused_postgres() {
    let (db, _) = empty_pg().await;
    let dir = tempfile::tempdir().unwrap();
    drift(&db, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_refused_sqlite() {
    let (db, dir) = empty_sqlite();
    drift(&db, dir.path()).await;
}

/// The platform's own DDL (as its tooling would have run it), without our bookkeeping.
fn platform_ddl() -> String {
    let set = MigrationSet::embedded(Dialect::Postgres).unwrap();
    // The platform created the core schema and UserPreferences (its migration example), but
    // not every index of the strategy: drop two to prove adoption creates missing indexes.
    let core = set.migrations[0]
        .up
        .replace("CREATE INDEX \"Task_due_date_idx\" ON \"Task\"(\"due_date\") WHERE \"deleted_at\" IS NULL;", "")
        .replace("CREATE INDEX \"User_status_idx\" ON \"User\"(\"status\") WHERE \"deleted_at\" IS NULL;", "");
    format!("{core}\n{}", set.migrations[1].up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_platform_database_is_adopted() {
    let (db, _) = empty_pg().await;
    let mut tx = db.begin().await.unwrap();
    tx.batch(&platform_ddl()).await.unwrap();
    tx.batch(
        r#"INSERT INTO "User" ("email", "password_hash", "role") VALUES ('existing@ncy-8.com', '$2b$12$abcdefghijklmnopqrstuuWQ4t3v0pTn6v1e9B6j4m8kS2c1zQy7G', 'ADMIN');"#,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let set = MigrationSet::embedded(Dialect::Postgres).unwrap();
    let r = migrate::up(&db, &set).await.unwrap();
    assert_eq!(
        r.baselined,
        vec![
            "0001_platform_schema".to_string(),
            "0002_user_preferences".to_string()
        ]
    );
    assert_eq!(r.applied.len(), set.migrations.len() - 2);
    assert!(r.indexes_created >= 14);
    let idx = db
        .query("SELECT indexname FROM pg_indexes WHERE indexname IN ('Task_due_date_idx', 'User_status_idx')", &[])
        .await
        .unwrap();
    assert_eq!(
        idx.len(),
        2,
        "missing strategy indexes are created on adoption"
    );
    let users = db
        .query(r#"SELECT count(*) AS n FROM "User""#, &[])
        .await
        .unwrap();
    assert_eq!(users[0].int("n").unwrap(), 1, "existing data untouched");
    let st = migrate::status(&db, &set).await.unwrap();
    assert_eq!(st[0].state, State::Baselined);
    // A baselined migration is never rolled back (it would drop the platform's tables).
    migrate::down(&db, &set, set.migrations.len() - 2)
        .await
        .unwrap();
    let err = migrate::down(&db, &set, 1).await.unwrap_err();
    assert!(err.to_string().contains("baselined"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partially_present_schema_is_refused_clearly() {
    let (db, _) = empty_pg().await;
    let mut tx = db.begin().await.unwrap();
    tx.batch(r#"CREATE TABLE "User" ("id" UUID PRIMARY KEY);"#)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let set = MigrationSet::embedded(Dialect::Postgres).unwrap();
    let err = migrate::up(&db, &set).await.unwrap_err();
    assert!(err.to_string().contains("partially migrated"), "{err}");
    let n = db
        .query(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        n[0].int("n").unwrap(),
        1,
        "nothing half-applied: only the hand-made User table remains"
    );
}

/// The development reset: typed confirmation, refused over users that are not the seed's
/// (unless forced), then a fresh schema with only the development seed.
async fn reset(db: &Db) {
    use ncy_core::seed;
    let set = MigrationSet::embedded(db.dialect()).unwrap();
    // On an empty database too: there is nothing to roll back, the schema and seed arrive.
    let name = seed::database_name(db).await.unwrap();
    let r = seed::reset_dev(db, &set, &name, false).await.unwrap();
    assert!(r.rolled_back.is_empty() && r.applied.len() == set.migrations.len());
    assert_eq!(
        r.seed.users,
        seed::DevSeed::embedded().unwrap().users.len() as u64
    );
    let users = |db: &Db| {
        let db = db.clone();
        async move {
            db.query(r#"SELECT count(*) AS n FROM "User""#, &[])
                .await
                .unwrap()[0]
                .int("n")
                .unwrap()
        }
    };
    db.query(
        r#"INSERT INTO "User" ("id", "email", "password_hash", "role", "status", "created_at", "updated_at")
           VALUES ('6f1c1f9e-9d0b-4c59-a3c5-2d2f0f0c0a01', 'real.person@example.com', 'x', 'EMPLOYEE', 'ACTIVE', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"#,
        &[],
    )
    .await
    .unwrap();
    assert_eq!(users(db).await, 4);
    let e = seed::reset_dev(db, &set, "not-the-name", true)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&name), "names what to type: {e}");
    let e = seed::reset_dev(db, &set, &name, false).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("1 user(s) that are not the development seed's"),
        "{e}"
    );
    assert_eq!(users(db).await, 4, "a refused reset changes nothing");
    let r = seed::reset_dev(db, &set, &name, true).await.unwrap();
    assert_eq!(r.rolled_back.len(), set.migrations.len());
    assert_eq!(r.applied.len(), set.migrations.len());
    assert_eq!(users(db).await, 3, "only the development seed is left");
    let st = migrate::status(db, &set).await.unwrap();
    assert!(st.iter().all(|s| s.state == State::Applied));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_reset_postgres() {
    let (db, _) = empty_pg().await;
    reset(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_reset_sqlite() {
    let (db, _dir) = empty_sqlite();
    reset(&db).await;
}
