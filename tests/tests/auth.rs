//! Operator login and the dev seed on both stores: argon2id and legacy bcrypt verification
//! (bcrypt upgraded on success), lockout, disabled accounts, sessions, seed idempotence.

use ncy_core::auth::{self, login, Client, LockoutPolicy};
use ncy_core::Error;
use ncy_tests::{conformance, Store};

conformance!(
    argon2_and_bcrypt_logins_with_upgrade,
    |store: Store| async move {
        let db = &store.db;
        ncy_core::seed::dev(db, false).await.unwrap();
        let p = LockoutPolicy::default();
        let r = login(db, "admin@ncy-8.com", "admin123", Client::Cli, &p)
            .await
            .unwrap();
        assert!(!r.password_upgraded);
        assert_eq!(
            auth::authenticate(db, &r.token, Client::Cli)
                .await
                .unwrap()
                .email,
            "admin@ncy-8.com"
        );
        // A platform user with a bcrypt hash (the platform's seed uses cost 12).
        let hash = bcrypt::hash("legacy-pass", 12).unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute(
        r#"INSERT INTO "User" ("id", "email", "password_hash", "role") VALUES ($1, 'legacy@ncy-8.com', $2, 'MANAGER')"#,
        &ncy_core::params![uuid::Uuid::new_v4(), hash.as_str()],
    )
    .await
    .unwrap();
        tx.commit().await.unwrap();
        assert!(matches!(
            login(db, "legacy@ncy-8.com", "wrong", Client::Cli, &p).await,
            Err(Error::BadCredentials)
        ));
        let r = login(db, "legacy@ncy-8.com", "legacy-pass", Client::Cli, &p)
            .await
            .unwrap();
        assert!(
            r.password_upgraded,
            "bcrypt hash is upgraded at the first successful login"
        );
        let stored = db
            .query(
                r#"SELECT "password_hash" FROM "User" WHERE "email" = 'legacy@ncy-8.com'"#,
                &[],
            )
            .await
            .unwrap()[0]
            .text("password_hash")
            .unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let again = login(db, "legacy@ncy-8.com", "legacy-pass", Client::Cli, &p)
            .await
            .unwrap();
        assert!(!again.password_upgraded);
        // The session token is never stored in plaintext.
        let tokens = db
            .query(r#"SELECT "refresh_token" FROM "Session""#, &[])
            .await
            .unwrap();
        assert!(tokens
            .iter()
            .all(|t| t.text("refresh_token").unwrap() != r.token));
        // Logins are journaled.
        let n = db
            .query(
                r#"SELECT count(*) AS n FROM "LoginAttempt" WHERE "email" = 'legacy@ncy-8.com'"#,
                &[],
            )
            .await
            .unwrap()[0]
            .int("n")
            .unwrap();
        assert_eq!(n, 3);
        // Logout ends the session.
        assert!(auth::logout(db, &again.token).await.unwrap());
        assert!(matches!(
            auth::authenticate(db, &again.token, Client::Cli).await,
            Err(Error::Unauthenticated(_))
        ));
    }
);

conformance!(
    lockout_after_five_failures_with_remaining_time,
    |store: Store| async move {
        let db = &store.db;
        ncy_core::seed::dev(db, false).await.unwrap();
        let p = LockoutPolicy {
            max_failures: 5,
            lock_minutes: 15,
            session_hours: 1,
        };
        for _ in 0..5 {
            assert!(matches!(
                login(db, "manager@test-org.com", "nope", Client::Cli, &p).await,
                Err(Error::BadCredentials)
            ));
        }
        match login(db, "manager@test-org.com", "manager123", Client::Cli, &p).await {
            Err(Error::LockedOut { minutes, .. }) => {
                assert!((14..=15).contains(&minutes), "{minutes}")
            }
            other => panic!("expected a lockout, got {other:?}"),
        }
        let msg = login(db, "manager@test-org.com", "manager123", Client::Cli, &p)
            .await
            .unwrap_err()
            .to_string();
        assert!(msg.contains("try again in"), "{msg}");
        // Other accounts are not affected.
        login(db, "employee@test-org.com", "employee123", Client::Cli, &p)
            .await
            .unwrap();
        // After the lock window the right password works again (simulated by ageing the attempts).
        let mut tx = db.begin().await.unwrap();
        tx.execute(
            r#"UPDATE "LoginAttempt" SET "created_at" = $1 WHERE "email" = 'manager@test-org.com'"#,
            &ncy_core::params![ncy_core::db::now() - chrono::Duration::minutes(16)],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        login(db, "manager@test-org.com", "manager123", Client::Cli, &p)
            .await
            .unwrap();
    }
);

conformance!(
    disabled_and_deleted_accounts_are_refused,
    |store: Store| async move {
        let db = &store.db;
        ncy_core::seed::dev(db, false).await.unwrap();
        let p = LockoutPolicy::default();
        let admin = login(db, "admin@ncy-8.com", "admin123", Client::Cli, &p)
            .await
            .unwrap()
            .operator;
        let emp = login(db, "employee@test-org.com", "employee123", Client::Cli, &p)
            .await
            .unwrap();
        ncy_core::admin::users::suspend(db, &admin, "employee@test-org.com")
            .await
            .unwrap();
        let e = login(db, "employee@test-org.com", "employee123", Client::Cli, &p)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::AccountDisabled(ref s) if s == "suspended"),
            "{e}"
        );
        assert!(
            matches!(
                auth::authenticate(db, &emp.token, Client::Cli).await,
                Err(Error::AccountDisabled(_))
            ),
            "existing sessions stop working"
        );
        ncy_core::admin::users::update(
            db,
            &admin,
            "manager@test-org.com",
            &ncy_core::admin::users::UserPatch {
                status: Some(ncy_core::model::UserStatus::INACTIVE),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(matches!(
            login(db, "manager@test-org.com", "manager123", Client::Cli, &p).await,
            Err(Error::AccountDisabled(_))
        ));
        ncy_core::admin::users::reactivate(db, &admin, "employee@test-org.com")
            .await
            .unwrap();
        ncy_core::admin::users::delete(db, &admin, "employee@test-org.com")
            .await
            .unwrap();
        assert!(matches!(
            login(db, "employee@test-org.com", "employee123", Client::Cli, &p).await,
            Err(Error::AccountDisabled(_))
        ));
        assert!(matches!(
            login(db, "nobody@ncy-8.com", "x", Client::Cli, &p).await,
            Err(Error::BadCredentials)
        ));
    }
);

conformance!(
    dev_seed_is_idempotent_and_refuses_foreign_users,
    |store: Store| async move {
        let db = &store.db;
        let first = ncy_core::seed::dev(db, false).await.unwrap();
        assert_eq!((first.users, first.organizations, first.tasks), (3, 1, 10));
        let before = ncy_tests::state(db).await;
        let second = ncy_core::seed::dev(db, false).await.unwrap();
        assert_eq!(second.total(), 0, "running twice changes nothing");
        assert_eq!(ncy_tests::state(db).await, before);
        // The seed's memberships and roles.
        let org = db.query(r#"SELECT o."name", u."email" FROM "Organization" o JOIN "User" u ON u."id" = o."owner_id" WHERE o."slug" = 'test-org'"#, &[]).await.unwrap();
        assert_eq!(org[0].text("name").unwrap(), "Test Organization");
        assert_eq!(org[0].text("email").unwrap(), "admin@ncy-8.com");
        let roles = db
        .query(r#"SELECT u."email", m."role"::text AS role FROM "OrganizationMember" m JOIN "User" u ON u."id" = m."user_id" ORDER BY u."email""#, &[])
        .await
        .unwrap();
        let pairs: Vec<(String, String)> = roles
            .iter()
            .map(|r| (r.text("email").unwrap(), r.text("role").unwrap()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("employee@test-org.com".into(), "MEMBER".into()),
                ("manager@test-org.com".into(), "MANAGER".into())
            ]
        );
        // A database with real users is refused unless forced.
        let mut tx = db.begin().await.unwrap();
        tx.execute(r#"INSERT INTO "User" ("id", "email", "password_hash") VALUES ($1, 'real@customer.com', 'x')"#, &ncy_core::params![uuid::Uuid::new_v4()])
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let e = ncy_core::seed::dev(db, false).await.unwrap_err();
        assert!(
            matches!(&e, Error::Conflict { field, .. } if field == "seed")
                && e.to_string().contains("only on a development database")
                && !e.to_string().contains("--"),
            "{e}"
        );
        ncy_core::seed::dev(db, true).await.unwrap();
    }
);

conformance!(synthetic_seed_is_deterministic, |store: Store| async move {
    let spec = ncy_core::seed::SyntheticSpec {
        users: 200,
        orgs: 4,
        tasks: 1000,
        audit: 500,
        seed: 11,
    };
    let rep = ncy_core::seed::synthetic(&store.db, spec, false)
        .await
        .unwrap();
    assert_eq!(
        (
            rep.users,
            rep.organizations,
            rep.projects,
            rep.tasks,
            rep.audit
        ),
        (200, 4, 12, 1000, 500)
    );
    let ids = store
        .db
        .query(
            r#"SELECT "id", "email", "role"::text AS role FROM "User" ORDER BY "email" LIMIT 5"#,
            &[],
        )
        .await
        .unwrap();
    let first: Vec<String> = ids
        .iter()
        .map(|r| {
            format!(
                "{}{}{}",
                r.text("id").unwrap(),
                r.text("email").unwrap(),
                r.text("role").unwrap()
            )
        })
        .collect();
    // Same spec and seed on another fresh store of the same kind: identical rows.
    let other = ncy_tests::fresh(store.dialect()).await;
    ncy_core::seed::synthetic(&other.db, spec, false)
        .await
        .unwrap();
    let ids2 = other
        .db
        .query(
            r#"SELECT "id", "email", "role"::text AS role FROM "User" ORDER BY "email" LIMIT 5"#,
            &[],
        )
        .await
        .unwrap();
    let second: Vec<String> = ids2
        .iter()
        .map(|r| {
            format!(
                "{}{}{}",
                r.text("id").unwrap(),
                r.text("email").unwrap(),
                r.text("role").unwrap()
            )
        })
        .collect();
    assert_eq!(first, second);
    // Ids are UUIDv7 in the order rows are made, so loads append to each primary key.
    for table in ["User", "Task", "AuditLog", "OrganizationMember"] {
        let ts = if table == "OrganizationMember" {
            "joined_at"
        } else {
            "created_at"
        };
        let ids: Vec<uuid::Uuid> = store
            .db
            .query_as(
                &format!(r#"SELECT "id" FROM "{table}" ORDER BY "{ts}", "id""#),
                &[],
            )
            .await
            .unwrap();
        assert!(ids.len() >= 200, "{table}: {} rows", ids.len());
        assert!(
            ids.iter().all(|u| u.get_version_num() == 7),
            "{table}: not v7"
        );
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "{table}: ids out of order"
        );
    }
    assert!(
        ncy_core::seed::synthetic(&store.db, spec, false)
            .await
            .is_err(),
        "a second synthetic set is refused"
    );
});

conformance!(
    lockout_policy_is_configurable_in_settings,
    |store: Store| async move {
        let db = &store.db;
        ncy_core::seed::dev(db, false).await.unwrap();
        let admin = login(
            db,
            "admin@ncy-8.com",
            "admin123",
            Client::Cli,
            &LockoutPolicy::default(),
        )
        .await
        .unwrap()
        .operator;
        ncy_core::admin::settings::set(db, &admin, "auth.lockout.max_failures", "2")
            .await
            .unwrap();
        ncy_core::admin::settings::set(db, &admin, "auth.lockout.minutes", "45")
            .await
            .unwrap();
        assert!(
            ncy_core::admin::settings::set(db, &admin, "auth.lockout.minutes", "-1")
                .await
                .is_err()
        );
        let emp = login(
            db,
            "employee@test-org.com",
            "employee123",
            Client::Cli,
            &LockoutPolicy::default(),
        )
        .await
        .unwrap()
        .operator;
        assert!(matches!(
            ncy_core::admin::settings::set(db, &emp, "auth.lockout.minutes", "1").await,
            Err(Error::Forbidden { .. })
        ));
        let p = LockoutPolicy::load(db).await.unwrap();
        assert_eq!((p.max_failures, p.lock_minutes), (2, 45));
        for _ in 0..2 {
            let _ = login(db, "manager@test-org.com", "bad", Client::Cli, &p).await;
        }
        match login(db, "manager@test-org.com", "manager123", Client::Cli, &p).await {
            Err(Error::LockedOut { minutes, .. }) => assert!(minutes > 40),
            other => panic!("{other:?}"),
        }
        let audit = db
            .query(
                r#"SELECT count(*) AS n FROM "AuditLog" WHERE "action" = 'SETTING_SET'"#,
                &[],
            )
            .await
            .unwrap()[0]
            .int("n")
            .unwrap();
        assert_eq!(audit, 2, "each accepted change audited; refused ones not");

        // The list gives each known setting its meaning, range and default.
        let list = ncy_core::admin::settings::list(db, &admin).await.unwrap();
        let minutes = list
            .iter()
            .find(|x| x.key == "auth.lockout.minutes")
            .unwrap();
        assert_eq!(minutes.value, serde_json::json!(45));
        assert_eq!((minutes.min, minutes.max), (Some(1), Some(1440)));
        assert_eq!(minutes.default, Some(LockoutPolicy::default().lock_minutes));
        let hours = list.iter().find(|x| x.key == "auth.session.hours").unwrap();
        assert!(hours.value.is_null() && hours.default == Some(12));
        // Reset: the default applies again; audited; a second reset is a conflict.
        let r = ncy_core::admin::settings::reset(db, &admin, "auth.lockout.minutes")
            .await
            .unwrap();
        assert!(r.value.is_null());
        assert_eq!(LockoutPolicy::load(db).await.unwrap().lock_minutes, 15);
        let again = ncy_core::admin::settings::reset(db, &admin, "auth.lockout.minutes")
            .await
            .unwrap_err();
        assert!(
            matches!(again, Error::Conflict { .. }) && again.to_string().contains("default, 15"),
            "{again}"
        );
        assert!(matches!(
            ncy_core::admin::settings::reset(db, &emp, "auth.lockout.max_failures").await,
            Err(Error::Forbidden { .. })
        ));
        let resets = ncy_tests::audit_values(db, "SETTING_RESET").await;
        assert_eq!(
            resets,
            vec![(
                Some(serde_json::json!({"auth.lockout.minutes": 45})),
                Some(serde_json::json!({"auth.lockout.minutes": null}))
            )]
        );
    }
);

conformance!(
    step_up_asks_again_after_ten_minutes_and_records_the_confirmation,
    |store: Store| async move {
        use ncy_core::auth::step_up::{require_recent, step_up, STEP_UP_MINUTES};
        let db = &store.db;
        ncy_core::seed::dev(db, false).await.unwrap();
        let op = login(
            db,
            "admin@ncy-8.com",
            "admin123",
            Client::Desktop,
            &LockoutPolicy::default(),
        )
        .await
        .unwrap()
        .operator;
        // Just signed in: destructive actions go through.
        require_recent(db, &op, STEP_UP_MINUTES).await.unwrap();
        // Eleven minutes later they ask for the password.
        let old = ncy_core::db::now() - chrono::Duration::minutes(11);
        db.query(
            r#"UPDATE "Session" SET "created_at" = $2 WHERE "id" = $1"#,
            &ncy_core::params![op.session_id.unwrap(), old],
        )
        .await
        .unwrap();
        let e = require_recent(db, &op, STEP_UP_MINUTES).await.unwrap_err();
        assert!(
            matches!(e, ncy_core::Error::StepUpRequired { minutes: 10 }),
            "{e:?}"
        );
        assert_eq!(e.code(), "step_up");
        // A wrong password changes nothing; the right one lets the action through, audited.
        let before = ncy_tests::audit_count(db).await;
        let e = step_up(db, &op, "wrong").await.unwrap_err();
        assert!(matches!(e, ncy_core::Error::BadCredentials), "{e:?}");
        assert!(require_recent(db, &op, STEP_UP_MINUTES).await.is_err());
        step_up(db, &op, "admin123").await.unwrap();
        require_recent(db, &op, STEP_UP_MINUTES).await.unwrap();
        assert_eq!(ncy_tests::audit_count(db).await, before + 1);
        let n = db
            .query(
                r#"SELECT count(*) AS n FROM "AuditLog" WHERE "action" = 'AUTH_STEP_UP'"#,
                &[],
            )
            .await
            .unwrap()[0]
            .int("n")
            .unwrap();
        assert_eq!(n, 1);
    }
);
