//! The memory floor of the stack, for comparison with the app (BENCHMARKS.md): a Tauri window
//! showing an empty page, with the same WebKitGTK settings as NCY Admin and nothing else.
//! `cargo run --release -p ncy-desktop --example blank_window`

fn main() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    let r = tauri::Builder::default()
        .setup(|app| {
            let url = tauri::WebviewUrl::App("index.html".into());
            tauri::WebviewWindowBuilder::new(app, "main", url)
                .title("blank")
                .build()?;
            ncy_desktop::webview::tune(app)
        })
        .run(tauri::generate_context!("examples/blank/tauri.conf.json"));
    if let Err(e) = r {
        eprintln!("blank_window: {e}");
        std::process::exit(1);
    }
}
