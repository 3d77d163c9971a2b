//! `make bench`: every performance goal of the product as a measure beside a baseline
//! measured in the same run. Sizes follow `NCY_BENCH_SCALE` (smoke | quick | full | large).

mod admin;
mod backup;
mod gdpr;
mod harness;
mod health;
mod partition;
mod partition_audit;
mod seed;
mod sync;
mod workspace;

use harness::Bench;

/// mimalloc for every allocation of the process: a pull, a seed or an export makes tens of
/// thousands of small short-lived strings, which glibc's allocator served with lock waits and
/// free-list consolidation (BENCHMARKS.md, issue 17).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // NCY_LOG=ncy_health=debug etc.: the crates' diagnostic events on stderr (breakdowns).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("NCY_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    // NCY_BENCH_ONLY=sync|gdpr|health|audit|backup|partition|workspace runs those sections only,
    // comma-separated, in the full run's order (for working on them); audit, health and backup
    // measure on the seeded synthetic database, seeded once for them all.
    let only: Option<Vec<String>> = std::env::var("NCY_BENCH_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    const SECTIONS: [&str; 7] = [
        "audit",
        "health",
        "sync",
        "backup",
        "gdpr",
        "partition",
        "workspace",
    ];
    if let Some(bad) = only
        .iter()
        .flatten()
        .find(|s| !SECTIONS.contains(&s.as_str()))
    {
        eprintln!(
            "NCY_BENCH_ONLY: no section {bad:?}; choose from {}",
            SECTIONS.join(", ")
        );
        std::process::exit(2);
    }
    let mut b = Bench::start();
    println!("NCY Admin benchmarks, scale {}\n", b.scale.name());
    println!(
        "{:<60} {:>12} {:>12} {:<8} {:>7}",
        "measure", "ours", "baseline", "unit", "ratio"
    );
    let wants = |s: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == s));
    let seeded_url = if ["audit", "health", "backup"].into_iter().any(wants) {
        Some(seed::run(&mut b).await)
    } else {
        None
    };
    if let Some(url) = &seeded_url {
        if wants("audit") {
            admin::run(&mut b, url).await;
        }
        if wants("health") {
            health::run(&mut b, url).await;
        }
    }
    if wants("sync") {
        sync::run(&mut b).await;
    }
    if let (Some(url), true) = (&seeded_url, wants("backup")) {
        backup::run(&mut b, url).await;
    }
    if wants("gdpr") {
        gdpr::run(&mut b).await;
    }
    if wants("partition") {
        partition::run(&mut b).await;
    }
    if wants("workspace") {
        workspace::run(&mut b).await;
    }
    b.write();
    b.cluster.stop();
}
