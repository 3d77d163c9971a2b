//! Organizations screen: members, teams, ownership (`ncy_core::admin::orgs`).

use ncy_core::admin::orgs::{self, OrgDetail, Organization};
use ncy_core::admin::Page;
use ncy_core::model::OrgRole;
use serde::Deserialize;
use tauri::State;

use crate::error::ApiResult;
use crate::state::AppState;

#[tauri::command]
pub async fn orgs_list(
    s: State<'_, AppState>,
    search: Option<String>,
    include_deleted: bool,
    limit: u32,
    after: Option<String>,
) -> ApiResult<Page<Organization>> {
    let (db, op) = s.session().await?;
    let search = search.filter(|q| !q.trim().is_empty());
    let (search, after) = (search.as_deref(), after.as_deref());
    Ok(orgs::list(&db, &op, search, include_deleted, limit, after).await?)
}

#[tauri::command]
pub async fn orgs_get(s: State<'_, AppState>, org: String) -> ApiResult<OrgDetail> {
    let (db, op) = s.session().await?;
    Ok(orgs::get(&db, &op, &org).await?)
}

#[tauri::command]
pub async fn orgs_create(
    s: State<'_, AppState>,
    name: String,
    slug: String,
    owner: String,
) -> ApiResult<Organization> {
    let (db, op) = s.session().await?;
    Ok(orgs::create(&db, &op, &name, &slug, &owner, None).await?)
}

#[tauri::command]
pub async fn orgs_transfer(
    s: State<'_, AppState>,
    org: String,
    owner: String,
) -> ApiResult<Organization> {
    let (db, op) = s.session().await?;
    Ok(orgs::transfer(&db, &op, &org, &owner).await?)
}

/// What `orgs_set_state` does to an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum OrgAction {
    /// Needs a fresh password (step-up) and, where configured, a second operator's approval.
    Delete,
    Restore,
}

#[tauri::command]
pub async fn orgs_set_state(
    s: State<'_, AppState>,
    org: String,
    action: OrgAction,
) -> ApiResult<Organization> {
    let (db, op) = if action == OrgAction::Restore {
        s.session().await?
    } else {
        s.destructive().await?
    };
    Ok(if action == OrgAction::Restore {
        orgs::restore(&db, &op, &org).await?
    } else {
        ncy_approvals::gated::delete_org(&db, &op, &org).await?
    })
}

/// Adds a member or changes their role.
#[tauri::command]
pub async fn orgs_set_member(
    s: State<'_, AppState>,
    org: String,
    user: String,
    role: OrgRole,
) -> ApiResult<()> {
    let (db, op) = s.session().await?;
    Ok(orgs::set_member(&db, &op, &org, &user, role).await?)
}

#[tauri::command]
pub async fn orgs_remove_member(
    s: State<'_, AppState>,
    org: String,
    user: String,
) -> ApiResult<()> {
    let (db, op) = s.session().await?;
    Ok(orgs::remove_member(&db, &op, &org, &user).await?)
}

#[tauri::command]
pub async fn teams_create(
    s: State<'_, AppState>,
    org: String,
    name: String,
    description: Option<String>,
) -> ApiResult<orgs::Team> {
    let (db, op) = s.session().await?;
    Ok(orgs::create_team(&db, &op, &org, &name, description.as_deref()).await?)
}

#[tauri::command]
pub async fn teams_delete(s: State<'_, AppState>, org: String, team: String) -> ApiResult<()> {
    let (db, op) = s.session().await?;
    Ok(orgs::delete_team(&db, &op, &org, &team).await?)
}

/// Adds (`add = true`) or removes a team member.
#[tauri::command]
pub async fn teams_member(
    s: State<'_, AppState>,
    org: String,
    team: String,
    user: String,
    add: bool,
) -> ApiResult<()> {
    let (db, op) = s.session().await?;
    Ok(orgs::team_member(&db, &op, &org, &team, &user, add).await?)
}
