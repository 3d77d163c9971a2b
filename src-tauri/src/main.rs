// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// mimalloc for every allocation of the process: a pull, a seed or an export makes tens of
/// thousands of small short-lived strings, which glibc's allocator served with lock waits and
/// free-list consolidation (BENCHMARKS.md, issue 17).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // WebKitGTK's accelerated compositing buys nothing for tables and forms but costs about
    // 100 MB in the web process (and is slow without a GPU): off unless the user chose.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    if let Err(e) = ncy_desktop::run() {
        eprintln!("ncy-desktop: {e}");
        std::process::exit(1);
    }
}
