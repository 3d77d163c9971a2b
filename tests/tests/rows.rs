//! Typed rows (`Row::decode`, `Tx::query_as`) read the same struct from both stores: values
//! PostgreSQL returns typed (uuid, timestamp, jsonb, text[], bool) and SQLite returns as text
//! or integers decode alike, and a wrong or missing column names itself.

use chrono::NaiveDateTime;
use ncy_core::db::{parse_ts, Value};
use ncy_core::model::UserRole;
use ncy_core::params;
use ncy_tests::{conformance, Store};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Shade {
    Light,
    Dark,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Typed {
    id: Uuid,
    no_id: Option<Uuid>,
    at: NaiveDateTime,
    no_at: Option<NaiveDateTime>,
    n: i64,
    small: i32,
    flag: bool,
    off: bool,
    ratio: f64,
    name: String,
    no_name: Option<String>,
    doc: serde_json::Value,
    no_doc: Option<serde_json::Value>,
    tags: Vec<String>,
    role: UserRole,
    shade: Shade,
    /// Not selected at all.
    absent: Option<String>,
}

const SELECT: &str = r#"SELECT $1::uuid AS id, $2::uuid AS no_id, $3::timestamp AS at,
    $4::timestamp AS no_at, $5::int8 AS n, $6::int4 AS small, $7::boolean AS flag,
    $8::boolean AS off, $9::float8 AS ratio, $10::text AS name, $11::text AS no_name,
    $12::jsonb AS doc, $13::jsonb AS no_doc, $14::text[] AS tags, $15::text AS role,
    $16::text AS shade"#;

conformance!(
    typed_rows_decode_alike_on_both_stores,
    |store: Store| async move {
        let id = Uuid::new_v4();
        let at = parse_ts("2024-02-29 13:14:15.678").unwrap();
        let p = params![
            id,
            None::<Uuid>,
            at,
            None::<NaiveDateTime>,
            1i64 << 40,
            -7i32,
            true,
            false,
            2.5f64,
            "O'Brien 2024-01-01 10:00:00",
            None::<String>,
            json!({"a": [1, "x"], "b": null}),
            None::<serde_json::Value>,
            vec!["one".to_owned(), "two".to_owned()],
            "MANAGER",
            "dark"
        ];
        ncy_core::seed::dev(&store.db, false).await.unwrap();
        let mut tx = store.db.begin().await.unwrap();
        let got: Typed = tx.query_one_as(SELECT, &p).await.unwrap();
        assert_eq!(
            got,
            Typed {
                id,
                no_id: None,
                at,
                no_at: None,
                n: 1 << 40,
                small: -7,
                flag: true,
                off: false,
                ratio: 2.5,
                name: "O'Brien 2024-01-01 10:00:00".into(),
                no_name: None,
                doc: json!({"a": [1, "x"], "b": null}),
                no_doc: None,
                tags: vec!["one".into(), "two".into()],
                role: UserRole::MANAGER,
                shade: Shade::Dark,
                absent: None,
            }
        );

        // A row of a real table, through a model loader's struct.
        #[derive(Debug, Deserialize)]
        struct UserRow {
            id: Uuid,
            email: String,
            role: UserRole,
            created_at: NaiveDateTime,
            deleted_at: Option<NaiveDateTime>,
        }
        let users: Vec<UserRow> = tx
        .query_as(
            r#"SELECT "id", "email", "role"::text AS role, "created_at", "deleted_at" FROM "User" ORDER BY "email""#,
            &[],
        )
        .await
        .unwrap();
        assert!(users
            .iter()
            .any(|u| u.email == "admin@ncy-8.com" && u.role == UserRole::ADMIN));
        assert!(users
            .iter()
            .all(|u| !u.id.is_nil() && u.deleted_at.is_none_or(|d| d >= u.created_at)));

        // Errors name the column.
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Wrong {
            n: Uuid,
        }
        let e = tx
            .query_one_as::<Wrong>("SELECT $1::int8 AS n", &params![5i64])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("column n"), "{e}");
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Missing {
            gone: String,
        }
        let e = tx
            .query_one_as::<Missing>("SELECT 1 AS n", &[])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("gone"), "{e}");
        let mut bad = p.clone();
        bad[14] = Value::from("NOBODY");
        let e = tx.query_one_as::<Typed>(SELECT, &bad).await.unwrap_err();
        assert!(e.to_string().contains("column role"), "{e}");
        tx.rollback().await.unwrap();

        // A lone value decodes too.
        let v = Value::Text("2024-02-29 13:14:15.678".into());
        let t: NaiveDateTime = serde::Deserialize::deserialize(&v).unwrap();
        assert_eq!(t, at);
    }
);

conformance!(
    one_column_rows_decode_as_values_and_rows_as_tuples,
    |store: Store| async move {
        let id = Uuid::new_v4();
        let at = parse_ts("2024-02-29 13:14:15.678").unwrap();
        let mut tx = store.db.begin().await.unwrap();
        let n: i64 = tx
            .query_one_as("SELECT $1::int8 AS n", &params![42i64])
            .await
            .unwrap();
        assert_eq!(n, 42);
        let s: String = tx
            .query_one_as("SELECT $1::text AS s", &params!["x"])
            .await
            .unwrap();
        assert_eq!(s, "x");
        let u: Uuid = tx
            .query_one_as("SELECT $1::uuid AS u", &params![id])
            .await
            .unwrap();
        assert_eq!(u, id);
        let none: Option<NaiveDateTime> = tx
            .query_one_as("SELECT $1::timestamp AS t", &params![None::<NaiveDateTime>])
            .await
            .unwrap();
        assert_eq!(none, None);
        let some: Option<NaiveDateTime> = tx
            .query_one_as("SELECT $1::timestamp AS t", &params![at])
            .await
            .unwrap();
        assert_eq!(some, Some(at));
        let yes: bool = tx.query_one_as("SELECT 1 = 1 AS b", &[]).await.unwrap();
        assert!(yes);
        let role: UserRole = tx
            .query_one_as("SELECT $1::text AS r", &params!["ADMIN"])
            .await
            .unwrap();
        assert_eq!(role, UserRole::ADMIN);
        let pair: (String, Option<i64>, bool) = tx
            .query_one_as(
                "SELECT $1::text AS a, $2::int8 AS b, $3::boolean AS c",
                &params!["p", None::<i64>, false],
            )
            .await
            .unwrap();
        assert_eq!(pair, ("p".to_owned(), None, false));
        let many: Vec<(i64, String)> = tx
            .query_as(
                "SELECT 1 AS k, 'one' AS v UNION ALL SELECT 2, 'two' ORDER BY 1",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(many, vec![(1, "one".into()), (2, "two".into())]);

        // Shapes that do not fit say so, naming the columns.
        let e = tx
            .query_one_as::<i64>("SELECT 1 AS a, 2 AS b", &[])
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("one column") && e.to_string().contains("a, b"),
            "{e}"
        );
        let e = tx
            .query_one_as::<(i64, i64)>("SELECT 1 AS a", &[])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("expected 2 columns"), "{e}");
        let e = tx
            .query_one_as::<i64>("SELECT 'x' AS word", &[])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("column word"), "{e}");
        tx.rollback().await.unwrap();
    }
);
