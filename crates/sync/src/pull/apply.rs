//! Applying one table's changes (and the children of moved parents) to the cache.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use ncy_core::db::{Tx, Value};
use ncy_core::{Error, Result};
use serde::Deserialize;

use super::local::{delete_local, local_rows, store_changed};
use super::server::{fetch_children, key_of, refetch};
use super::Key;
use crate::copy::TextRow;
use crate::initial::store_rows;
use crate::tables::{Slice, Table};

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
    /// Time spent reading cache rows, then waiting for the server's rows (the refetch runs
    /// while the cache is read), then writing cache rows (for the pull's debug event).
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
                        self.users_new.insert(u.clone());
                    } else {
                        self.users_old.insert(u.clone());
                    }
                }
            }
        }
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
    // The server works on the refetch while the cache rows are read: the refetch is polled
    // first (which sends it), then the cache is read, then the refetch's rows are received.
    let t = Instant::now();
    let mut t_local = Duration::ZERO;
    let (rows, before) = futures_util::future::join(refetch(stx, slice, table, keys), async {
        let before = local_rows(ltx, table, keys);
        t_local = t.elapsed();
        before
    })
    .await;
    let before = before?;
    let rows = rows?;
    let t_refetch = t.elapsed();
    for (_, row) in before.values() {
        acc.note_users_old(table, row);
    }
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
    acc.local_time += t_local;
    acc.refetch_time += t_refetch - t_local;
    acc.write_time += t.elapsed() - t_refetch;
    Ok((before.into_keys().collect(), after))
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
