//! Incremental pull from the server's change feed.
//!
//! ## Why this cannot miss a transaction that commits late
//!
//! Triggers on the synced tables append one `SyncChange` row per changed row, in the writing
//! transaction, carrying that transaction's id (`xid`, from `pg_current_xact_id()`: 64-bit,
//! never wrapping). A `seq` number alone is not a safe cursor: a transaction can take sequence
//! 10, a second one take 11 and commit, a reader pass 11, and only then the first commit, so a
//! reader that remembers "11" never sees 10.
//!
//! The cursor is therefore the previous pull's *snapshot* P (`pg_current_snapshot()`, stored as
//! text `xmin:xmax:xip…`), taken in the same REPEATABLE READ transaction that read the feed and
//! the rows. A transaction is visible in P exactly when it had committed before P was taken:
//! its id is below `xmax(P)` and not in `xip(P)` (the ids still in progress then). A pull with
//! snapshot S reads every change row whose transaction was *not* visible in P:
//! `xid >= xmax(P) OR xid IN xip(P)`.
//!
//! - A transaction visible in P committed before P: by induction its rows were read by an
//!   earlier pull (or reflected in the first sync's stream, whose cursor is the snapshot taken
//!   before its first batch), whatever sequence numbers it took.
//! - A transaction not visible in P is read now if it committed before S. If it is still in
//!   progress at S (it is then in `xip(S)` or at/above `xmax(S)`), the next pull reads it again,
//!   whole, once it has committed. An aborted one left no rows.
//!
//! So every committed change is read at least once after it commits, in any commit order; the
//! `seq` order only orders what is read. This is the snapshot-xmin rule made exact: reading
//! `xid >= xmin(P)` is also safe, but a long transaction anywhere in the cluster (another
//! database included) holds xmin back and would make every pull re-read everything since;
//! with `xip(P)` only the changes of transactions that were really open are read again.
//!
//! A change row only names a row: the pull refetches that row's *current* state in S (or
//! learns it is gone or has left the slice), so reading a change twice, or after a later state
//! was already applied, is harmless, and hard deletes, soft deletes and moves out of the slice
//! all reach the cache. The cache rows, the outbox rebase and the new cursor S are committed in
//! one cache transaction: a pull killed half way changes nothing and is simply repeated. The
//! cost is proportional to the changes since P (served by the `xid` index), not to the table.

mod apply;
mod local;
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use ncy_core::auth::{perm, Operator};
use ncy_core::db::{format_ts, now, PgDb};
use ncy_core::{Error, Result};
use serde::Serialize;

use crate::cache::{get_state, set_json, set_state, Cache, OperatorState};
use crate::initial::{self, InitialReport};
use crate::tables::{self, Table};
use crate::Ctl;

use apply::{Apply, Steps};
pub(crate) use server::refetch;

/// What a pull did.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PullReport {
    /// Change rows read from the feed.
    pub changes: u64,
    /// Cache rows written (inserted or updated).
    pub upserted: u64,
    /// Cache rows removed (deleted on the server or out of the slice).
    pub removed: u64,
    /// The new cursor: the server snapshot this pull read (`xmin:xmax:xip…`).
    pub watermark: String,
    /// Set when this pull had to (finish the) first sync.
    pub initial: Option<InitialReport>,
}

type Key = Vec<String>;

/// Rows written from which a pull's commit leaves the WAL checkpoint to a background thread.
const BIG_PULL: u64 = 256;

/// Frees `v` on a blocking thread: a pull's keys and rows are tens of thousands of small
/// allocations, and freeing them took 0.5-1 ms of a 1 000-change pull that need not wait for
/// it.
pub(crate) fn drop_later<T: Send + 'static>(v: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn_blocking(move || drop(v));
        }
        Err(_) => drop(v),
    }
}

/// Checks a stored cursor before it is inlined: a snapshot `xmin:xmax:xip,…` (or a bare
/// transaction id, read as a snapshot with nothing in progress).
fn snapshot_literal(w: &str) -> Result<String> {
    let w = w.trim();
    let ok = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == ',');
    if !ok {
        return Err(Error::db(format!(
            "the sync cursor {w:?} is not a server snapshot; run `ncy-admin sync init` again"
        )));
    }
    Ok(if w.contains(':') {
        w.to_owned()
    } else {
        format!("{w}:{w}:")
    })
}

