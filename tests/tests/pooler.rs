//! Through a real PgBouncer in transaction mode (what Supabase, Heroku and Neon put in front of
//! PostgreSQL): every core operation works with `pgbouncer=true`, the pooler is detected when
//! the URL does not say so, a pooler that shares server connections is named in the error when
//! it cannot be detected, and backups ask for the direct URL.

use ncy_core::admin::users::{self, NewUser, UserFilter};
use ncy_core::audit::query::{self as audit, AuditFilter};
use ncy_core::db::{ConnectOptions, Db, Protocol, Target, Tx};
use ncy_core::migrate::{self, MigrationSet};
use ncy_core::model::UserRole;
use ncy_core::{params, Error};
use ncy_tests::cli::{fails, Cli};
use ncy_tests::pooler::{Pooler, PoolerOptions};
use ncy_tests::{fresh_pg, operators};

async fn connect(url: &str, max: u32) -> ncy_core::Result<Db> {
    Db::connect(
        &Target::Postgres(url.to_owned()),
        &ConnectOptions {
            max_connections: max,
            ..ConnectOptions::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_core_operation_works_through_pgbouncer_in_transaction_mode() {
    let (db, url) = fresh_pg().await;
    let ops = operators(&db).await;
    // Two server connections shared by up to 8 client connections: any state one client left
    // on a server connection would meet another client.
    let (_pooler, purl) = Pooler::in_front_of(&url, &PoolerOptions::default());
    let purl = format!("{purl}?pgbouncer=true");
    let pdb = connect(&purl, 8).await.expect("connect through pgbouncer");
    assert!(pdb.pooled(), "pgbouncer=true selects the pooler protocol");

    let mut jobs = Vec::new();
    for i in 0..16 {
        let pdb = pdb.clone();
        let admin = ops.admin.clone();
        jobs.push(tokio::spawn(async move {
            let email = format!("pooled-{i}@example.com");
            let c = users::create(
                &pdb,
                &admin,
                &NewUser {
                    email: email.clone(),
                    role: Some(UserRole::EMPLOYEE),
                    status: None,
                    password: None,
                },
            )
            .await?;
            users::get(&pdb, &admin, &email).await?;
            let page = users::list(&pdb, &admin, &UserFilter::default(), 5, None).await?;
            assert!(!page.items.is_empty());
            let f = AuditFilter {
                target: Some(c.user.id),
                ..AuditFilter::default()
            };
            let trail = audit::list(&pdb, &admin, &f, 10, None).await?;
            assert_eq!(trail.items.len(), 1, "the create is audited once");
            Ok::<(), Error>(())
        }));
    }
    for j in jobs {
        j.await.expect("job").expect("operation through pgbouncer");
    }
    let n = db
        .query(
            r#"SELECT count(*) AS n FROM "User" WHERE "email" LIKE 'pooled-%'"#,
            &[],
        )
        .await
        .expect("count")[0]
        .int("n")
        .expect("n");
    assert_eq!(n, 16);

    // Typed values survive the inlined literals exactly (quotes, backslashes, JSON, NULL, arrays).
    let tricky = "O'Brien \\ $1 -- not a comment";
    let r = pdb
        .query(
            "SELECT $1::text AS t, $2::jsonb AS j, $3::uuid AS u, $4::text[] AS a, $5::int8 AS n",
            &params![
                tricky,
                serde_json::json!({"k": "it's"}),
                ops.admin.user_id,
                vec!["a'b".to_owned(), "c".into()],
                None::<i64>
            ],
        )
        .await
        .expect("typed round trip");
    assert_eq!(r[0].text("t").expect("t"), tricky);
    assert_eq!(
        r[0].opt_json("j").expect("j"),
        Some(serde_json::json!({"k": "it's"}))
    );
    assert_eq!(r[0].uuid("u").expect("u"), ops.admin.user_id);
    assert!(r[0].opt_int("n").expect("n").is_none());

    // Migration status and a whole migration run work through the pooler.
    let set = MigrationSet::embedded(ncy_core::db::Dialect::Postgres).expect("migrations");
    let st = migrate::status(&pdb, &set).await.expect("status");
    assert!(
        st.iter().all(|m| m.state == migrate::State::Applied),
        "every migration applied"
    );

    // The CLI: login, reads and an audited write, all through the pooler.
    let cli = Cli::new(vec!["--database-url".into(), purl.clone()]);
    cli.login("admin@ncy-8.com", "admin123");
    let list = cli.json(&["users", "list", "--limit", "3"]);
    assert!(list.to_string().contains("@"), "users listed: {list}");
    cli.ok(&["users", "create", "--email", "cli-pooled@example.com"]);
    cli.ok(&["audit", "list", "--limit", "5"]);

    // Backups need session state: a clear refusal naming the direct URL, nothing written.
    let dir = tempfile::tempdir().expect("tempdir");
    let o = cli.run(&[
        "backup",
        "create",
        "--dir",
        dir.path().to_str().expect("utf-8 path"),
    ]);
    fails(&o, 7, "direct");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    pdb.close().await;
}

#[tokio::test]
async fn a_fresh_database_migrates_through_the_pooler() {
    let (_, url) = ncy_tests::empty_pg().await;
    let (_pooler, purl) = Pooler::in_front_of(&url, &PoolerOptions::default());
    let pdb = connect(&format!("{purl}?pgbouncer=true"), 4)
        .await
        .expect("connect");
    let set = MigrationSet::embedded(ncy_core::db::Dialect::Postgres).expect("migrations");
    migrate::up(&pdb, &set)
        .await
        .expect("migrate through pgbouncer");
    let st = migrate::status(&pdb, &set).await.expect("status");
    assert!(st.iter().all(|m| m.state == migrate::State::Applied));
    pdb.close().await;
}

#[tokio::test]
async fn a_pooler_is_detected_when_the_url_does_not_say_so() {
    let (_, url) = fresh_pg().await;
    let (_pooler, purl) = Pooler::in_front_of(&url, &PoolerOptions::default());
    let pdb = connect(&purl, 4).await.expect("connect");
    assert!(
        pdb.pooled(),
        "PgBouncer's refusal of extra_float_digits is recognised"
    );
    let r = pdb
        .query(r#"SELECT count(*) AS n FROM "User""#, &[])
        .await
        .expect("query");
    assert!(r[0].int("n").expect("n") >= 0);
    pdb.close().await;
    // A direct connection stays on prepared statements.
    let direct = connect(&url, 2).await.expect("direct");
    assert!(!direct.pooled());
    direct.close().await;
}

/// A client connection of its own (leaked: it lives as long as the test process, which a
/// transaction of the store's `Tx` type needs).
async fn own_connection(url: &str) -> &'static mut sqlx::PgConnection {
    use sqlx::Connection as _;
    let c = sqlx::PgConnection::connect(url)
        .await
        .expect("client connection");
    Box::leak(Box::new(c))
}

/// Runs one parameterised statement on `conn` with `proto`, in a transaction of its own.
async fn run_on(conn: &'static mut sqlx::PgConnection, proto: Protocol) -> ncy_core::Result<i64> {
    let t = sqlx::Transaction::begin(conn, None)
        .await
        .map_err(|e| Error::db(e.to_string()))?;
    let mut tx = Tx::from_pg(t, proto);
    let r = match tx.query("SELECT $1::int8 + 1 AS n", &params![41i64]).await {
        Ok(rows) => rows[0].int("n"),
        Err(e) => Err(e),
    };
    let _ = tx.rollback().await;
    r
}

#[tokio::test]
async fn a_shared_server_connection_breaks_prepared_statements_but_not_the_pooler_protocol() {
    let (_, url) = fresh_pg().await;
    // One server connection for every client, and the startup parameter ignored (so the
    // pooler cannot be detected at connect).
    let (_pooler, purl) = Pooler::in_front_of(
        &url,
        &PoolerOptions {
            pool_size: 1,
            ignore_extra_float_digits: true,
            ..Default::default()
        },
    );
    let pdb = connect(&purl, 2).await.expect("connect");
    assert!(!pdb.pooled(), "nothing told this pooler apart at connect");
    pdb.close().await;

    // Two clients, one server connection: the second prepares the same statement name.
    let (x, y) = (own_connection(&purl).await, own_connection(&purl).await);
    assert_eq!(
        run_on(x, Protocol::Prepared).await.expect("first client"),
        42
    );
    match run_on(y, Protocol::Prepared).await {
        Err(Error::Config(m)) => assert!(m.contains("pgbouncer=true"), "{m}"),
        other => panic!("a named-statement collision must name the fix: {other:?}"),
    }
    // The pooler protocol leaves nothing on the server connection for the next client.
    let (z, w) = (own_connection(&purl).await, own_connection(&purl).await);
    assert_eq!(run_on(z, Protocol::Simple).await.expect("simple"), 42);
    assert_eq!(run_on(w, Protocol::Simple).await.expect("simple"), 42);
}

/// PgBouncer as managed platforms run it: clients authenticate with SCRAM-SHA-256 against the
/// secrets PgBouncer fetches through `auth_query`, and it passes the authentication on to the
/// server. An operator's own login works through it (identity, a read, an audited write made by
/// the database as that operator); a wrong password is refused with a readable message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_log_in_through_pgbouncer_with_scram_and_auth_query() {
    use ncy_core::auth::{identify, Client};
    use ncy_tests::logins::{self, url_as};
    let (db, url) = fresh_pg().await;
    let conns = logins::conns(&db, &url).await;
    let admin = conns.iter().find(|c| c.role == "ADMIN").expect("ADMIN");
    let (pooler, purl) = Pooler::with_auth_query(&db, &url).await;
    let base = format!("{purl}?pgbouncer=true");

    let pdb = connect(&url_as(&base, &admin.db_role, logins::PASSWORD), 4)
        .await
        .unwrap_or_else(|e| panic!("SCRAM through pgbouncer: {e}\n{}", pooler.log()));
    assert!(pdb.pooled());
    let me = identify(&pdb, Client::Cli)
        .await
        .expect("identify")
        .expect("the pooled login maps to its operator");
    assert_eq!(me.user_id, admin.op.user_id);
    let page = users::list(&pdb, &me, &UserFilter::default(), 100, None)
        .await
        .expect("list through the pooler");
    assert!(!page.items.is_empty());
    let created = users::create(
        &pdb,
        &me,
        &NewUser {
            email: "scram.pooled@example.com".into(),
            role: Some(UserRole::EMPLOYEE),
            status: None,
            password: Some("pooled-password-1".into()),
        },
    )
    .await
    .expect("an audited write through the pooler");
    let entries = audit::list(
        &pdb,
        &me,
        &AuditFilter {
            target: Some(created.user.id),
            ..Default::default()
        },
        10,
        None,
    )
    .await
    .expect("audit");
    assert!(
        entries
            .items
            .iter()
            .any(|e| e.actor_email.as_deref() == Some(me.email.as_str())),
        "the write is audited as the operator"
    );

    let e = connect(&url_as(&base, &admin.db_role, "not-the-password"), 1)
        .await
        .expect_err("a wrong password is refused");
    assert!(
        matches!(e, Error::DatabaseAuth { .. }) && e.to_string().contains("wrong password"),
        "{e}"
    );
    assert!(
        std::error::Error::source(&e).is_some(),
        "the driver's error is kept as the source: {e:?}"
    );
    pdb.close().await;
}
