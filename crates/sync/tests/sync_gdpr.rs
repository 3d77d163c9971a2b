//! An erasure on the server reaches offline caches at their next pull: the subject's former
//! email is nowhere in the cache afterwards, and the cache equals the server's slice.

mod common;

use ncy_gdpr::erase::{self, ErasureOptions};
use ncy_gdpr::request::{self, NewRequest};
use ncy_gdpr::RequestKind;
use ncy_sync::{pull, Ctl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erased_subject_leaves_the_cache_at_the_next_pull() {
    let s = common::server().await;
    let (c, _dir) = common::cache(&s, &s.admin).await;
    let email = "employee@test-org.com";
    let count = |db: ncy_core::db::Db| async move {
        db.query(
            r#"SELECT count(*) AS n FROM "User" WHERE "email" = $1"#,
            &ncy_core::params![email],
        )
        .await
        .unwrap()[0]
            .int("n")
            .unwrap()
    };
    assert_eq!(
        count(c.db.clone()).await,
        1,
        "the subject is in the cache before"
    );

    let r = request::create(
        &s.db,
        &s.admin,
        NewRequest {
            user: email.into(),
            kind: RequestKind::Erasure,
            notes: None,
        },
    )
    .await
    .unwrap();
    request::verify_identity(&s.db, &s.admin, r.id, "signed letter")
        .await
        .unwrap();
    erase::erase(
        &s.db,
        &s.admin,
        r.id,
        email,
        &ErasureOptions::default(),
        ncy_core::Work::none(),
    )
    .await
    .unwrap();

    pull::pull(&s.db, &c, &s.admin, Ctl::default())
        .await
        .unwrap();
    assert_eq!(
        count(c.db.clone()).await,
        0,
        "the former email is gone from the cache"
    );
    let memberships = c
        .db
        .query(
            r#"SELECT count(*) AS n FROM "OrganizationMember" m JOIN "User" u ON u."id" = m."user_id"
               WHERE u."email" LIKE 'anonymized_%' AND m."deleted_at" IS NULL"#,
            &[],
        )
        .await
        .unwrap()[0]
        .int("n")
        .unwrap();
    assert_eq!(
        memberships, 0,
        "memberships removed by the erasure are removed from the cache"
    );
    common::assert_matches(&s.db, &c).await;
}
