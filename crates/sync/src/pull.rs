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

use std::collections::{BTreeMap, BTreeSet, HashSet};

use ncy_core::auth::{perm, Operator};
use ncy_core::db::{format_ts, now, PgDb, Row, Tx, Value};
use ncy_core::{Error, Result};
use serde::Serialize;

use crate::cache::{get_state, set_json, set_state, Cache, OperatorState};
use crate::copy::TextRow;
use crate::initial::{self, store_rows, InitialReport};
use crate::tables::{self, Slice, Table};
use crate::Ctl;

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

fn text_row(r: &Row) -> Result<TextRow> {
    r.values()
        .iter()
        .map(|v| match v {
            Value::Null(_) => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            Value::Uuid(u) => Ok(Some(u.to_string())),
            Value::Int(i) => Ok(Some(i.to_string())),
            other => Err(Error::db(format!(
                "unexpected value from the server: {other:?}"
            ))),
        })
        .collect()
}

fn key_of(table: &Table, row: &TextRow) -> Key {
    table
        .key_positions()
        .iter()
        .map(|&i| row[i].clone().unwrap_or_default())
        .collect()
}

/// Refetches the current slice rows of `table` with the given keys from the server.
pub(crate) async fn refetch(
    stx: &mut Tx,
    slice: &Slice,
    table: &Table,
    keys: &[Key],
) -> Result<Vec<TextRow>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(5000) {
        let (cond, params) = if table.key.len() == 1 {
            (
                r#"t."id" = ANY($1::uuid[])"#.to_owned(),
                vec![Value::TextArray(
                    chunk.iter().map(|k| k[0].clone()).collect(),
                )],
            )
        } else {
            (
                r#"(t."team_id", t."user_id") IN (SELECT a, b FROM unnest($1::uuid[], $2::uuid[]) AS x(a, b))"#
                    .to_owned(),
                vec![
                    Value::TextArray(chunk.iter().map(|k| k[0].clone()).collect()),
                    Value::TextArray(chunk.iter().map(|k| k[1].clone()).collect()),
                ],
            )
        };
        let sql = format!("{} AND {cond}", table.select_slice(slice));
        for r in stx.query(&sql, &params).await? {
            out.push(text_row(&r)?);
        }
    }
    Ok(out)
}

/// Fetches the slice rows of `table` whose `col` is one of `ids` (children of entered parents).
async fn fetch_children(
    stx: &mut Tx,
    slice: &Slice,
    table: &Table,
    col: &str,
    ids: &[String],
) -> Result<Vec<TextRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        r#"{} AND t."{col}" = ANY($1::uuid[])"#,
        table.select_slice(slice)
    );
    stx.query(&sql, &[Value::TextArray(ids.to_vec())])
        .await?
        .iter()
        .map(text_row)
        .collect()
}

