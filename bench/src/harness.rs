//! The benchmark harness: scale, a private PostgreSQL cluster, timing helpers, results table.

use std::time::{Duration, Instant};

use ncy_core::db::{ConnectOptions, Db, Target};
use ncy_tests::cluster::{Cluster, Options};
use serde::Serialize;

/// `NCY_BENCH_SCALE`: smoke (seconds), quick (1/10 of full), full (< 30 min).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Smoke,
    Quick,
    Full,
}

impl Scale {
    pub fn from_env() -> Scale {
        match std::env::var("NCY_BENCH_SCALE").as_deref() {
            Ok("smoke") => Scale::Smoke,
            Ok("full") => Scale::Full,
            _ => Scale::Quick,
        }
    }

    /// Scales a full-size count: full = n, quick = n/10, smoke = n/1000 (at least `min`).
    pub fn n(self, full: u64, min: u64) -> u64 {
        let v = match self {
            Scale::Full => full,
            Scale::Quick => full / 10,
            Scale::Smoke => full / 1000,
        };
        v.max(min)
    }

    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Quick => "quick",
            Scale::Full => "full",
        }
    }
}

/// One line of results.json.
#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    pub name: String,
    pub ours: f64,
    pub baseline: f64,
    pub unit: String,
    pub ratio: f64,
}

/// Shared state of a benchmark run.
pub struct Bench {
    pub scale: Scale,
    pub cluster: Cluster,
    pub results: Vec<Measure>,
}

impl Bench {
    pub fn start() -> Bench {
        let cluster = Cluster::start(Options {
            stat_statements: true,
            archive: false,
            fast: true,
        })
        .unwrap_or_else(|e| panic!("bench: cannot start PostgreSQL: {e}"));
        Bench {
            scale: Scale::from_env(),
            cluster,
            results: vec![],
        }
    }

    /// Creates an empty database and connects to it.
    pub async fn database(&self, name: &str) -> (Db, String) {
        let admin = Db::connect(
            &Target::Postgres(self.cluster.url("postgres")),
            &ConnectOptions::default(),
        )
        .await
        .expect("bench: admin connection");
        let mut tx = admin.begin().await.expect("begin");
        tx.batch("COMMIT").await.expect("commit");
        tx.batch(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .await
            .expect("drop");
        tx.batch(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create");
        drop(tx);
        admin.close().await;
        let url = self.cluster.url(name);
        let db = Db::connect(&Target::Postgres(url.clone()), &ConnectOptions::default())
            .await
            .expect("connect");
        (db, url)
    }

    /// Records a measure; `ratio` = ours / baseline.
    pub fn record(&mut self, name: &str, ours: f64, baseline: f64, unit: &str) {
        let ratio = if baseline > 0.0 { ours / baseline } else { 0.0 };
        println!("{name:<60} {ours:>12.3} {baseline:>12.3} {unit:<8} {ratio:>7.3}");
        self.results.push(Measure {
            name: name.into(),
            ours,
            baseline,
            unit: unit.into(),
            ratio,
        });
    }

    /// Writes target/bench/results.json.
    pub fn write(&self) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("results.json");
        let json = serde_json::to_string_pretty(&self.results).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, json) {
            eprintln!("bench: cannot write {}: {e}", path.display());
        } else {
            println!("\nwrote {}", path.display());
        }
    }
}

#[allow(dead_code)]
/// Runs `f` once as warm-up, then `iters` times; returns the samples.
pub async fn sample<F, Fut>(iters: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await;
    let mut out = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f().await;
        out.push(t.elapsed());
    }
    out
}

#[allow(dead_code)]
/// Percentile (0..=100) of samples, in milliseconds.
pub fn pct_ms(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}
