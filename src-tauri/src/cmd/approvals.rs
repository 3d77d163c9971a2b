//! Approvals screen: the four-eyes queue. Approving runs the filed action once, as the
//! approver, and asks for their password again first (step-up) like the action itself would.

use ncy_approvals::{Approval, Env, Status};
use tauri::State;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::state::AppState;

/// Requests the operator may decide, and their own; `status` filters (e.g. `PENDING`).
#[tauri::command]
pub async fn approvals_list(
    s: State<'_, AppState>,
    status: Option<Status>,
) -> ApiResult<Vec<Approval>> {
    let (db, op) = s.session().await?;
    Ok(ncy_approvals::list(&db, &op, status, 200).await?)
}

/// Approves a request filed by another operator and runs its action.
#[tauri::command]
pub async fn approvals_approve(s: State<'_, AppState>, id: Uuid) -> ApiResult<Approval> {
    s.destructive().await?;
    let (db, target, op) = s.session_target().await?;
    let dir = s.paths.backups();
    let env = Env {
        db: &db,
        target: &target,
        backup_dir: Some(dir),
    };
    Ok(ncy_approvals::approve(&env, &op, id).await?)
}

/// Refuses a request with a reason.
#[tauri::command]
pub async fn approvals_reject(
    s: State<'_, AppState>,
    id: Uuid,
    reason: String,
) -> ApiResult<Approval> {
    let (db, op) = s.session().await?;
    Ok(ncy_approvals::reject(&db, &op, id, &reason).await?)
}

/// Withdraws one's own request.
#[tauri::command]
pub async fn approvals_cancel(s: State<'_, AppState>, id: Uuid) -> ApiResult<Approval> {
    let (db, op) = s.session().await?;
    Ok(ncy_approvals::cancel(&db, &op, id).await?)
}
