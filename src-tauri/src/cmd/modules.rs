//! Backups, GDPR requests and database health: each command calls one function of the
//! feature crate (`ncy-backup`, `ncy-gdpr`, `ncy-health`) as the logged-in operator.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ncy_backup::{BackupList, BackupRef, Backups, CreateOptions, Hooks, Snapshot, Verification};
use ncy_gdpr::request::{self, Queue, QueueFilter, Request, RequestState};
use ncy_health::{HealthReport, ReportOptions};
use tauri::{AppHandle, Emitter, State};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::jobs::Progress;
use crate::state::{not_postgres, AppState};

async fn backups(s: &AppState) -> ApiResult<(Backups, ncy_core::auth::Operator)> {
    let (db, target, op) = s.session_target().await?;
    Ok((Backups::new(db, &target)?, op))
}

#[tauri::command]
pub async fn backups_list(s: State<'_, AppState>, after: Option<String>) -> ApiResult<BackupList> {
    let (b, op) = backups(&s).await?;
    Ok(b.list(&op, after.as_deref(), 100).await?)
}

/// Takes a backup into `<data dir>/backups`, emitting `progress` for `job` (cancellable).
#[tauri::command]
pub async fn backups_create(
    app: AppHandle,
    s: State<'_, AppState>,
    job: String,
) -> ApiResult<Snapshot> {
    let (b, op) = backups(&s).await?;
    let cancel = Arc::new(AtomicBool::new(false));
    s.jobs.start(&job, cancel.clone());
    let progress = |p: ncy_backup::Progress| {
        let _ = app.emit("progress", Progress::new(&job, &p.phase, p.done, p.total));
    };
    let hooks = Hooks {
        progress: &progress,
        cancel: Some(&cancel),
    };
    let r = b
        .create(
            &op,
            &CreateOptions::new(s.paths.data.join("backups")),
            hooks,
        )
        .await;
    s.jobs.finish(&job);
    Ok(r?)
}

/// Proves a backup restorable (checksum, read, test restore, counts) and records the result.
#[tauri::command]
pub async fn backups_verify(
    app: AppHandle,
    s: State<'_, AppState>,
    job: String,
    id: Uuid,
) -> ApiResult<Verification> {
    let (b, op) = backups(&s).await?;
    let cancel = Arc::new(AtomicBool::new(false));
    s.jobs.start(&job, cancel.clone());
    let progress = |p: ncy_backup::Progress| {
        let _ = app.emit("progress", Progress::new(&job, &p.phase, p.done, p.total));
    };
    let hooks = Hooks {
        progress: &progress,
        cancel: Some(&cancel),
    };
    let r = b.verify(&op, &BackupRef::Id(id), hooks).await;
    s.jobs.finish(&job);
    Ok(r?)
}

/// The GDPR queue by deadline. `state`: a request state name, or none for open requests.
#[tauri::command]
pub async fn gdpr_queue(
    s: State<'_, AppState>,
    state: Option<String>,
    overdue: bool,
    include_closed: bool,
) -> ApiResult<Queue> {
    let (db, op) = s.session().await?;
    let status = state.as_deref().map(RequestState::parse).transpose()?;
    let f = QueueFilter {
        status,
        overdue,
        include_closed,
        limit: Some(1000),
        ..QueueFilter::default()
    };
    Ok(request::list(&db, &op, &f).await?)
}

/// Moves a request on: `verify` (identity checked by `note`), `complete` or `reject` (`note`
/// is the reason).
#[tauri::command]
pub async fn gdpr_act(
    s: State<'_, AppState>,
    id: Uuid,
    action: String,
    note: String,
) -> ApiResult<Request> {
    let (db, op) = s.session().await?;
    Ok(match action.as_str() {
        "verify" => request::verify_identity(&db, &op, id, &note).await?,
        "complete" => request::complete(&db, &op, id).await?,
        "reject" => request::reject(&db, &op, id, &note).await?,
        other => {
            return Err(ncy_core::Error::invalid(
                "action",
                format!("{other:?} is not verify, complete or reject"),
            )
            .into())
        }
    })
}

/// The health report of the open database (PostgreSQL or the local SQLite file).
#[tauri::command]
pub async fn health_report(s: State<'_, AppState>) -> ApiResult<HealthReport> {
    let (db, op) = s.session().await?;
    Ok(ncy_health::report(&db, &op, &ReportOptions::default()).await?)
}

/// Sync state of the current PostgreSQL profile's offline cache, with its conflicts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncView {
    pub status: ncy_sync::cache::Status,
    pub conflicts: Vec<ncy_sync::conflicts::Conflict>,
}

/// Reads the offline cache of the connected profile (`ncy-admin sync init` creates it).
#[tauri::command]
pub async fn sync_status(s: State<'_, AppState>) -> ApiResult<SyncView> {
    let (_, target, _) = s.session_target().await?;
    let ncy_core::db::Target::Postgres(url) = target else {
        return Err(not_postgres());
    };
    let view = crate::workspace::off_thread(move || async move {
        let cache = ncy_sync::cache::Cache::open_profile(&url).await?;
        Ok(SyncView {
            status: cache.status().await?,
            conflicts: ncy_sync::conflicts::list(&cache, false).await?,
        })
    })
    .await?;
    Ok(view)
}
