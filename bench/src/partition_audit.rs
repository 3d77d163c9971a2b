//! A partitioned AuditLog (issue 14) against the plain one: what sealing an entry costs. The
//! seal links each row to the newest one, found through the parent's per-partition `"seq"`
//! indexes, so its price grows with the number of partitions; measured here with three years of
//! monthly partitions. `ours` is the partitioned table, `baseline` the plain one.

use std::time::{Duration, Instant};

use ncy_core::audit::{self as record, Entry};
use ncy_core::auth::Operator;
use ncy_core::db::{now, Db};
use ncy_core::partition;

use crate::harness::{pct_ms, Bench};

/// Monthly partitions created ahead of the conversion's own (about three years in all).
const MONTHS: u32 = 36;

fn entry() -> Entry<'static> {
    Entry {
        action: "UPDATE",
        table: "Task",
        target_id: Some(uuid::Uuid::new_v4()),
        old: Some(serde_json::json!({"status": "TODO"})),
        new: Some(serde_json::json!({"status": "DONE"})),
    }
}

/// Converts `db`'s AuditLog and gives it [`MONTHS`] more monthly partitions; returns how many
/// partitions it has.
async fn partition(db: &Db) -> usize {
    partition::partition_logs(
        db,
        &partition::Options {
            tables: vec![partition::AUDIT_LOG],
            ..Default::default()
        },
        ncy_core::Work::none(),
    )
    .await
    .expect("partition-logs AuditLog");
    let n = now();
    let until = n
        .checked_add_months(chrono::Months::new(MONTHS))
        .unwrap_or(n);
    let mut tx = db.begin().await.expect("begin");
    partition::ensure_months(&mut tx, &partition::AUDIT_LOG, n, until)
        .await
        .expect("months");
    let parts = partition::partitions(&mut tx, "AuditLog")
        .await
        .expect("partitions")
        .len();
    tx.commit().await.expect("commit");
    parts
}

/// One entry per transaction (p50, ms), and a bulk operation's batch of `bulk` entries (ms).
async fn seal(db: &Db, op: &Operator, singles: usize, bulk: usize) -> (f64, f64) {
    let mut samples: Vec<Duration> = Vec::with_capacity(singles);
    for _ in 0..singles {
        let started = Instant::now();
        let mut tx = db.begin().await.expect("begin");
        record::record(&mut tx, op, entry()).await.expect("record");
        tx.commit().await.expect("commit");
        samples.push(started.elapsed());
    }
    let started = Instant::now();
    let mut tx = db.begin().await.expect("begin");
    record::record_many(&mut tx, op, (0..bulk).map(|_| entry()).collect())
        .await
        .expect("record_many");
    tx.commit().await.expect("commit");
    (
        pct_ms(&samples, 50.0),
        started.elapsed().as_secs_f64() * 1000.0,
    )
}

/// Runs on the partition bench's two databases (their AccessLog work done).
pub async fn run(b: &mut Bench, plain: (&Db, &Operator), part: (&Db, &Operator)) {
    let parts = partition(part.0).await;
    let singles = b.scale.upto_full(2_000, 200) as usize;
    let bulk = b.scale.upto_full(30_000, 3_000) as usize;
    // Warm both (plans cached, pages in memory), then measure.
    seal(plain.0, plain.1, 20, 300).await;
    seal(part.0, part.1, 20, 300).await;
    let (one_plain, bulk_plain) = seal(plain.0, plain.1, singles, bulk).await;
    let (one_part, bulk_part) = seal(part.0, part.1, singles, bulk).await;
    b.record(
        "audit: entry per transaction",
        &format!("audit: one sealed entry per transaction, {parts} partitions vs plain (p50)"),
        one_part,
        one_plain,
        "ms",
    );
    b.record(
        "audit: entries in one transaction",
        &format!("audit: {bulk} sealed entries in one transaction, {parts} partitions vs plain"),
        bulk_part,
        bulk_plain,
        "ms",
    );
}