/// Local rows of `table` with the given keys, as JSON objects keyed by the joined key.
async fn local_rows(
    ltx: &mut Tx,
    table: &Table,
    keys: &[Key],
) -> Result<BTreeMap<Key, serde_json::Value>> {
    let mut out = BTreeMap::new();
    let key_expr = table
        .key
        .iter()
        .map(|k| format!("t.\"{k}\""))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    for chunk in keys.chunks(5000) {
        let list: Vec<String> = chunk.iter().map(|k| k.join("|")).collect();
        let json = serde_json::to_string(&list).map_err(|e| Error::db(e.to_string()))?;
        // The key list drives the loop (CROSS JOIN keeps that order), probing the key index.
        let sql = format!(
            r#"SELECT t.* FROM json_each($1) AS j CROSS JOIN "{}" AS t WHERE {key_expr} = j.value"#,
            table.name
        );
        for r in ltx.query(&sql, &[Value::Text(json)]).await? {
            let j = r.to_json();
            let k: Key = table
                .key
                .iter()
                .map(|c| {
                    j.get(*c)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            out.insert(k, j);
        }
    }
    Ok(out)
}

/// Writes refetched rows: new rows are inserted, known rows get an UPDATE of the columns that
/// differ (so untouched indexes stay untouched), identical rows are skipped. Returns the rows
/// written.
fn store_changed(
    ltx: &mut Tx,
    table: &Table,
    rows: &[TextRow],
    before: &BTreeMap<Key, serde_json::Value>,
) -> Result<u64> {
    let mut fresh = Vec::new();
    let mut n = 0;
    ltx.with_sqlite_conn(|conn| {
        for r in rows {
            let Some(old) = before.get(&key_of(table, r)) else {
                fresh.push(r.clone());
                continue;
            };
            let mut sets = Vec::new();
            let mut vals: Vec<Option<String>> = Vec::new();
            for (i, c) in table.cols.iter().enumerate() {
                let was = old.get(c.name).and_then(|v| v.as_str()).map(str::to_owned);
                if was != r[i] {
                    vals.push(r[i].clone());
                    sets.push(format!("\"{}\" = ?{}", c.name, vals.len()));
                }
            }
            if sets.is_empty() {
                continue;
            }
            let mut conds = Vec::new();
            for (k, i) in table.key.iter().zip(table.key_positions()) {
                vals.push(r[i].clone());
                conds.push(format!("\"{k}\" = ?{}", vals.len()));
            }
            let sql = format!(
                r#"UPDATE "{}" SET {} WHERE {}"#,
                table.name,
                sets.join(", "),
                conds.join(" AND ")
            );
            conn.prepare_cached(&sql)
                .and_then(|mut st| st.execute(rusqlite::params_from_iter(vals.iter())))
                .map_err(|e| Error::db(format!("updating {} in the cache: {e}", table.name)))?;
            n += 1;
        }
        Ok(())
    })?;
    store_rows(ltx, table, &fresh)?;
    Ok(n + fresh.len() as u64)
}

fn delete_local(ltx: &mut Tx, table: &Table, keys: &[Key]) -> Result<u64> {
    ltx.with_sqlite_conn(|conn| {
        let mut stmt = conn
            .prepare_cached(&table.delete_sql())
            .map_err(|e| Error::db(e.to_string()))?;
        let mut n = 0;
        for k in keys {
            n += stmt
                .execute(rusqlite::params_from_iter(k.iter()))
                .map_err(|e| Error::db(e.to_string()))? as u64;
        }
        Ok(n)
    })
}

/// The user columns each table refers to.
fn user_refs(table: &Table) -> &'static [&'static str] {
    match table.name {
        "Organization" => &["owner_id"],
        "OrganizationMember" | "TeamMember" => &["user_id"],
        "Task" => &["assignee_id"],
        _ => &[],
    }
}

#[derive(Default)]
struct Apply {
    upserted: u64,
    removed: u64,
    /// Users the cache referred to before (they may have left the slice).
    users_old: BTreeSet<String>,
    /// Users a row of the slice refers to now (they are in the slice).
    users_new: BTreeSet<String>,
}

impl Apply {
    fn note_users_json(&mut self, table: &Table, row: &serde_json::Value) {
        for c in user_refs(table) {
            if let Some(u) = row.get(*c).and_then(|v| v.as_str()) {
                self.users_old.insert(u.to_owned());
            }
        }
    }

    fn note_users_text(&mut self, table: &Table, row: &TextRow) {
        // Only live tasks bring their assignee into the slice (see `Slice::predicate`).
        let live = table.name != "Task"
            || table
                .cols
                .iter()
                .position(|x| x.name == "deleted_at")
                .map(|i| row[i].is_none())
                .unwrap_or(true);
        for c in user_refs(table) {
            if let Some(i) = table.cols.iter().position(|x| x.name == *c) {
                if let Some(u) = &row[i] {
                    if live {
                        self.users_new.insert(u.clone());
                    } else {
                        self.users_old.insert(u.clone());
                    }
                }
            }
        }
    }
}

/// Brings the cache rows of `table` with these keys to the server's current state; returns the
/// keys that were present before and the keys present after.
async fn sync_keys(
    stx: &mut Tx,
    ltx: &mut Tx,
    slice: &Slice,
    table: &Table,
    keys: &[Key],
    acc: &mut Apply,
) -> Result<(HashSet<Key>, HashSet<Key>)> {
    if keys.is_empty() {
        return Ok(Default::default());
    }
    let before = local_rows(ltx, table, keys).await?;
    for row in before.values() {
        acc.note_users_json(table, row);
    }
    let rows = refetch(stx, slice, table, keys).await?;
    for r in &rows {
        acc.note_users_text(table, r);
    }
    acc.upserted += store_changed(ltx, table, &rows, &before)?;
    let after: HashSet<Key> = rows.iter().map(|r| key_of(table, r)).collect();
    let gone: Vec<Key> = keys
        .iter()
        .filter(|k| !after.contains(*k))
        .cloned()
        .collect();
    acc.removed += delete_local(ltx, table, &gone)?;
    Ok((before.into_keys().collect(), after))
}

/// Children of parents that left the slice are removed; children of parents that entered it are
/// fetched (a moved project brings its tasks, a moved team its members).
#[allow(clippy::too_many_arguments)]
async fn cascade(
    stx: &mut Tx,
    ltx: &mut Tx,
    slice: &Slice,
    child: &Table,
    parent_col: &str,
    before: &HashSet<Key>,
    after: &HashSet<Key>,
    acc: &mut Apply,
) -> Result<()> {
    let left: Vec<String> = before.difference(after).map(|k| k[0].clone()).collect();
    let entered: Vec<String> = after.difference(before).map(|k| k[0].clone()).collect();
    if !left.is_empty() {
        let json = serde_json::to_string(&left).map_err(|e| Error::db(e.to_string()))?;
        let refs = user_refs(child);
        if let Some(rc) = refs.first() {
            for r in ltx
                .query(
                    &format!(
                        r#"SELECT DISTINCT "{rc}" AS u FROM "{}" WHERE "{parent_col}" IN (SELECT value FROM json_each($1))"#,
                        child.name
                    ),
                    &[Value::Text(json.clone())],
                )
                .await?
            {
                if let Some(u) = r.opt_text("u")? {
                    acc.users_old.insert(u);
                }
            }
        }
        acc.removed += ltx
            .execute(
                &format!(
                    r#"DELETE FROM "{}" WHERE "{parent_col}" IN (SELECT value FROM json_each($1))"#,
                    child.name
                ),
                &[Value::Text(json)],
            )
            .await?;
    }
    let rows = fetch_children(stx, slice, child, parent_col, &entered).await?;
    for r in &rows {
        acc.note_users_text(child, r);
    }
    store_rows(ltx, child, &rows)?;
    acc.upserted += rows.len() as u64;
    Ok(())
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
    let mut rep = PullReport::default();
    let init = initial::initial_sync(server, cache, ctl).await?;
    if !init.already_done {
        rep.initial = Some(init);
    }
    let slice = cache.slice().await?;
    let mut ltx = cache.db.begin().await?;
    let w = get_state(&mut ltx, "watermark")
        .await?
        .ok_or_else(|| Error::db("the sync cache has no watermark; run `ncy-admin sync init`"))?;
    let w = snapshot_literal(&w)?;
    ltx.rollback().await?;

    ctl.report("pull: reading changes", 0, 0);
    let mut stx = server.begin().await?;
    stx.execute(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        &[],
    )
    .await?;
    crate::prune::check_cursor(&mut stx, &w).await?;
    let w_new = stx
        .query_one("SELECT pg_current_snapshot()::text AS w", &[])
        .await?
        .text("w")?;
    let changes = stx
        .query(
            &format!(
                // Two index scans on "xid" joined by UNION ALL (the branches are disjoint: every
                // xid in xip is below xmax). Written as one OR, the planner filters the whole
                // change table instead, which makes a pull cost proportional to the feed.
                r#"SELECT "table_name", a, b FROM (
                     SELECT "seq", "table_name", "row_id"::text AS a, "row_id2"::text AS b FROM "SyncChange"
                     WHERE "xid" >= pg_snapshot_xmax('{w}'::pg_snapshot)
                     UNION ALL
                     SELECT "seq", "table_name", "row_id"::text AS a, "row_id2"::text AS b FROM "SyncChange"
                     WHERE "xid" = ANY(ARRAY(SELECT pg_snapshot_xip('{w}'::pg_snapshot)))
                   ) c ORDER BY "seq""#
            ),
            &[],
        )
        .await?;
    rep.changes = changes.len() as u64;
    let mut by_table: BTreeMap<String, BTreeSet<Key>> = BTreeMap::new();
    for c in &changes {
        let mut k = vec![c.text("a")?];
        if let Some(b) = c.opt_text("b")? {
            k.push(b);
        }
        by_table.entry(c.text("table_name")?).or_default().insert(k);
    }
    ctl.check_cancel()?;
    ctl.fault("pull:after-read")?;

    let mut ltx = cache.db.begin().await?;
    crate::cache::writer_on(&mut ltx).await?;
    let mut acc = Apply::default();
    let keys = |t: Table| -> Vec<Key> {
        by_table
            .get(t.name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    };
    let total = rep.changes;
    sync_keys(
        &mut stx,
        &mut ltx,
        &slice,
        &tables::ORGANIZATION,
        &keys(tables::ORGANIZATION),
        &mut acc,
    )
    .await?;
    sync_keys(
        &mut stx,
        &mut ltx,
        &slice,
        &tables::ORGANIZATION_MEMBER,
        &keys(tables::ORGANIZATION_MEMBER),
        &mut acc,
    )
    .await?;
    let (tb, ta) = sync_keys(
        &mut stx,
        &mut ltx,
        &slice,
        &tables::TEAM,
        &keys(tables::TEAM),
        &mut acc,
    )
    .await?;
    cascade(
        &mut stx,
        &mut ltx,
        &slice,
        &tables::TEAM_MEMBER,
        "team_id",
        &tb,
        &ta,
        &mut acc,
    )
    .await?;
    sync_keys(
        &mut stx,
        &mut ltx,
        &slice,
        &tables::TEAM_MEMBER,
        &keys(tables::TEAM_MEMBER),
        &mut acc,
    )
    .await?;
    let (pb, pa) = sync_keys(
        &mut stx,
        &mut ltx,
        &slice,
        &tables::PROJECT,
        &keys(tables::PROJECT),
        &mut acc,
    )
    .await?;
    cascade(
        &mut stx,
        &mut ltx,
        &slice,
        &tables::TASK,
        "project_id",
        &pb,
        &pa,
        &mut acc,
    )
    .await?;
    ctl.report("pull: applying changes", acc.upserted + acc.removed, total);
    let task_keys = keys(tables::TASK);
    sync_keys(
        &mut stx,
        &mut ltx,
        &slice,
        &tables::TASK,
        &task_keys,
        &mut acc,
    )
    .await?;
    // Users to recheck: changed ones, ones a row stopped referring to (they may have left the
    // slice), and referred ones the cache does not hold yet. A cached user that a live row
    // still refers to is in the slice and unchanged: nothing to do.
    let mut user_keys: BTreeSet<Key> = by_table.get("User").cloned().unwrap_or_default();
    let new_refs: Vec<Key> = acc.users_new.iter().map(|u| vec![u.clone()]).collect();
    let cached: BTreeSet<String> = local_rows(&mut ltx, &tables::USER, &new_refs)
        .await?
        .into_keys()
        .map(|mut k| k.remove(0))
        .collect();
    for u in &acc.users_new {
        if !cached.contains(u) {
            user_keys.insert(vec![u.clone()]);
        }
    }
    for u in &acc.users_old {
        if !acc.users_new.contains(u) {
            user_keys.insert(vec![u.clone()]);
        }
    }
    let user_keys: Vec<Key> = user_keys.into_iter().collect();
    sync_keys(
        &mut stx,
        &mut ltx,
        &slice,
        &tables::USER,
        &user_keys,
        &mut acc,
    )
    .await?;
    // Pending offline edits stay visible on top of the server's state until they are pushed
    // (all of them: a task may also have come back through a project that moved in).
    crate::outbox::rebase(&mut ltx, None).await?;

    set_state(&mut ltx, "watermark", &w_new).await?;
    set_state(&mut ltx, "last_pull_at", &format_ts(&now())).await?;
    set_json(&mut ltx, "operator", &OperatorState::of(op)).await?;
    crate::cache::writer_off(&mut ltx).await?;
    ctl.fault("pull:before-commit")?;
    ltx.commit().await?;
    stx.rollback().await?;
    rep.upserted = acc.upserted;
    rep.removed = acc.removed;
    rep.watermark = w_new;
    ctl.report("pull: done", total, total);
    Ok(rep)
}
