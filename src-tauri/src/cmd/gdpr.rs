//! GDPR requests screen: each command calls one `ncy-gdpr` function as the logged-in operator.

use std::path::PathBuf;

use ncy_gdpr::consent::{self, ConsentView};
use ncy_gdpr::erase::{ErasureOptions, ErasureOutcome};
use ncy_gdpr::export::{self, ExportOutcome};
use ncy_gdpr::hold;
use ncy_gdpr::request::{
    self, NewRequest, Queue, QueueFilter, Request, RequestDetail, RequestKind, RequestState,
};
use serde::Deserialize;
use tauri::{AppHandle, State};
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

/// One request with its subject, legal holds, owned organizations and history.
#[tauri::command]
pub async fn gdpr_show(s: State<'_, AppState>, id: Uuid) -> ApiResult<RequestDetail> {
    let (db, op) = s.session().await?;
    Ok(request::show(&db, &op, id).await?)
}

/// Files a request for `user` (id or email); `kind` is ACCESS, EXPORT, ERASURE,
/// RECTIFICATION or RESTRICTION. Due one month after receipt.
#[tauri::command]
pub async fn gdpr_create(
    s: State<'_, AppState>,
    user: String,
    kind: String,
    note: Option<String>,
) -> ApiResult<Request> {
    let (db, op) = s.session().await?;
    let new = NewRequest {
        user,
        kind: RequestKind::parse(&kind)?,
        notes: note,
    };
    Ok(request::create(&db, &op, new).await?)
}

/// A step of `gdpr_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum GdprAction {
    /// Identity check started.
    Begin,
    /// Identity checked (the note says how).
    Verify,
    Complete,
    /// Rejected (the note is the reason).
    Reject,
}

/// Moves a request on: `begin` (identity check started), `verify` (identity checked by
/// `note`), `complete` or `reject` (`note` is the reason).
#[tauri::command]
pub async fn gdpr_act(
    s: State<'_, AppState>,
    id: Uuid,
    action: GdprAction,
    note: String,
) -> ApiResult<Request> {
    let (db, op) = s.session().await?;
    Ok(match action {
        GdprAction::Begin => request::begin_verification(&db, &op, id).await?,
        GdprAction::Verify => request::verify_identity(&db, &op, id, &note).await?,
        GdprAction::Complete => request::complete(&db, &op, id).await?,
        GdprAction::Reject => request::reject(&db, &op, id, &note).await?,
    })
}

/// Extends the deadline by 1 or 2 months past the original due date, with a recorded reason.
#[tauri::command]
pub async fn gdpr_extend(
    s: State<'_, AppState>,
    id: Uuid,
    months: u32,
    reason: String,
) -> ApiResult<Request> {
    let (db, op) = s.session().await?;
    Ok(request::extend(&db, &op, id, months, &reason).await?)
}

/// The folder exports go to unless the operator chooses another: `<data dir>/gdpr-exports`.
#[tauri::command]
pub fn gdpr_export_dir(s: State<'_, AppState>) -> String {
    s.paths.gdpr_exports().display().to_string()
}

/// The bundle folder of one export inside `dir`: `gdpr-<request>-<UTC time>` (new each time).
fn bundle_path(dir: &str, id: Uuid) -> PathBuf {
    let stamp = ncy_core::db::now().format("%Y%m%d-%H%M%S");
    PathBuf::from(dir.trim()).join(format!("gdpr-{}-{stamp}", id.simple()))
}

/// Writes the export bundle of an ACCESS / EXPORT request into a new folder inside `dir`,
/// emitting `progress` for `job` (cancellable).
#[tauri::command]
pub async fn gdpr_export(
    app: AppHandle,
    s: State<'_, AppState>,
    job: String,
    id: Uuid,
    dir: String,
) -> ApiResult<ExportOutcome> {
    let (db, op) = s.session().await?;
    // The subject's rows are read on the read replica when the profile has one.
    let read = s.reader(&db).await;
    if dir.trim().is_empty() {
        return Err(ncy_core::Error::invalid("folder", "choose a folder for the export").into());
    }
    let out = bundle_path(&dir, id);
    let job = s.jobs.begin(&app, &job);
    Ok(export::export_via(&db, &read, &op, id, &out, job.work()).await?)
}

/// Erases the subject of an ERASURE request; `confirm` repeats the subject's email. Returns
/// the receipt with the sweep; refusals (owner of an organization, legal hold) are errors.
#[tauri::command]
pub async fn gdpr_erase(
    app: AppHandle,
    s: State<'_, AppState>,
    job: String,
    id: Uuid,
    confirm: String,
) -> ApiResult<ErasureOutcome> {
    let (db, op) = s.destructive().await?;
    let job = s.jobs.begin(&app, &job);
    let opts = ErasureOptions::default();
    Ok(ncy_approvals::gated::erase(&db, &op, id, &confirm, &opts, job.work()).await?)
}

/// Places a legal hold on `user` (`place = true`) or releases every active one; `reason` is
/// required either way. Returns how many holds were placed or released.
#[tauri::command]
pub async fn gdpr_hold(
    s: State<'_, AppState>,
    user: String,
    place: bool,
    reason: String,
) -> ApiResult<u64> {
    let (db, op) = s.session().await?;
    Ok(if place {
        hold::place(&db, &op, &user, &reason).await.map(|_| 1)?
    } else {
        hold::release(&db, &op, &user, &reason).await?
    })
}

/// A user's consents (`user`: id or email): current state per purpose and the full history.
#[tauri::command]
pub async fn consents_list(s: State<'_, AppState>, user: String) -> ApiResult<ConsentView> {
    let (db, op) = s.session().await?;
    Ok(consent::list(&db, &op, &user, None).await?)
}

/// Grants (`grant = true`, with an optional `source`) or withdraws the consent of `user` for
/// `purpose` (e.g. `marketing.email`). Returns the user's consents afterwards.
#[tauri::command]
pub async fn consents_set(
    s: State<'_, AppState>,
    user: String,
    purpose: String,
    grant: bool,
    source: Option<String>,
) -> ApiResult<ConsentView> {
    let (db, op) = s.session().await?;
    Ok(if grant {
        consent::grant(&db, &op, &user, &purpose, source.as_deref()).await?
    } else {
        consent::withdraw(&db, &op, &user, &purpose).await?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_export_gets_a_new_folder_inside_the_chosen_one() {
        let id = Uuid::new_v4();
        let p = bundle_path(" /tmp/exports ", id);
        assert_eq!(p.parent(), Some(std::path::Path::new("/tmp/exports")));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(&format!("gdpr-{}-", id.simple())),
            "{name}"
        );
    }
}
