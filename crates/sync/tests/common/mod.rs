//! Shared set-up for the sync tests: a fresh PostgreSQL with the dev seed plus a second
//! organization outside the slice, caches in temporary directories, and a comparison of a
//! cache with the server's slice.
#![allow(dead_code)]

use std::collections::BTreeMap;

use ncy_core::auth::Operator;
use ncy_core::db::{Db, PgDb, Value};
use ncy_core::params;
use ncy_sync::tables::{self, Slice};
use ncy_sync::{Cache, Ctl};
use uuid::Uuid;

pub struct Server {
    pub db: PgDb,
    pub url: String,
    pub admin: Operator,
    pub org: Uuid,
    pub other_org: Uuid,
    pub projects: Vec<Uuid>,
    pub other_project: Uuid,
    pub users: Vec<Uuid>,
}

/// A task's title in `db` (the server or a cache).
pub async fn title_of(db: &Db, id: Uuid) -> String {
    db.query(
        r#"SELECT "title" FROM "Task" WHERE "id" = $1"#,
        &params![id],
    )
    .await
    .unwrap()[0]
        .text("title")
        .unwrap()
}

pub async fn q(db: &Db, sql: &str, p: Vec<Value>) -> Vec<ncy_core::db::Row> {
    db.query(sql, &p).await.unwrap()
}

/// Dev seed + an organization "other-org" (not synced) with a project and a task.
pub async fn server() -> Server {
    let (db, url) = ncy_tests::fresh_pg().await;
    let admin = ncy_tests::seeded_admin(&db).await;
    let org = q(
        &db,
        r#"SELECT "id" FROM "Organization" WHERE "slug" = 'test-org'"#,
        vec![],
    )
    .await[0]
        .uuid("id")
        .unwrap();
    let other_org = Uuid::new_v4();
    let other_project = Uuid::new_v4();
    let outsider = Uuid::new_v4();
    q(
        &db,
        r#"INSERT INTO "User" ("id", "email", "password_hash") VALUES ($1, 'outsider@other.test', 'x')"#,
        ncy_core::params![outsider],
    )
    .await;
    q(
        &db,
        r#"INSERT INTO "Organization" ("id", "name", "slug", "owner_id") VALUES ($1, 'Other', 'other-org', $2)"#,
        ncy_core::params![other_org, outsider],
    )
    .await;
    q(
        &db,
        r#"INSERT INTO "Project" ("id", "organization_id", "name") VALUES ($1, $2, 'Other project')"#,
        ncy_core::params![other_project, other_org],
    )
    .await;
    q(
        &db,
        r#"INSERT INTO "Task" ("project_id", "title", "assignee_id") VALUES ($1, 'outside task', $2)"#,
        ncy_core::params![other_project, outsider],
    )
    .await;
    let projects = q(
        &db,
        r#"SELECT "id" FROM "Project" WHERE "organization_id" = $1 ORDER BY "id""#,
        params![org],
    )
    .await
    .iter()
    .map(|r| r.uuid("id").unwrap())
    .collect();
    let users = q(
        &db,
        r#"SELECT "id" FROM "User" WHERE "email" LIKE '%test-org.com' OR "email" = 'admin@ncy-8.com' ORDER BY "email""#,
        vec![],
    )
    .await
    .iter()
    .map(|r| r.uuid("id").unwrap())
    .collect();
    Server {
        db: db.pg().expect("a PostgreSQL store").clone(),
        url,
        admin,
        org,
        other_org,
        projects,
        other_project,
        users,
    }
}

/// A new cache of test-org in a temporary directory.
pub async fn cache(s: &Server, op: &Operator) -> (Cache, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key = ncy_sync::cache::new_key();
    let (c, _) = ncy_sync::initial::init_at(
        &s.db,
        &s.url,
        op,
        &["test-org".to_owned()],
        &dir.path().join("cache.db"),
        &key,
        Ctl::default(),
    )
    .await
    .unwrap();
    (c, dir)
}

pub type Snapshot = BTreeMap<&'static str, BTreeMap<String, Vec<Option<String>>>>;

fn canon(v: Option<String>) -> Option<String> {
    v.map(|s| match serde_json::from_str::<serde_json::Value>(&s) {
        Ok(j @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => j.to_string(),
        _ => s,
    })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null(_) => None,
        Value::Text(s) => Some(s.clone()),
        Value::Uuid(u) => Some(u.to_string()),
        Value::Int(i) => Some(i.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// The server's slice, every column as the cache stores it.
pub async fn server_slice(db: &Db, slice: &Slice) -> Snapshot {
    let mut out = Snapshot::new();
    for t in tables::ALL {
        let rows = db.query(&t.select_slice(slice), &[]).await.unwrap();
        let mut m = BTreeMap::new();
        for r in rows {
            let vals: Vec<Option<String>> = r.values().iter().map(|v| canon(text(v))).collect();
            let key = t
                .key_positions()
                .iter()
                .map(|&i| vals[i].clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|");
            m.insert(key, vals);
        }
        out.insert(t.name, m);
    }
    out
}

/// The cache's synced tables.
pub async fn cache_rows(c: &Cache) -> Snapshot {
    let mut out = Snapshot::new();
    for t in tables::ALL {
        let cols: Vec<String> = t.cols.iter().map(|c| format!("\"{}\"", c.name)).collect();
        let rows =
            c.db.query(
                &format!(r#"SELECT {} FROM "{}""#, cols.join(", "), t.name),
                &[],
            )
            .await
            .unwrap();
        let mut m = BTreeMap::new();
        for r in rows {
            let vals: Vec<Option<String>> = r.values().iter().map(|v| canon(text(v))).collect();
            let key = t
                .key_positions()
                .iter()
                .map(|&i| vals[i].clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|");
            m.insert(key, vals);
        }
        out.insert(t.name, m);
    }
    out
}

/// Asserts the cache holds exactly the server's slice, naming the first difference.
pub async fn assert_matches(db: &Db, c: &Cache) {
    let slice = c.slice().await.unwrap();
    let want = server_slice(db, &slice).await;
    let got = cache_rows(c).await;
    for t in tables::ALL {
        let (w, g) = (&want[t.name], &got[t.name]);
        for (k, v) in w {
            assert_eq!(
                g.get(k),
                Some(v),
                "{} row {k} differs (left: cache, right: server)",
                t.name
            );
        }
        for k in g.keys() {
            assert!(
                w.contains_key(k),
                "{} row {k} is in the cache but not in the server's slice",
                t.name
            );
        }
    }
}
