//! `sync init` and the first sync: the slice is streamed table by table (parents first) with
//! `COPY … TO STDOUT` in keyset-ordered batches; each batch is stored together with its
//! checkpoint (table, last key) in one cache transaction, so a cancelled or crashed first sync
//! resumes where it stopped.
//!
//! The change-feed cursor (a server snapshot, see [`crate::pull`]) is taken *before* the first
//! batch is read: batches read at later snapshots only ever see newer states, and every
//! transaction a batch did not see was not yet committed at that first snapshot, so the first
//! incremental pull reads it.

use std::path::Path;

use ncy_core::auth::{perm, Operator};
use ncy_core::db::{format_ts, now, Cipher, Db, PgDb, Tx};
use ncy_core::model::OrgRole;
use ncy_core::{params, Error, Result};
use serde::Serialize;

use crate::cache::{
    self, get_state, set_json, set_state, Cache, InitialState, OperatorState, OrgRef, SliceState,
};
use crate::copy::{copy_rows, TextRow};
use crate::rows::{count, current_snapshot, Id};
use crate::tables::{self, Table};
use crate::Ctl;

/// Rows per batch of the first sync.
pub const BATCH: usize = 50_000;

/// The largest first sync (rows of the whole slice) that makes the cache's indexes at its end
/// ([`defer_indexes`]). SQLite sorts an index's keys in memory (temporary data never goes to
/// a plaintext file): about 130 bytes a row, 130 MB for the biggest index of 1M tasks
/// (BENCHMARKS.md, issue 17). Above this the indexes take the rows as they come.
pub const DEFER_INDEXES_UP_TO: u64 = 2_000_000;

/// What the first sync did.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct InitialReport {
    pub rows: u64,
    pub resumed: bool,
    pub already_done: bool,
}

/// Resolves organization slugs on the server, refusing unknown ones and organizations the
/// operator may not read.
pub async fn resolve_orgs(server: &PgDb, op: &Operator, slugs: &[String]) -> Result<Vec<OrgRef>> {
    if slugs.is_empty() {
        return Err(Error::invalid(
            "org",
            "choose at least one organization: --org SLUG[,SLUG…]",
        ));
    }
    let mut tx = server.begin().await?;
    let mut out = Vec::new();
    for s in slugs {
        let slug = s.trim().to_lowercase();
        let row: Id = tx
            .query_opt_as(
                r#"SELECT "id" FROM "Organization" WHERE "slug" = $1 AND "deleted_at" IS NULL"#,
                &params![slug.as_str()],
            )
            .await?
            .ok_or_else(|| Error::not_found("organization", &slug))?;
        let id = row.id;
        let role: Option<OrgRole> = tx
            .query_opt_as(
                r#"SELECT "role"::text AS role FROM "OrganizationMember" WHERE "organization_id" = $1 AND "user_id" = $2 AND "deleted_at" IS NULL"#,
                &params![id, op.user_id],
            )
            .await?;
        if role.is_none() && !op.is_global() {
            // As the row policies have it: not a member, not theirs to read.
            return Err(if op.can(perm::ORGS_READ) {
                Error::not_found("organization", &slug)
            } else {
                Error::Forbidden {
                    permission: perm::ORGS_READ.into(),
                }
            });
        }
        // A plain MEMBER reads only the tasks assigned to them.
        let own_tasks = !op.is_global()
            && !matches!(
                role,
                Some(OrgRole::OWNER | OrgRole::ADMIN | OrgRole::MANAGER)
            );
        if !out.iter().any(|o: &OrgRef| o.id == id) {
            out.push(OrgRef {
                id,
                slug,
                own_tasks,
            });
        }
    }
    tx.rollback().await?;
    Ok(out)
}

/// Creates a fresh cache at `path` (replacing any) encrypted with `key`, records the slice and
/// the operator, and makes the first sync.
pub async fn init_at(
    server: &PgDb,
    url: &str,
    op: &Operator,
    slugs: &[String],
    path: &Path,
    key: &str,
    ctl: Ctl<'_>,
) -> Result<(Cache, InitialReport)> {
    let cache = prepare_at(server, url, op, slugs, path, key).await?;
    let rep = initial_sync(server, &cache, ctl).await?;
    Ok((cache, rep))
}