/// Pulls the server's changes into the cache (finishing the first sync first if needed).
pub async fn pull(server: &PgDb, cache: &Cache, op: &Operator, ctl: Ctl<'_>) -> Result<PullReport> {
    op.require(perm::SYNC_RUN)?;
    let t_start = Instant::now();
    let mut rep = PullReport::default();
    let init = initial::initial_sync(server, cache, ctl).await?;
    if !init.already_done {
        rep.initial = Some(init);
    }
    let slice = cache.slice().await?;
    let mut ltx = cache.db.begin().await?;
    crate::cache::fit_page_cache(&mut ltx, &cache.path)?;
    let w = get_state(&mut ltx, "watermark")
        .await?
        .ok_or_else(|| Error::db("the sync cache has no watermark; run `ncy-admin sync init`"))?;
    let w = snapshot_literal(&w)?;
    ltx.rollback().await?;

    ctl.report("pull: reading changes", 0, 0);
    let t0 = Instant::now();
    let mut stx = server.begin().await?;
    // No JIT: the feed's second branch (`xid = ANY(xip)`) is estimated at the whole feed, and
    // on a feed of millions of rows that crosses the JIT thresholds: the server then compiled
    // for 50-120 ms to read a few rows (1 000 changes in a 3M-task slice: 4-10 ms at 1M, 53-57
    // ms at 3M). One round trip for both settings.
    stx.batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL jit = off")
        .await?;
    let w_new = crate::prune::check_cursor(&mut stx, &w).await?;
    let mut ltx = cache.db.begin().await?;
    crate::cache::writer_on(&mut ltx).await?;
    let mut acc = Apply::default();
    // The changed tasks (the bulk of a pull) come first, straight from the feed, and are
    // written while the server sends them; the feed's own read follows.
    let tasks =
        apply::stream_changed(&mut stx, &mut ltx, &slice, &tables::TASK, &w, &mut acc).await?;
    let t_streamed = t0.elapsed();
    // Two index scans on "xid" joined by UNION ALL (the branches are disjoint: every xid in
    // xip is below xmax). Written as one OR, the planner filters the whole change table
    // instead, which makes a pull cost proportional to the feed. Read with COPY: one round
    // trip, the rows decoded straight into keys.
    let feed = format!(
        r#"SELECT "table_name", a, b FROM (
             SELECT "seq", "table_name", "row_id"::text AS a, "row_id2"::text AS b FROM "SyncChange"
             WHERE "xid" >= pg_snapshot_xmax('{w}'::pg_snapshot)
             UNION ALL
             SELECT "seq", "table_name", "row_id"::text AS a, "row_id2"::text AS b FROM "SyncChange"
             WHERE "xid" = ANY(ARRAY(SELECT pg_snapshot_xip('{w}'::pg_snapshot)))
           ) c ORDER BY "seq""#
    );
    let mut by_table: BTreeMap<String, BTreeSet<Key>> = BTreeMap::new();
    let mut incomplete = false;
    crate::copy::copy_batches(&mut stx, &feed, 3, |rows| {
        for mut r in rows {
            rep.changes += 1;
            let (b, a, table) = (r.pop().flatten(), r.pop().flatten(), r.pop().flatten());
            let (Some(table), Some(a)) = (table, a) else {
                incomplete = true;
                continue;
            };
            let mut k = vec![a];
            k.extend(b);
            by_table.entry(table).or_default().insert(k);
        }
    })
    .await?;
    if incomplete {
        return Err(Error::db(
            "the server's change feed has a row without its table or key",
        ));
    }
    ctl.check_cancel()?;
    ctl.fault("pull:after-read")?;
    let t_read = t0.elapsed();

    let keys = |t: Table| -> Vec<Key> {
        by_table
            .get(t.name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    };
    let total = rep.changes;
    let mut step = Steps {
        stx: &mut stx,
        ltx: &mut ltx,
        slice: &slice,
        acc: &mut acc,
    };
    step.keys(&tables::ORGANIZATION, &keys(tables::ORGANIZATION))
        .await?;
    step.keys(
        &tables::ORGANIZATION_MEMBER,
        &keys(tables::ORGANIZATION_MEMBER),
    )
    .await?;
    let (tb, ta) = step.keys(&tables::TEAM, &keys(tables::TEAM)).await?;
    step.cascade(&tables::TEAM_MEMBER, "team_id", &tb, &ta)
        .await?;
    step.keys(&tables::TEAM_MEMBER, &keys(tables::TEAM_MEMBER))
        .await?;
    let (pb, pa) = step.keys(&tables::PROJECT, &keys(tables::PROJECT)).await?;
    step.cascade(&tables::TASK, "project_id", &pb, &pa).await?;
    ctl.report(
        "pull: applying changes",
        step.acc.upserted + step.acc.removed,
        total,
    );
    let t_parents = t0.elapsed();
    step.gone(&tables::TASK, &keys(tables::TASK), &tasks)
        .await?;
    let t_tasks = t0.elapsed();
    // Users to recheck: changed ones, ones a row stopped referring to (they may have left the
    // slice), and referred ones the cache does not hold yet. A cached user that a live row
    // still refers to is in the slice and unchanged: nothing to do.
    let mut user_keys: BTreeSet<Key> = by_table.get("User").cloned().unwrap_or_default();
    step.acc.probe_users(step.ltx)?;
    let cached = std::mem::take(&mut step.acc.users_cached);
    let t_cached = t0.elapsed();
    for u in &step.acc.users_new {
        if !cached.contains(u) {
            user_keys.insert(vec![u.clone()]);
        }
    }
    for u in &step.acc.users_old {
        if !step.acc.users_new.contains(u) {
            user_keys.insert(vec![u.clone()]);
        }
    }
    let user_keys: Vec<Key> = user_keys.into_iter().collect();
    step.keys(&tables::USER, &user_keys).await?;
    let t_users = t0.elapsed();
    // Pending offline edits stay visible on top of the server's state until they are pushed
    // (all of them: a task may also have come back through a project that moved in).
    crate::outbox::rebase(&mut ltx, None).await?;

    set_state(&mut ltx, "watermark", &w_new).await?;
    set_state(&mut ltx, "last_pull_at", &format_ts(&now())).await?;
    set_json(&mut ltx, "operator", &OperatorState::of(op)).await?;
    crate::cache::writer_off(&mut ltx).await?;
    ctl.fault("pull:before-commit")?;
    let t_state = t0.elapsed();
    // A big pull leaves the log's checkpoint to a thread of its own, after its commit.
    let big = acc.upserted + acc.removed >= BIG_PULL;
    if big {
        crate::cache::defer_checkpoint(&mut ltx)?;
    }
    // The server's read-only transaction ends while the cache commits (the rollback is polled
    // first, which sends it; the commit then runs; then its answer is read).
    let (rolled_back, committed) = futures_util::future::join(stx.rollback(), ltx.commit()).await;
    if big {
        cache.checkpoint_soon();
    }
    committed?;
    rolled_back?;
    let t_commit = t0.elapsed();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    tracing::debug!(
        changes = rep.changes,
        setup_ms = ms(t0 - t_start),
        tasks_streamed_ms = ms(t_streamed),
        read_ms = ms(t_read),
        parents_ms = ms(t_parents),
        tasks_ms = ms(t_tasks),
        users_cached_ms = ms(t_cached),
        users_ms = ms(t_users),
        state_ms = ms(t_state),
        commit_ms = ms(t_commit),
        total_ms = ms(t0.elapsed()),
        merge_ms = ms(acc.merge_time),
        wait_ms = ms(acc.wait_time),
        "pull timings (cumulative from the first read; then, summed over tables: merging the server's rows into the cache, waiting for them)"
    );
    rep.upserted = acc.upserted;
    rep.removed = acc.removed;
    rep.watermark = w_new;
    drop_later((by_table, acc, user_keys, cached, tasks));
    ctl.report("pull: done", total, total);
    Ok(rep)
}
