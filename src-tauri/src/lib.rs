//! NCY Admin desktop: a thin Tauri shell over `ncy-core`. The window starts on the embedded
//! local workspace (SQLite in the user's data directory, created and seeded on first start);
//! PostgreSQL profiles are managed in the app. Every command calls one core function.

pub mod cmd;
pub mod error;
pub mod jobs;
pub mod state;
pub mod webview;

use state::AppState;

/// Start-up: opens the local workspace in the background while the web view loads (the UI's
/// first call then finds it open) and tunes the web view.
fn setup(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    use tauri::Manager;
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        let s = handle.state::<AppState>();
        // An error here is reported by the UI's own call to `app_info`.
        let _ = s.open_default().await;
    });
    webview::tune(app)
}

/// Starts the app (blocks until the window closes).
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let paths = ncy_core::app::Paths::detect()?;
    tauri::Builder::default()
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .manage(AppState::new(paths))
        .setup(setup)
        .invoke_handler(tauri::generate_handler![
            cmd::session::app_info,
            cmd::session::login,
            cmd::session::logout,
            cmd::session::session_step_up,
            cmd::approvals::approvals_list,
            cmd::approvals::approvals_approve,
            cmd::approvals::approvals_reject,
            cmd::approvals::approvals_cancel,
            cmd::dashboard,
            cmd::job_cancel,
            cmd::users::users_list,
            cmd::users::users_get,
            cmd::users::users_create,
            cmd::users::users_update,
            cmd::users::users_set_state,
            cmd::users::users_reset_password,
            cmd::users::users_sessions,
            cmd::users::users_revoke_session,
            cmd::users::users_api_keys,
            cmd::users::users_revoke_api_key,
            cmd::users::users_create_api_key,
            cmd::users::users_role,
            cmd::orgs::orgs_list,
            cmd::orgs::orgs_get,
            cmd::orgs::orgs_create,
            cmd::orgs::orgs_transfer,
            cmd::orgs::orgs_set_state,
            cmd::orgs::orgs_set_member,
            cmd::orgs::orgs_remove_member,
            cmd::orgs::teams_create,
            cmd::orgs::teams_delete,
            cmd::orgs::teams_member,
            cmd::tasks::projects_list,
            cmd::tasks::projects_update,
            cmd::tasks::tasks_list,
            cmd::tasks::tasks_get,
            cmd::tasks::tasks_update,
            cmd::tasks::tasks_bulk_update,
            cmd::audit::audit_list,
            cmd::audit::audit_export,
            cmd::audit::logs_access,
            cmd::audit::logs_errors,
            cmd::connections::keychain_status,
            cmd::connections::profiles_list,
            cmd::connections::profiles_save,
            cmd::connections::profiles_delete,
            cmd::connections::profiles_test,
            cmd::connections::workspace_switch,
            cmd::backups::backups_list,
            cmd::backups::backups_create,
            cmd::backups::backups_verify,
            cmd::backups::backups_prune,
            cmd::backups::backups_restore,
            cmd::backups::backups_restore_plan,
            cmd::backups::backups_pitr,
            cmd::backups::backups_recovery_script,
            cmd::gdpr::gdpr_queue,
            cmd::gdpr::gdpr_act,
            cmd::gdpr::gdpr_show,
            cmd::gdpr::gdpr_create,
            cmd::gdpr::gdpr_extend,
            cmd::gdpr::gdpr_export_dir,
            cmd::gdpr::gdpr_export,
            cmd::gdpr::gdpr_erase,
            cmd::gdpr::gdpr_hold,
            cmd::gdpr::consents_list,
            cmd::gdpr::consents_set,
            cmd::health::health_report,
            cmd::health::health_logging_warnings,
            cmd::health::health_set_logging,
            cmd::health::health_reset_statements,
            cmd::health::health_signal,
            cmd::health::health_prometheus_get,
            cmd::health::health_prometheus_set,
            cmd::health::health_metrics,
            cmd::sync::sync_status,
            cmd::sync::workspace_offline,
            cmd::sync::sync_init,
            cmd::sync::sync_run,
            cmd::sync::sync_resolve,
            cmd::sync::sync_outbox,
            cmd::sync::sync_next_retry,
            cmd::operators::operators_list,
            cmd::operators::operators_provision,
            cmd::operators::operators_rotate,
            cmd::operators::operators_revoke,
            cmd::settings::settings_list,
            cmd::settings::settings_set,
            cmd::settings::settings_reset,
            cmd::settings::schema_status,
        ])
        .run(tauri::generate_context!())?;
    Ok(())
}