/// Creates the cache file and records the slice and the operator, without streaming anything
/// yet ([`initial_sync`] does).
pub async fn prepare_at(
    server: &PgDb,
    url: &str,
    op: &Operator,
    slugs: &[String],
    path: &Path,
    key: &str,
) -> Result<Cache> {
    prepare_with(server, url, op, slugs, path, key, cache::CIPHER).await
}

/// [`prepare_at`] with other cipher settings (see [`Cache::create_with`]).
pub async fn prepare_with(
    server: &PgDb,
    url: &str,
    op: &Operator,
    slugs: &[String],
    path: &Path,
    key: &str,
    cipher: Cipher,
) -> Result<Cache> {
    op.require(perm::SYNC_RUN)?;
    let orgs = resolve_orgs(server, op, slugs).await?;
    let cache = Cache::create_with(path, key, cipher).await?;
    let mut tx = cache.db.begin().await?;
    set_state(&mut tx, "profile", &cache::profile(url)).await?;
    set_json(
        &mut tx,
        "slice",
        &SliceState {
            orgs,
            operator: op.user_id,
            own_tasks_only: !op.can(perm::TASKS_READ),
        },
    )
    .await?;
    set_json(&mut tx, "operator", &OperatorState::of(op)).await?;
    set_json(&mut tx, "initial", &InitialState::default()).await?;
    tx.commit().await?;
    Ok(cache)
}

/// `sync init` for a profile: a new random key goes to the OS keychain (never to a file), then
/// [`init_at`] under the profile's cache path.
pub async fn init_profile(
    server: &PgDb,
    url: &str,
    op: &Operator,
    slugs: &[String],
    ctl: Ctl<'_>,
) -> Result<(Cache, InitialReport)> {
    init_profile_via(server, server, url, op, slugs, ctl).await
}

/// [`init_profile`] with the slice streamed from `reader`, a read replica (hot standby) of
/// `server`: the heavy first read goes there. Its watermark is the replica's snapshot, so the
/// next pull from the primary brings what the replica had not replayed yet.
pub async fn init_profile_via(
    server: &PgDb,
    reader: &PgDb,
    url: &str,
    op: &Operator,
    slugs: &[String],
    ctl: Ctl<'_>,
) -> Result<(Cache, InitialReport)> {
    op.require(perm::SYNC_RUN)?;
    let path = cache::cache_path(&cache::cache_dir()?, url);
    let key = cache::new_key();
    cache::key_secret(url).set_keychain(&key)?;
    let cache = prepare_at(server, url, op, slugs, &path, &key).await?;
    let rep = initial_sync(reader, &cache, ctl).await?;
    Ok((cache, rep))
}

async fn server_watermark(tx: &mut Tx) -> Result<String> {
    current_snapshot(tx).await
}

fn key_condition(table: &Table, last: &Option<Vec<String>>) -> String {
    match last {
        None => "true".into(),
        Some(k) => {
            // Keys are UUIDs we stored ourselves; they are checked before being inlined.
            let vals: Vec<String> = k
                .iter()
                .map(|v| match uuid::Uuid::parse_str(v) {
                    Ok(u) => format!("'{u}'::uuid"),
                    Err(_) => "NULL".into(),
                })
                .collect();
            format!("({}) > ({})", table.key_expr(), vals.join(", "))
        }
    }
}

/// Writes a batch of text rows into the cache inside `tx` with one prepared upsert. A row keyed
/// by a uuid `id` goes in under its [`tables::key_rowid`]; in the rare case that rowid is
/// another row's already, under one SQLite picks (a pull then finds it by its key index).
pub(crate) fn store_rows(tx: &mut Tx, table: &Table, rows: &[TextRow]) -> Result<()> {
    let err = |e: rusqlite::Error| Error::db(format!("writing {} to the cache: {e}", table.name));
    let id_at = table.key_positions()[0];
    tx.with_sqlite_conn(|conn| {
        let mut plain = conn
            .prepare_cached(&table.upsert_sql())
            .map_err(|e| Error::db(format!("preparing the cache upsert: {e}")))?;
        if !table.keyed_rowid() {
            for r in rows {
                plain
                    .execute(rusqlite::params_from_iter(r.iter()))
                    .map_err(err)?;
            }
            return Ok(());
        }
        let mut keyed = conn
            .prepare_cached(&table.upsert_rowid_sql())
            .map_err(|e| Error::db(format!("preparing the cache upsert: {e}")))?;
        for r in rows {
            let rowid = r[id_at].as_deref().and_then(tables::key_rowid);
            let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(r.len() + 1);
            params.push(&rowid);
            params.extend(r.iter().map(|v| v as &dyn rusqlite::ToSql));
            match keyed.execute(params.as_slice()) {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_ROWID
                            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    ) =>
                {
                    plain
                        .execute(rusqlite::params_from_iter(r.iter()))
                        .map_err(err)?;
                }
                Err(e) => return Err(err(e)),
            }
        }
        Ok(())
    })
}

