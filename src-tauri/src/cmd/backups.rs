//! Backups screen: each command calls one `ncy-backup` function as the logged-in operator.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ncy_backup::{BackupList, BackupRef, Backups, CreateOptions, Hooks, Snapshot, Verification};
use tauri::{AppHandle, Emitter, State};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::jobs::Progress;
use crate::state::AppState;

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
