//! Applying one table's changes (and the children of moved parents) to the cache.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use ncy_core::db::{Tx, Value};
use ncy_core::{Error, Result};
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedReceiver;

use super::local::{cached_ids, delete_local, local_rows, store_changed, LocalRows};
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
    /// Time spent reading cache rows, waiting for the server's rows (the refetch runs while
    /// the cache is read and written), and writing cache rows (for the pull's debug event).
    pub(super) local_time: Duration,
    pub(super) refetch_time: Duration,
    pub(super) write_time: Duration,
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
    /// Writes a batch of the server's rows of `table` over their cache rows `before` (read
    /// before any of them was written) and looks up the users they refer to.
    fn write_batch(
        &mut self,
        ltx: &mut Tx,
        table: &Table,
        rows: &[TextRow],
        before: &LocalRows,
    ) -> Result<()> {
        for r in rows {
            self.note_users_text(table, r);
        }
        self.upserted += store_changed(ltx, table, rows, before)?;
        self.probe_users(ltx)
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
        let gone: Vec<Key> = keys
            .iter()
            .filter(|k| !fetched.contains(*k))
            .cloned()
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        for (_, row) in local_rows(self.ltx, table, &gone)?.values() {
            self.acc.note_users_old(table, row);
        }
        self.acc.removed += delete_local(self.ltx, table, &gone)?;
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
/// The server's rows are written as they arrive: the refetch is sent first, the cache rows are
/// read while the server works on it, then each batch the server has sent so far is written
/// while it sends the next (the cache and the server overlap instead of taking turns).
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
        let before = local_rows(ltx, table, keys)?;
        let t_local = t.elapsed();
        for (_, row) in before.values() {
            acc.note_users_old(table, row);
        }
        let mut after: HashSet<Key> = HashSet::new();
        let mut writing = Duration::ZERO;
        while let Some(rows) = next_batch(&mut batches).await {
            let w = Instant::now();
            after.extend(rows.iter().map(|r| key_of(table, r)));
            acc.write_batch(ltx, table, &rows, &before)?;
            writing += w.elapsed();
        }
        Ok::<_, Error>((before, after, t_local, writing))
    };
    let (fetched, applied) = futures_util::future::join(fetch, apply).await;
    let (before, after, t_local, writing) = applied?;
    // Rows already written before a failed refetch are rolled back with the pull.
    fetched?;
    let t_fetched = t.elapsed();
    let gone: Vec<Key> = keys
        .iter()
        .filter(|k| !after.contains(*k))
        .cloned()
        .collect();
    acc.removed += delete_local(ltx, table, &gone)?;
    acc.local_time += t_local;
    acc.refetch_time += t_fetched.saturating_sub(t_local + writing);
    acc.write_time += writing + (t.elapsed() - t_fetched);
    let had: HashSet<Key> = before.keys().cloned().collect();
    super::drop_later(before);
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
        let (mut reading, mut writing) = (Duration::ZERO, Duration::ZERO);
        while let Some(rows) = next_batch(&mut batches).await {
            let r = Instant::now();
            let keys: Vec<Key> = rows.iter().map(|row| key_of(table, row)).collect();
            let before = local_rows(ltx, table, &keys)?;
            reading += r.elapsed();
            let w = Instant::now();
            for (_, row) in before.values() {
                acc.note_users_old(table, row);
            }
            acc.write_batch(ltx, table, &rows, &before)?;
            after.extend(keys);
            super::drop_later((rows, before));
            writing += w.elapsed();
        }
        Ok::<_, Error>((after, reading, writing))
    };
    let (fetched, applied) = futures_util::future::join(fetch, apply).await;
    let (after, reading, writing) = applied?;
    // Rows already written before a failed read are rolled back with the pull.
    fetched?;
    acc.local_time += reading;
    acc.write_time += writing;
    acc.refetch_time += t.elapsed().saturating_sub(reading + writing);
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
