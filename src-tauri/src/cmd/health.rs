//! Database health screen: each command calls one `ncy-health` function as the logged-in operator.
//! The Prometheus URL the charts read from is an app setting (`<config dir>/settings.json`,
//! key `prometheus_url`); the CLI takes it as `--prometheus` / `NCY_PROMETHEUS_URL`.

use std::path::Path;

use ncy_health::activity::{self, Signal, SignalResult};
use ncy_health::logging::{self, LoggingChange, LoggingUpdate};
use ncy_health::prometheus::{self, Metrics, MetricsQuery};
use ncy_health::statements::{self, ResetResult};
use ncy_health::{HealthReport, ReportOptions};
use serde_json::{Map, Value};
use tauri::State;

use crate::error::ApiResult;
use crate::state::AppState;
use ncy_core::app::{read_json, write_json};

/// The health report of the open database (PostgreSQL or the local SQLite file).
#[tauri::command]
pub async fn health_report(s: State<'_, AppState>) -> ApiResult<HealthReport> {
    let (db, op) = s.session().await?;
    // The catalog-only lists read on the profile's read replica when it has one.
    let read = s.reader(&db).await;
    Ok(ncy_health::report::report_via(&db, &read, &op, &ReportOptions::default()).await?)
}

/// The cost warnings of a logging change (e.g. `log_statement = 'all'`), shown before it is applied.
#[tauri::command]
pub fn health_logging_warnings(change: LoggingChange) -> Vec<String> {
    logging::warnings(&change)
}

/// Sets slow-query logging server-wide (`ALTER SYSTEM` + reload; `health.configure`, audited).
#[tauri::command]
pub async fn health_set_logging(
    s: State<'_, AppState>,
    change: LoggingChange,
) -> ApiResult<LoggingUpdate> {
    let (db, op) = s.session().await?;
    Ok(logging::set(&db, &op, &change).await?)
}

/// Clears pg_stat_statements (`health.configure`, audited).
#[tauri::command]
pub async fn health_reset_statements(s: State<'_, AppState>) -> ApiResult<ResetResult> {
    let (db, op) = s.session().await?;
    Ok(statements::reset(&db, &op).await?)
}

/// Cancels the running query (`cancel`) or ends the session (`terminate`) of `pid`
/// (`health.configure`, audited).
#[tauri::command]
pub async fn health_signal(
    s: State<'_, AppState>,
    pid: i64,
    signal: Signal,
) -> ApiResult<SignalResult> {
    let (db, op) = s.session().await?;
    Ok(activity::signal(&db, &op, pid, signal).await?)
}

fn settings_file(config: &Path) -> std::path::PathBuf {
    config.join("settings.json")
}

fn read_settings(config: &Path) -> ApiResult<Map<String, Value>> {
    Ok(read_json(&settings_file(config), "settings")?)
}

/// The configured Prometheus URL, if any.
fn prometheus_url(config: &Path) -> ApiResult<Option<String>> {
    Ok(read_settings(config)?
        .get("prometheus_url")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|u| !u.trim().is_empty()))
}

/// The Prometheus URL, or the error saying where to enter it.
fn configured_prometheus(config: &Path) -> ApiResult<String> {
    Ok(prometheus_url(config)?.ok_or_else(|| {
        ncy_core::Error::invalid(
            "prometheus",
            "no Prometheus URL is configured: enter it on the Health screen (e.g. http://127.0.0.1:9090)",
        )
    })?)
}

/// Stores (or with `None`/empty, forgets) the Prometheus URL, atomically.
fn set_prometheus_url(config: &Path, url: Option<&str>) -> ApiResult<()> {
    let mut m = read_settings(config)?;
    match url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => {
            m.insert("prometheus_url".into(), Value::String(u.to_owned()));
        }
        None => {
            m.remove("prometheus_url");
        }
    }
    Ok(write_json(&settings_file(config), &m, "settings")?)
}

/// The Prometheus URL the charts read from (`None` when not configured).
#[tauri::command]
pub fn health_prometheus_get(s: State<'_, AppState>) -> ApiResult<Option<String>> {
    prometheus_url(&s.paths.config)
}

/// Saves the Prometheus URL (checked by the health crate's client); empty forgets it.
#[tauri::command]
pub fn health_prometheus_set(s: State<'_, AppState>, url: Option<String>) -> ApiResult<()> {
    if let Some(u) = url.as_deref().filter(|u| !u.trim().is_empty()) {
        prometheus::Prometheus::new(u)?;
    }
    set_prometheus_url(&s.paths.config, url.as_deref())
}

/// The charts (connections, transactions per second, query duration) over `window`
/// (`15m`, `1h`, ...) from the configured Prometheus, for `database` when given.
#[tauri::command]
pub async fn health_metrics(
    s: State<'_, AppState>,
    window: String,
    database: Option<String>,
) -> ApiResult<Metrics> {
    let (_, op) = s.session().await?;
    let url = configured_prometheus(&s.paths.config)?;
    let q = MetricsQuery {
        window: prometheus::parse_window(&window)?,
        step: None,
        database: database.filter(|d| !d.is_empty()),
    };
    Ok(prometheus::metrics(&op, &url, &q).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prometheus_url_is_kept_in_the_settings_file() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join("config");
        assert_eq!(prometheus_url(&cfg).unwrap(), None);
        set_prometheus_url(&cfg, Some(" http://127.0.0.1:9090 ")).unwrap();
        assert_eq!(
            prometheus_url(&cfg).unwrap().as_deref(),
            Some("http://127.0.0.1:9090")
        );
        set_prometheus_url(&cfg, Some("")).unwrap();
        assert_eq!(prometheus_url(&cfg).unwrap(), None);
        std::fs::write(cfg.join("settings.json"), "[1]").unwrap();
        let e = prometheus_url(&cfg).unwrap_err();
        assert_eq!(e.code, "config");
    }
}
