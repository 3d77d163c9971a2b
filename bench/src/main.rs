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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // NCY_LOG=ncy_health=debug etc.: the crates' diagnostic events on stderr (breakdowns).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("NCY_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let mut b = Bench::start();
    println!("NCY Admin benchmarks, scale {}\n", b.scale.name());
    println!(
        "{:<60} {:>12} {:>12} {:<8} {:>7}",
        "measure", "ours", "baseline", "unit", "ratio"
    );
    // NCY_BENCH_ONLY=sync|gdpr|health|audit|backup|partition|workspace runs one self-contained section (for
    // working on it; audit and backup seed first, as health does).
    match std::env::var("NCY_BENCH_ONLY").ok().as_deref() {
        Some("sync") => sync::run(&mut b).await,
        Some("gdpr") => gdpr::run(&mut b).await,
        Some("health") => {
            let seeded_url = seed::run(&mut b).await;
            health::run(&mut b, &seeded_url).await;
        }
        Some("partition") => partition::run(&mut b).await,
        Some("workspace") => workspace::run(&mut b).await,
        Some("audit") => {
            let seeded_url = seed::run(&mut b).await;
            admin::run(&mut b, &seeded_url).await;
        }
        Some("backup") => {
            let seeded_url = seed::run(&mut b).await;
            backup::run(&mut b, &seeded_url).await;
        }
        _ => {
            let seeded_url = seed::run(&mut b).await;
            admin::run(&mut b, &seeded_url).await;
            health::run(&mut b, &seeded_url).await;
            sync::run(&mut b).await;
            backup::run(&mut b, &seeded_url).await;
            gdpr::run(&mut b).await;
            partition::run(&mut b).await;
            workspace::run(&mut b).await;
        }
    }
    b.write();
    b.cluster.stop();
}
