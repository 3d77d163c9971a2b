//! Applying one table's changes (and the children of moved parents) to the cache.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use ncy_core::db::{Tx, Value};
use ncy_core::{Error, Result};
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedReceiver;

use super::local::{cached_ids, delete_local, local_rows, merge_rows, Found, Watch};
use super::server::{changed_rows_sql, fetch_children, key_of, refetch_batches};
use super::Key;
use crate::copy::{copy_batches, TextRow};
use crate::initial::store_rows;
use crate::tables::{self, Slice, Table};

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
pub(super) struct Apply {
    pub(super) upserted: u64,
    pub(super) removed: u64,
    /// Users the cache referred to before (they may have left the slice).
    pub(super) users_old: BTreeSet<String>,
    /// Users a row of the slice refers to now (they are in the slice).
    pub(super) users_new: BTreeSet<String>,
    /// Those of `users_new` the cache holds, as far as [`Apply::probe_users`] has looked.
    pub(super) users_cached: BTreeSet<String>,
    /// Those of `users_new` not looked up in the cache yet.
    users_unprobed: Vec<String>,
    /// Time spent merging the server's rows into the cache (reading and writing cache rows),
    /// and waiting for the server's rows (it works while the cache merges): for the pull's
    /// debug event.
    pub(super) merge_time: Duration,
    pub(super) wait_time: Duration,
}

impl Apply {
    fn note_users_old(&mut self, table: &Table, row: &TextRow) {
        for c in user_refs(table) {
            if let Some(u) = table
                .cols
                .iter()
                .position(|x| x.name == *c)
                .and_then(|i| row[i].as_ref())
            {
                self.users_old.insert(u.clone());
            }
        }
    }

    fn note_users_text(&mut self, table: &Table, row: &TextRow) {
        let live = brings_users(table, row);
        for c in user_refs(table) {
            if let Some(i) = table.cols.iter().position(|x| x.name == *c) {
                if let Some(u) = &row[i] {
                    if live {
                        if self.users_new.insert(u.clone()) {
                            self.users_unprobed.push(u.clone());
                        }
                    } else {
                        self.users_old.insert(u.clone());
                    }
                }
            }
        }
    }
}

/// Whether a row brings the users it refers to into the slice: only live tasks bring their
/// assignee (see `Slice::predicate`); every other row does.
fn brings_users(table: &Table, row: &TextRow) -> bool {
    table.name != "Task"
        || table
            .cols
            .iter()
            .position(|x| x.name == "deleted_at")
            .map(|i| row[i].is_none())
            .unwrap_or(true)
}

/// The rows a refetch hands on as the server sends them (its `batch` callback), and where the
/// writer receives them.
fn batch_channel() -> (impl FnMut(Vec<TextRow>), UnboundedReceiver<Vec<TextRow>>) {
    let (send, recv) = tokio::sync::mpsc::unbounded_channel();
    // A send fails only once the writer has stopped on an error, which it returns.
    (
        move |rows| {
            let _ = send.send(rows);
        },
        recv,
    )
}

/// Everything the server has sent by now, as one batch; `None` once it has sent all.
async fn next_batch(batches: &mut UnboundedReceiver<Vec<TextRow>>) -> Option<Vec<TextRow>> {
    let mut rows = batches.recv().await?;
    while let Ok(more) = batches.try_recv() {
        rows.extend(more);
    }
    Some(rows)
}

impl Apply {
    /// Merges a batch of the server's rows of `table` into the cache ([`merge_rows`]) and
    /// notes the users they refer to now, and as they were for rows whose user columns (or
    /// liveness) changed. Every row's users are looked up: a cache row rebased on a pending
    /// offline edit may refer to a user the cache no longer holds, so "same users as before"
    /// does not prove them cached. Returns what the cache held for each row.
    fn merge_batch(&mut self, ltx: &mut Tx, table: &Table, rows: &[TextRow]) -> Result<Vec<Found>> {
        let at = |c: &str| table.cols.iter().position(|x| x.name == c);
        let users: Vec<usize> = user_refs(table).iter().filter_map(|c| at(c)).collect();
        let mut watch = users.clone();
        if table.name == "Task" {
            watch.extend(at("deleted_at"));
        }
        let w = Watch {
            watch: &watch,
            users: &users,
        };
        let (written, found) = merge_rows(ltx, table, rows, &w)?;
        self.upserted += written;
        for (r, f) in rows.iter().zip(&found) {
            match f {
                Found::Same | Found::New => self.note_users_text(table, r),
                Found::Changed(old) => {
                    self.users_old.extend(old.iter().flatten().cloned());
                    self.note_users_text(table, r);
                }
            }
        }
        self.probe_users(ltx)?;
        Ok(found)
    }

    /// Removes the cache rows of `table` with those of `keys` the server did not send
    /// (`fetched`: rows gone from the server or the slice), noting the users they referred
    /// to; returns the keys the cache held.
    fn remove_missing(
        &mut self,
        ltx: &mut Tx,
        table: &Table,
        keys: &[Key],
        fetched: &HashSet<Key>,
    ) -> Result<Vec<Key>> {
        let keys: Vec<Key> = keys
            .iter()
            .filter(|k| !fetched.contains(*k))
            .cloned()
            .collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let held = local_rows(ltx, table, &keys)?;
        for row in held.values() {
            self.note_users_old(table, row);
        }
        self.removed += delete_local(ltx, table, &keys)?;
        Ok(held.into_keys().collect())
    }

