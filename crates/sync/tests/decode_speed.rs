//! Reading the pull's change feed (100k rows) through `Row::decode` costs no more than the
//! column-name accessors it replaced (#15). Timing-sensitive, so not part of the suite:
//! `cargo test -p ncy-sync --test decode_speed -- --ignored --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ncy_core::db::{Db, Row};
use serde::Deserialize;

const ROWS: usize = 100_000;

#[derive(Deserialize)]
struct Change {
    table_name: String,
    a: String,
    b: Option<String>,
}

type ByTable = BTreeMap<String, BTreeSet<Vec<String>>>;

fn by_accessors(rows: &[Row]) -> ByTable {
    let mut by_table = ByTable::new();
    for c in rows {
        let mut k = vec![c.text("a").unwrap()];
        if let Some(b) = c.opt_text("b").unwrap() {
            k.push(b);
        }
        by_table
            .entry(c.text("table_name").unwrap())
            .or_default()
            .insert(k);
    }
    by_table
}

fn by_decode(rows: &[Row]) -> ByTable {
    let mut by_table = ByTable::new();
    for c in rows {
        let Change { table_name, a, b } = c.decode().unwrap();
        let mut k = vec![a];
        if let Some(b) = b {
            k.push(b);
        }
        by_table.entry(table_name).or_default().insert(k);
    }
    by_table
}

/// The best of `n` runs of each, interleaved so that a busy moment hits both alike.
fn best_of(
    n: usize,
    f: impl Fn() -> ByTable,
    g: impl Fn() -> ByTable,
) -> (Duration, Duration, ByTable, ByTable) {
    let (mut bf, mut bg) = (Duration::MAX, Duration::MAX);
    let (mut of, mut og) = (ByTable::new(), ByTable::new());
    for _ in 0..n {
        let t = Instant::now();
        of = f();
        bf = bf.min(t.elapsed());
        let t = Instant::now();
        og = g();
        bg = bg.min(t.elapsed());
    }
    (bf, bg, of, og)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing; run by hand"]
async fn decoding_the_change_feed_is_not_slower_than_the_accessors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("feed.db")).unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.batch(
        r#"CREATE TABLE "SyncChange" ("seq" INTEGER PRIMARY KEY, "table_name" TEXT, "a" TEXT, "b" TEXT)"#,
    )
    .await
    .unwrap();
    tx.batch(&format!(
        r#"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
           INSERT INTO "SyncChange" ("table_name", "a", "b")
           SELECT CASE i % 3 WHEN 0 THEN 'Task' WHEN 1 THEN 'TeamMember' ELSE 'User' END,
                  lower(hex(randomblob(16))),
                  CASE i % 3 WHEN 1 THEN lower(hex(randomblob(16))) END
           FROM n"#
    ))
    .await
    .unwrap();
    let rows = tx
        .query(
            r#"SELECT "table_name", "a", "b" FROM "SyncChange" ORDER BY "seq""#,
            &[],
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(rows.len(), ROWS);

    let (acc, dec, a, d) = best_of(10, || by_accessors(&rows), || by_decode(&rows));
    assert_eq!(a, d);
    println!("{ROWS} changes: accessors {acc:?}, decode {dec:?}");
    // Loose, so a busy machine does not fail it; the numbers above are what to look at.
    assert!(dec <= acc * 2, "decode {dec:?} against accessors {acc:?}");
}
