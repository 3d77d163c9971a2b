//! WebKitGTK settings for an application window (not a browser): its caches are sized for
//! browsing history and back/forward navigation we never do, so they are turned off.

/// Applies the settings to the main window's web view.
pub fn tune(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    #[cfg(target_os = "linux")]
    {
        use tauri::Manager;
        if let Some(w) = app.get_webview_window("main") {
            w.with_webview(|pv| {
                use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
                // "Disable the cache completely, which substantially reduces memory usage.
                // Useful for applications that only access a single local file" (WebKitGTK docs).
                if let Some(ctx) = pv.inner().context() {
                    ctx.set_cache_model(CacheModel::DocumentViewer);
                }
            })?;
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = app;
    Ok(())
}
