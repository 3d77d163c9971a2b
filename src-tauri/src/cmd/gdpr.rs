//! GDPR requests screen: each command calls one `ncy-gdpr` function as the logged-in operator.

use ncy_gdpr::request::{self, Queue, QueueFilter, Request, RequestState};
use tauri::State;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::state::AppState;

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