    /// Looks up which of the users rows referred to since the last call the cache holds
    /// (`users_cached`). Nothing deletes users before the pull's users step, so an answer
    /// stays true until then; the Task step asks while the server is still sending rows.
    pub(super) fn probe_users(&mut self, ltx: &mut Tx) -> Result<()> {
        if self.users_unprobed.is_empty() {
            return Ok(());
        }
        let ids: BTreeSet<String> = std::mem::take(&mut self.users_unprobed)
            .into_iter()
            .collect();
        self.users_cached
            .extend(cached_ids(ltx, &tables::USER, &ids)?);
        Ok(())
    }
}

/// What every table step of a pull works with: the server's and the cache's transactions,
/// the slice, and what was applied so far.
pub(super) struct Steps<'a> {
    pub stx: &'a mut Tx,
    pub ltx: &'a mut Tx,
    pub slice: &'a Slice,
    pub acc: &'a mut Apply,
}

impl Steps<'_> {
    /// [`sync_keys`] for `table`: the slice's keys before and after.
    pub async fn keys(
        &mut self,
        table: &Table,
        keys: &[Key],
    ) -> Result<(HashSet<Key>, HashSet<Key>)> {
        sync_keys(self.stx, self.ltx, self.slice, table, keys, self.acc).await
    }

    /// The rows of `table` with these keys that the server no longer has in the slice (the
    /// changed keys [`stream_changed`] did not bring): removed from the cache.
    pub async fn gone(
        &mut self,
        table: &Table,
        keys: &[Key],
        fetched: &HashSet<Key>,
    ) -> Result<()> {
        self.acc.remove_missing(self.ltx, table, keys, fetched)?;
        Ok(())
    }

    /// [`cascade`] of `child` rows whose `parent_col` parent entered or left the slice.
    pub async fn cascade(
        &mut self,
        child: &Table,
        parent_col: &str,
        before: &HashSet<Key>,
        after: &HashSet<Key>,
    ) -> Result<()> {
        cascade(
            self.stx, self.ltx, self.slice, child, parent_col, before, after, self.acc,
        )
        .await
    }
}

/// Brings the cache rows of `table` with these keys to the server's current state; returns the
/// keys that were present before and the keys present after.
///
/// The server's rows are merged as they arrive ([`Apply::merge_batch`]): each batch the server
/// has sent so far is merged while it sends the next (the cache and the server overlap instead
/// of taking turns); the keys it did not send are then removed.
pub(super) async fn sync_keys(
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
    let t = Instant::now();
    let (send, mut batches) = batch_channel();
    let fetch = refetch_batches(stx, slice, table, keys, send);
    let apply = async {
        let (mut after, mut had) = (HashSet::new(), HashSet::new());
        let mut merging = Duration::ZERO;
        while let Some(rows) = next_batch(&mut batches).await {
            let m = Instant::now();
            let found = acc.merge_batch(ltx, table, &rows)?;
            for (r, f) in rows.iter().zip(&found) {
                let k = key_of(table, r);
                if !matches!(f, Found::New) {
                    had.insert(k.clone());
                }
                after.insert(k);
            }
            merging += m.elapsed();
        }
        Ok::<_, Error>((after, had, merging))
    };
    let (fetched, applied) = futures_util::future::join(fetch, apply).await;
    let (after, mut had, merging) = applied?;
    // Rows already written before a failed refetch are rolled back with the pull.
    fetched?;
    let t_fetched = t.elapsed();
    had.extend(acc.remove_missing(ltx, table, keys, &after)?);
    acc.merge_time += merging + (t.elapsed() - t_fetched);
    acc.wait_time += t_fetched.saturating_sub(merging);
    Ok((had, after))
}

/// Writes the changed rows of `table` (keyed by `"id"`) that the server streams for the cursor
/// `w` ([`changed_rows_sql`]), each batch as it arrives: its cache rows are read, then it is
/// written, while the server looks up the next. The statement reads the feed's ids itself, so
/// this runs before the pull reads the feed, and the cache starts writing after one round trip;
/// returns the keys written. The feed's other keys of `table` (rows deleted or out of the
/// slice) are left to [`Steps::gone`].
pub(super) async fn stream_changed(
    stx: &mut Tx,
    ltx: &mut Tx,
    slice: &Slice,
    table: &Table,
    w: &str,
    acc: &mut Apply,
) -> Result<HashSet<Key>> {
    let t = Instant::now();
    let sql = changed_rows_sql(slice, table, w);
    let (send, mut batches) = batch_channel();
    let fetch = copy_batches(stx, &sql, table.cols.len(), send);
    let apply = async {
        let mut after: HashSet<Key> = HashSet::new();
        let mut merging = Duration::ZERO;
        while let Some(rows) = next_batch(&mut batches).await {
            let m = Instant::now();
            acc.merge_batch(ltx, table, &rows)?;
            after.extend(rows.iter().map(|row| key_of(table, row)));
            super::drop_later(rows);
            merging += m.elapsed();
        }
        Ok::<_, Error>((after, merging))
    };
    let (fetched, applied) = futures_util::future::join(fetch, apply).await;
    let (after, merging) = applied?;
    // Rows already written before a failed read are rolled back with the pull.
    fetched?;
    acc.merge_time += merging;
    acc.wait_time += t.elapsed().saturating_sub(merging);
    Ok(after)
}

/// A user a child row refers to (`SELECT DISTINCT "…" AS u`).
#[derive(Deserialize)]
struct UserRef {
    u: Option<String>,
}

/// Children of parents that left the slice are removed; children of parents that entered it are
/// fetched (a moved project brings its tasks, a moved team its members).
#[allow(clippy::too_many_arguments)]
pub(super) async fn cascade(
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
                if let Some(u) = r.decode::<UserRef>()?.u {
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
