//! The charts against a real Prometheus and postgres_exporter (Debian packages
//! `prometheus`, `prometheus-postgres-exporter`), started here on loopback ports with a 1 s
//! scrape interval and pointed at the test database. No fake Prometheus.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{db_name, exec};
use ncy_core::Error;
use ncy_health::prometheus::{self, MetricsQuery};

/// Kills the child processes when dropped (also when the test panics).
struct Procs(Vec<(String, Child)>);

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn binary(env: &str, name: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{name} is not installed: run scripts/setup.sh (it installs the Debian packages \
         prometheus and prometheus-postgres-exporter), or set {env} to the binary"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(name: &str, cmd: &mut Command, dir: &Path) -> (String, Child) {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = cmd
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    (name.to_owned(), child)
}

fn logs(dir: &Path) -> String {
    ["exporter", "prometheus"]
        .iter()
        .map(|n| {
            let s = std::fs::read_to_string(dir.join(format!("{n}.log"))).unwrap_or_default();
            let tail: Vec<&str> = s.lines().rev().take(15).collect();
            format!(
                "--- {n} ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_come_from_a_real_prometheus_scraping_postgres_exporter() {
    let prom_bin = binary("NCY_PROMETHEUS_BIN", "prometheus");
    let exporter_bin = binary("NCY_POSTGRES_EXPORTER_BIN", "prometheus-postgres-exporter");
    let (db, url) = ncy_tests::fresh_pg().await;
    let op = ncy_tests::seeded_admin(&db).await;
    exec(&db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await;
    let dbname = db_name(&url);

    let dir = tempfile::tempdir().unwrap();
    let (exp_port, prom_port) = (free_port(), free_port());
    let queries = Path::new(env!("CARGO_MANIFEST_DIR")).join("exporter/queries.yaml");
    let dsn = if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    };
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: postgres\n    static_configs:\n      - targets: ['127.0.0.1:{exp_port}']\n"
        ),
    )
    .unwrap();
    let mut procs = Procs(vec![]);
    procs.0.push(spawn(
        "exporter",
        Command::new(&exporter_bin)
            .arg(format!("--web.listen-address=127.0.0.1:{exp_port}"))
            .arg(format!("--extend.query-path={}", queries.display()))
            .env("DATA_SOURCE_NAME", &dsn),
        dir.path(),
    ));
    procs.0.push(spawn(
        "prometheus",
        Command::new(&prom_bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}")),
        dir.path(),
    ));
    let prom_url = format!("http://127.0.0.1:{prom_port}");

    // Some traffic for the rates.
    let pool = db.pg().unwrap().pool().clone();
    let traffic = tokio::spawn(async move {
        for _ in 0..600 {
            let _ = sqlx::query("SELECT 1").execute(&pool).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    // Bounded wait for the scrapes: every charted postgres_exporter series present.
    let q = MetricsQuery {
        window: Duration::from_secs(120),
        step: Some(Duration::from_secs(1)),
        database: Some(dbname.clone()),
    };
    let deadline = Instant::now() + Duration::from_secs(45);
    let m = loop {
        for (name, c) in &mut procs.0 {
            if let Ok(Some(st)) = c.try_wait() {
                panic!("{name} exited early ({st}):\n{}", logs(dir.path()));
            }
        }
        let attempt = prometheus::metrics(&op, &prom_url, &q).await;
        if let Ok(m) = &attempt {
            let has = |key: &str, series: &str| {
                m.charts
                    .iter()
                    .find(|c| c.key == key)
                    .map(|c| {
                        c.series
                            .iter()
                            .any(|s| s.name == series && !s.points.is_empty())
                    })
                    .unwrap_or(false)
            };
            let commits_seen = m
                .charts
                .iter()
                .filter(|c| c.key == "tps")
                .flat_map(|c| &c.series)
                .any(|s| s.name == "commits" && s.points.iter().any(|p| p.v > 0.0));
            if commits_seen
                && has("up", "pg_up")
                && m.charts
                    .iter()
                    .any(|c| c.key == "connections" && !c.series.is_empty())
                && has("tps", "commits")
                && has("tps", "rollbacks")
                && has("query_duration", "mean statement time")
                && has("query_duration", "longest transaction")
            {
                break attempt.unwrap();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the charted series did not appear within 45 s: {attempt:#?}\n{}",
            logs(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    traffic.abort();

    let chart = |k: &str| m.charts.iter().find(|c| c.key == k).unwrap();
    assert_eq!(chart("up").series[0].last(), Some(1.0));
    assert!(m.findings.is_empty(), "{:?}", m.findings);
    let conns = chart("connections");
    assert!(conns.series.iter().all(|s| s.labels.contains_key("state")));
    assert!(
        conns
            .missing
            .iter()
            .any(|m| m.contains("database_connections_active")),
        "{:?}",
        conns.missing
    );
    assert!(conns
        .series
        .iter()
        .any(|s| s.name == "idle" || s.name == "active"));
    let tps = chart("tps");
    let commits = tps.series.iter().find(|s| s.name == "commits").unwrap();
    assert!(commits
        .points
        .iter()
        .all(|p| p.v >= 0.0 && p.t >= m.start - 1.0 && p.t <= m.end + 1.0));
    assert!(commits.points.iter().any(|p| p.v > 0.0), "{commits:?}");
    let qd = chart("query_duration");
    assert!(qd
        .queries
        .iter()
        .any(|q| q.contains(&format!("datname=\"{dbname}\""))));
    // The application's own histogram is not exported by postgres_exporter: named, not hidden.
    assert!(
        qd.missing
            .iter()
            .any(|m| m.contains("database_query_duration_seconds") && m.contains("prom-client")),
        "{:?}",
        qd.missing
    );
    let json = serde_json::to_value(&m).unwrap();
    assert!(json["charts"][0]["series"][0]["points"][0]["t"].is_number());

    // A Prometheus that is not there: the error says so.
    drop(procs);
    let e = prometheus::metrics(&op, &prom_url, &q).await.unwrap_err();
    assert!(
        matches!(&e, Error::Service { service, message } if service == "Prometheus" && message.contains("cannot query")),
        "{e}"
    );
    let bad = prometheus::Prometheus::new("http://127.0.0.1:1").unwrap();
    assert!(bad.query_range("up", 0.0, 1.0, 1.0).await.is_err());
}