/// Streams the slice into the cache, resuming from the stored checkpoint. Cancelling (or a
/// crash) keeps every committed batch; the next call continues after it.
pub async fn initial_sync(server: &PgDb, cache: &Cache, ctl: Ctl<'_>) -> Result<InitialReport> {
    let slice = cache.slice().await?;
    let mut ltx = cache.db.begin().await?;
    let mut st: InitialState = get_state(&mut ltx, "initial")
        .await?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let has_mark = get_state(&mut ltx, "watermark").await?.is_some();
    ltx.rollback().await?;
    let mut rep = InitialReport {
        resumed: st.table > 0 || st.last.is_some(),
        ..Default::default()
    };
    if st.done {
        rep.already_done = true;
        return Ok(rep);
    }
    if !has_mark {
        let mut stx = server.begin().await?;
        let w = server_watermark(&mut stx).await?;
        stx.rollback().await?;
        let mut ltx = cache.db.begin().await?;
        set_state(&mut ltx, "watermark", &w).await?;
        ltx.commit().await?;
    }
    // Totals for progress: one count per table, in one round trip, once per run.
    let totals: Vec<u64> = {
        let counts: Vec<String> = tables::ALL
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    r#"(SELECT count(*) FROM "{}" t WHERE {}) AS n{i}"#,
                    t.name,
                    slice.predicate(t)
                )
            })
            .collect();
        let row = server
            .query(&format!("SELECT {}", counts.join(", ")), &[])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::db("the slice counts returned no row"))?;
        // One column per table (table-driven), read by its generated name.
        (0..tables::ALL.len())
            .map(|i| row.int(&format!("n{i}")).map(|n| n as u64))
            .collect::<Result<_>>()?
    };
    let grand: u64 = totals.iter().sum();
    if st.table == 0 && st.last.is_none() && grand <= DEFER_INDEXES_UP_TO {
        defer_indexes(cache, &mut st).await?;
    }
    let mut done_before: u64 = totals[..st.table.min(totals.len())].iter().sum();
    let batch = ctl.batch.unwrap_or(BATCH).max(1);
    while st.table < tables::ALL.len() {
        let table = tables::ALL[st.table];
        let phase = format!("initial sync: {}", table.name);
        let t_table = std::time::Instant::now();
        let mut in_table = if st.last.is_some() {
            count_local(cache, &table).await?
        } else {
            0
        };
        // The next batch is read from the server while this one is written to the cache.
        let mut reader = spawn_reader(
            server.clone(),
            table.select_slice(&slice),
            table,
            batch,
            st.last.clone(),
        );
        loop {
            ctl.check_cancel()?;
            let rows = match reader.recv().await {
                Some(r) => r?,
                None => return Err(Error::db("the initial sync reader stopped unexpectedly")),
            };
            let n = rows.len();
            let mut ltx = cache.db.begin().await?;
            cache::writer_on(&mut ltx).await?;
            store_rows(&mut ltx, &table, &rows)?;
            if n < batch {
                st.table += 1;
                st.last = None;
            } else if let Some(last) = rows.last() {
                st.last = Some(
                    table
                        .key_positions()
                        .iter()
                        .map(|&i| last[i].clone().unwrap_or_default())
                        .collect(),
                );
            }
            st.done = st.table >= tables::ALL.len();
            if st.done {
                make_indexes(&mut ltx, &mut st)?;
            }
            set_json(&mut ltx, "initial", &st).await?;
            if st.done {
                set_state(&mut ltx, "last_pull_at", &format_ts(&now())).await?;
            }
            cache::writer_off(&mut ltx).await?;
            ctl.fault("initial:before-commit")?;
            ltx.commit().await?;
            rep.rows += n as u64;
            in_table += n as u64;
            ctl.report(
                &phase,
                done_before + in_table,
                grand.max(done_before + in_table),
            );
            if n < batch {
                break;
            }
        }
        tracing::debug!(
            table = table.name,
            rows = in_table,
            ms = t_table.elapsed().as_secs_f64() * 1000.0,
            "initial sync: table stored"
        );
        done_before += totals.get(st.table.saturating_sub(1)).copied().unwrap_or(0);
    }
    Ok(rep)
}

