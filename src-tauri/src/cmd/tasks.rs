//! Projects & Tasks screen (`ncy_core::admin::{projects, tasks}`).

use ncy_core::admin::projects::{self, Project, ProjectPatch};
use ncy_core::admin::tasks::{self, BulkReport, Task, TaskFilter, TaskPatch};
use ncy_core::admin::Page;
use ncy_core::model::ProjectStatus;
use tauri::{AppHandle, State};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::state::AppState;

#[tauri::command]
pub async fn projects_list(
    s: State<'_, AppState>,
    org: Option<String>,
    status: Option<ProjectStatus>,
    limit: u32,
    after: Option<String>,
) -> ApiResult<Page<Project>> {
    let (db, op) = s.session().await?;
    let (org, after) = (org.as_deref(), after.as_deref());
    Ok(projects::list(&db, &op, org, status, false, limit, after).await?)
}

#[tauri::command]
pub async fn projects_update(
    s: State<'_, AppState>,
    id: Uuid,
    patch: ProjectPatch,
) -> ApiResult<Project> {
    let (db, op) = s.session().await?;
    Ok(projects::update(&db, &op, id, &patch).await?)
}

#[tauri::command]
pub async fn tasks_list(
    s: State<'_, AppState>,
    filter: TaskFilter,
    limit: u32,
    after: Option<String>,
) -> ApiResult<Page<Task>> {
    let (db, op) = s.session().await?;
    Ok(tasks::list(&db, &op, &filter, limit, after.as_deref()).await?)
}

#[tauri::command]
pub async fn tasks_get(s: State<'_, AppState>, id: Uuid) -> ApiResult<Task> {
    let (db, op) = s.session().await?;
    Ok(tasks::get(&db, &op, id).await?)
}

#[tauri::command]
pub async fn tasks_update(s: State<'_, AppState>, id: Uuid, patch: TaskPatch) -> ApiResult<Task> {
    let (db, op) = s.session().await?;
    if let Some(cache) = s.offline_cache().await {
        // Offline: the same core edit on the cache plus an outbox entry, in one transaction.
        ncy_sync::edit_task(&cache, &op, id, &patch).await?;
        return Ok(tasks::get(&db, &op, id).await?);
    }
    Ok(tasks::update(&db, &op, id, &patch).await?)
}

/// One patch over many tasks in one transaction; emits `progress` events for `job` and can be
/// cancelled with `job_cancel(job)` (everything is rolled back).
#[tauri::command]
pub async fn tasks_bulk_update(
    app: AppHandle,
    s: State<'_, AppState>,
    job: String,
    ids: Vec<Uuid>,
    patch: TaskPatch,
) -> ApiResult<BulkReport> {
    let (db, op) = s.session().await?;
    if s.offline_cache().await.is_some() {
        return Err(crate::state::offline_refused());
    }
    let job = s.jobs.begin(&app, &job);
    Ok(ncy_approvals::gated::bulk_update_tasks(&db, &op, &ids, &patch, job.work()).await?)
}
