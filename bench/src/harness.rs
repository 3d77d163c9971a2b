//! The benchmark harness: scale, a private PostgreSQL cluster, timing helpers, results table.

use std::time::{Duration, Instant};

use ncy_core::db::{ConnectOptions, Db, Target};
use ncy_tests::cluster::{Cluster, Options};
use serde::{Deserialize, Serialize};

/// `NCY_BENCH_SCALE`: smoke (seconds), quick (1/10 of full), full (< 30 min), large (10 × full:
/// 10M users, 10M tasks, 50M audit rows; hours, not part of CI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Smoke,
    Quick,
    Full,
    Large,
}

impl Scale {
    pub fn from_env() -> Scale {
        match std::env::var("NCY_BENCH_SCALE").as_deref() {
            Ok("smoke") => Scale::Smoke,
            Ok("full") => Scale::Full,
            Ok("large") => Scale::Large,
            _ => Scale::Quick,
        }
    }

    /// Scales a full-size count: large = 10 n, full = n, quick = n/10, smoke = n/1000 (at
    /// least `min`).
    pub fn n(self, full: u64, min: u64) -> u64 {
        let v = match self {
            Scale::Large => full * 10,
            Scale::Full => full,
            Scale::Quick => full / 10,
            Scale::Smoke => full / 1000,
        };
        v.max(min)
    }

    /// [`Scale::n`], but no more than at full scale: repetitions and side tables, which large
    /// (10 × the data, not 10 × the samples) leaves as they are.
    pub fn upto_full(self, full: u64, min: u64) -> u64 {
        self.n(full, min).min(full)
    }

    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Quick => "quick",
            Scale::Full => "full",
            Scale::Large => "large",
        }
    }

    /// The scale one step down, whose results a run compares its own with.
    fn below(self) -> Option<Scale> {
        match self {
            Scale::Smoke => None,
            Scale::Quick => Some(Scale::Smoke),
            Scale::Full => Some(Scale::Quick),
            Scale::Large => Some(Scale::Full),
        }
    }
}

/// One line of results.json. `name` is stable across runs and scales (compare by it);
/// `detail` says what was measured at this scale (sizes, percentile, baseline).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measure {
    pub name: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub scale: String,
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

    /// Records a measure under its stable `name`; `ratio` = ours / baseline.
    pub fn record(&mut self, name: &str, detail: &str, ours: f64, baseline: f64, unit: &str) {
        let ratio = if baseline > 0.0 { ours / baseline } else { 0.0 };
        println!("{detail:<60} {ours:>12.3} {baseline:>12.3} {unit:<8} {ratio:>7.3}");
        self.results.push(Measure {
            name: name.into(),
            detail: detail.into(),
            scale: self.scale.name().into(),
            ours,
            baseline,
            unit: unit.into(),
            ratio,
        });
    }

    /// Writes target/bench/results.json and results-<scale>.json, then compares this run with
    /// the last run one scale down, when there is one (how each measure grows with the data).
    pub fn write(&self) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
        let _ = std::fs::create_dir_all(&dir);
        let json = serde_json::to_string_pretty(&self.results).unwrap_or_default();
        for file in [
            "results.json".to_string(),
            format!("results-{}.json", self.scale.name()),
        ] {
            let path = dir.join(file);
            match std::fs::write(&path, &json) {
                Ok(()) => println!("\nwrote {}", path.display()),
                Err(e) => eprintln!("bench: cannot write {}: {e}", path.display()),
            }
        }
        if let Some(below) = self.scale.below() {
            let path = dir.join(format!("results-{}.json", below.name()));
            let earlier: Vec<Measure> = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            if !earlier.is_empty() {
                println!(
                    "\ngrowth from {} to {} ({}):",
                    below.name(),
                    self.scale.name(),
                    path.display()
                );
                print!("{}", growth(&earlier, &self.results));
            }
        }
    }
}

/// One line per measure present in both runs: ours at each scale and ours(this) ÷ ours(below);
/// a keyset page, an incremental sync or an export of one subject should stay near 1.
pub fn growth(below: &[Measure], this: &[Measure]) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{:<40} {:>12} {:>12} {:<8} {:>7}\n",
        "measure", "before", "now", "unit", "growth"
    );
    for m in this {
        if let Some(b) = below.iter().find(|b| b.name == m.name && b.unit == m.unit) {
            let g = if b.ours > 0.0 { m.ours / b.ours } else { 0.0 };
            let _ = writeln!(
                out,
                "{:<40} {:>12.3} {:>12.3} {:<8} {:>7.3}",
                m.name, b.ours, m.ours, m.unit, g
            );
        }
    }
    out
}

/// Migrates `db` and fills it with the synthetic set of `users`, `orgs` and `tasks` (no audit
/// rows; seed 11, so every section's data is the same for the same sizes).
pub async fn migrated_synthetic(db: &Db, users: u64, orgs: u64, tasks: u64) {
    use ncy_core::migrate::{self, MigrationSet};
    use ncy_core::seed::{self, SyntheticSpec};
    migrate::up(
        db,
        &MigrationSet::embedded(db.dialect()).expect("migrations"),
    )
    .await
    .expect("migrate");
    let spec = SyntheticSpec {
        users,
        orgs,
        tasks,
        audit: 0,
        seed: 11,
    };
    seed::synthetic(db, spec, false)
        .await
        .expect("synthetic seed");
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