/// Drops the cache's indexes on the synced tables for the first sync, noting them in its state
/// (one transaction): rows then go into the tables alone, and each index is made once at the
/// end by one sorted pass ([`make_indexes`]) instead of taking every row at a random place,
/// batch after batch. A first sync that is resumed finds them noted.
async fn defer_indexes(cache: &Cache, st: &mut InitialState) -> Result<()> {
    let names: Vec<String> = tables::ALL
        .iter()
        .map(|t| format!("'{}'", t.name))
        .collect();
    let mut ltx = cache.db.begin().await?;
    let sql = format!(
        r#"SELECT "name", "sql" FROM "sqlite_master"
           WHERE "type" = 'index' AND "sql" IS NOT NULL AND "tbl_name" IN ({})
           ORDER BY "name""#,
        names.join(", ")
    );
    let found: Vec<(String, String)> = ltx
        .query(&sql, &[])
        .await?
        .iter()
        .map(|r| Ok((r.text("name")?, r.text("sql")?)))
        .collect::<Result<_>>()?;
    if found.is_empty() {
        return Ok(());
    }
    let drops: String = found
        .iter()
        .map(|(name, _)| format!("DROP INDEX \"{}\";\n", name.replace('"', "\"\"")))
        .collect();
    ltx.batch(&drops).await?;
    st.deferred_indexes.extend(found);
    set_json(&mut ltx, "initial", st).await?;
    ltx.commit().await
}

/// Makes the indexes [`defer_indexes`] dropped, in the open transaction (the one that ends the
/// first sync). SQLite sorts their keys in memory (this build keeps temporary data in memory:
/// nothing of the cache reaches a plaintext temporary file).
fn make_indexes(ltx: &mut Tx, st: &mut InitialState) -> Result<()> {
    if st.deferred_indexes.is_empty() {
        return Ok(());
    }
    let t = std::time::Instant::now();
    let sql: String = st
        .deferred_indexes
        .iter()
        .map(|(_, create)| format!("{create};\n"))
        .collect();
    ltx.with_sqlite_conn(|c| {
        c.execute_batch(&sql)
            .map_err(|e| Error::db(format!("making the cache's indexes: {e}")))
    })?;
    tracing::debug!(
        indexes = st.deferred_indexes.len(),
        ms = t.elapsed().as_secs_f64() * 1000.0,
        "initial sync: indexes made"
    );
    st.deferred_indexes.clear();
    Ok(())
}

/// Reads a table's batches in key order on a task of its own, one batch ahead of the writer.
/// Dropping the receiver (cancel, error) stops it.
fn spawn_reader(
    server: PgDb,
    select: String,
    table: Table,
    batch: usize,
    start: Option<Vec<String>>,
) -> tokio::sync::mpsc::Receiver<Result<Vec<TextRow>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let mut last = start;
        loop {
            let sql = format!(
                "{select} AND {} ORDER BY {} LIMIT {batch}",
                key_condition(&table, &last),
                table.key_expr()
            );
            let r = read_batch(&server, &sql, table.cols.len()).await;
            let (stop, next) = match &r {
                Ok(rows) => (
                    rows.len() < batch,
                    rows.last().map(|l| {
                        table
                            .key_positions()
                            .iter()
                            .map(|&i| l[i].clone().unwrap_or_default())
                            .collect()
                    }),
                ),
                Err(_) => (true, None),
            };
            if tx.send(r).await.is_err() || stop {
                return;
            }
            last = next;
        }
    });
    rx
}

async fn read_batch(server: &Db, sql: &str, ncols: usize) -> Result<Vec<TextRow>> {
    let mut stx = server.begin().await?;
    let rows = copy_rows(&mut stx, sql, ncols).await?;
    stx.rollback().await?;
    Ok(rows)
}

async fn count_local(cache: &Cache, table: &Table) -> Result<u64> {
    let mut tx = cache.db.begin().await?;
    let n = count(
        &mut tx,
        &format!(r#"SELECT count(*) AS n FROM "{}""#, table.name),
        &[],
    )
    .await?;
    tx.rollback().await?;
    Ok(n)
}
