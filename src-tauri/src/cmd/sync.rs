//! Sync screen: the connected profile's offline cache (`ncy-sync`).

use ncy_core::auth::Operator;
use ncy_core::db::{PgDb, Target};
use ncy_sync::conflicts::{self, Resolved};
use ncy_sync::initial::{self, InitialReport};
use ncy_sync::pull::PullReport;
use ncy_sync::push::PushReport;
use ncy_sync::{queue, Cache, Ctl, Resolution};
use serde::Serialize;
use tauri::{AppHandle, State};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::state::{not_postgres, AppState};

/// Sync state of the current PostgreSQL profile's offline cache, with its conflicts and the
/// edits waiting in its outbox.
#[derive(Debug, Clone, Serialize)]
pub struct SyncView {
    pub status: ncy_sync::cache::Status,
    pub conflicts: Vec<ncy_sync::conflicts::Conflict>,
    pub outbox: Vec<queue::Item>,
    /// When the next automatic retry of a failed push is due.
    pub next_retry: Option<chrono::NaiveDateTime>,
}

/// What "Sync now" did (`sync run`: push, then pull).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub push: PushReport,
    pub pull: PullReport,
}

/// The server, its URL (the cache's profile) and the operator; refused on the local workspace.
async fn server(s: &AppState) -> ApiResult<(PgDb, String, Operator)> {
    let (db, target, op) = s.session_target().await?;
    match (target, db.pg()) {
        (Target::Postgres(url), Some(pg)) => Ok((pg.clone(), url, op)),
        _ => Err(not_postgres()),
    }
}

/// Reads the offline cache of the connected profile (an error when it has none yet:
/// `sync_init` creates it).
#[tauri::command]
pub async fn sync_status(s: State<'_, AppState>) -> ApiResult<SyncView> {
    let (_, url, _) = server(&s).await?;
    let cache = Cache::open_profile(&url).await?;
    Ok(SyncView {
        status: cache.status().await?,
        conflicts: conflicts::list(&cache, false).await?,
        outbox: queue::list(&cache).await?,
        next_retry: queue::next_retry(&cache).await?,
    })
}

/// Creates (or replaces) this profile's cache for the organizations `orgs` (slugs), its key in
/// the OS keychain, and makes the first pull, emitting `progress` for `job` (cancellable; a
/// later "Sync now" resumes it).
#[tauri::command]
pub async fn sync_init(
    app: AppHandle,
    s: State<'_, AppState>,
    job: String,
    orgs: Vec<String>,
) -> ApiResult<InitialReport> {
    let (db, url, op) = server(&s).await?;
    // The first, heavy read goes to the profile's read replica when it has one.
    let read = s.reader(&db).await;
    let read = read.pg().unwrap_or(&db);
    let job = s.jobs.begin(&app, &job);
    let ctl = Ctl::from(job.work());
    let (_, rep) = initial::init_profile_via(&db, read, &url, &op, &orgs, ctl).await?;
    Ok(rep)
}

/// "Sync now": pushes the outbox, then pulls (`sync run`), emitting `progress` for `job`.
#[tauri::command]
pub async fn sync_run(app: AppHandle, s: State<'_, AppState>, job: String) -> ApiResult<RunReport> {
    let (db, url, op) = server(&s).await?;
    let job = s.jobs.begin(&app, &job);
    let cache = Cache::open_profile(&url).await?;
    let (push, pull) = ncy_sync::run(&db, &cache, &op, Ctl::from(job.work())).await?;
    Ok(RunReport { push, pull })
}

/// Which side of a conflict `sync_resolve` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum ConflictKeep {
    Mine,
    Theirs,
}

impl ConflictKeep {
    fn as_str(self) -> &'static str {
        match self {
            ConflictKeep::Mine => "mine",
            ConflictKeep::Theirs => "theirs",
        }
    }
}

/// Resolves a conflict: `keep` is `mine` or `theirs`, or `value` gives a new value. Keeping
/// mine or a new value is queued as a new offline edit (pushed by the next "Sync now").
#[tauri::command]
pub async fn sync_resolve(
    s: State<'_, AppState>,
    id: Uuid,
    keep: Option<ConflictKeep>,
    value: Option<String>,
) -> ApiResult<Resolved> {
    let (_, url, op) = server(&s).await?;
    let how = Resolution::choose(keep.map(ConflictKeep::as_str), value)?;
    let cache = Cache::open_profile(&url).await?;
    Ok(conflicts::resolve(&cache, &op, id, &how).await?)
}

/// What to do with one outbox entry.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum OutboxAction {
    Retry,
    Park,
    Discard,
}

/// Retries, parks or discards one outbox entry (its number or mutation id); a discard is
/// audited in the cache (the window asks for confirmation first).
#[tauri::command]
pub async fn sync_outbox(
    s: State<'_, AppState>,
    id: String,
    action: OutboxAction,
) -> ApiResult<queue::Item> {
    let (_, url, op) = server(&s).await?;
    let cache = Cache::open_profile(&url).await?;
    Ok(match action {
        OutboxAction::Retry => queue::retry(&cache, &id).await,
        OutboxAction::Park => queue::park(&cache, &id, "parked from the window").await,
        OutboxAction::Discard => queue::discard(&cache, &op, &id).await,
    }?)
}

/// When the window should retry a failed push on its own (None: nothing failed, no cache, or
/// not a PostgreSQL profile). Fresh edits wait for "Sync now".
#[tauri::command]
pub async fn sync_next_retry(s: State<'_, AppState>) -> ApiResult<Option<chrono::NaiveDateTime>> {
    let Ok((_, url, _)) = server(&s).await else {
        return Ok(None);
    };
    match Cache::open_profile(&url).await {
        Ok(cache) => Ok(queue::next_retry(&cache).await?),
        Err(_) => Ok(None),
    }
}

/// What the window needs after switching to a profile's offline cache.
#[derive(Debug, Clone, Serialize)]
pub struct OfflineSession {
    pub workspace: crate::state::WorkspaceInfo,
    pub me: crate::cmd::session::Me,
}

/// Works on profile `name`'s offline cache, as the operator last seen online (the cache's key
/// in the OS keychain is the gate: it holds no passwords). Only reads and task edits are
/// possible: the operator keeps its read permissions and task edits, which are queued in the
/// outbox for the next "Sync now".
#[tauri::command]
pub async fn workspace_offline(s: State<'_, AppState>, name: String) -> ApiResult<OfflineSession> {
    let p = s.profiles().find(&name)?;
    let Target::Postgres(url) = p.target(None) else {
        return Err(not_postgres());
    };
    let cache = Cache::open_profile(&url).await?;
    let op = cache.offline_operator().await?;
    let me = crate::cmd::session::Me::from(&op);
    let workspace = s.open_offline(&name, cache, op).await;
    Ok(OfflineSession { workspace, me })
}
