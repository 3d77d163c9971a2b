//! Charts from Prometheus: the postgres_exporter series (connections, transactions per
//! second, query duration, `pg_up`) over a time window, through the HTTP API
//! (`/api/v1/query_range`). Connection and API errors are returned, never swallowed; a chart
//! whose series is missing says which exporter flag or collector provides it.

use std::collections::BTreeMap;
use std::time::Duration;

use ncy_core::auth::{perm, Operator};
use ncy_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::findings::{Finding, Severity};

/// One point of a series: unix time in seconds, value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Point {
    pub t: f64,
    pub v: f64,
}

/// One series of a chart.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Series {
    /// Legend text (`active`, `commits`, ...).
    pub name: String,
    /// The Prometheus labels of the series.
    pub labels: BTreeMap<String, String>,
    pub points: Vec<Point>,
}

impl Series {
    /// The last value, if any.
    pub fn last(&self) -> Option<f64> {
        self.points.last().map(|p| p.v)
    }
}

/// One chart: its series, or why they are missing.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Chart {
    /// Stable key for the UI: `up`, `connections`, `tps`, `query_duration`.
    pub key: String,
    pub title: String,
    /// `connections`, `tx/s`, `s`, `bool`.
    pub unit: String,
    /// The PromQL queries behind the series.
    pub queries: Vec<String>,
    pub series: Vec<Series>,
    /// Set when a query returned nothing: which exporter flag or collector provides it.
    pub missing: Vec<String>,
}

/// The charts of one window, ready to draw.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Metrics {
    pub prometheus: String,
    /// Unix seconds.
    pub start: f64,
    pub end: f64,
    pub step_seconds: f64,
    pub charts: Vec<Chart>,
    pub findings: Vec<Finding>,
}

/// What to chart.
#[derive(Debug, Clone)]
pub struct MetricsQuery {
    pub window: Duration,
    /// Default: window / 120, at least 1 s.
    pub step: Option<Duration>,
    /// Restrict per-database series to this `datname`.
    pub database: Option<String>,
}

/// Parses `90s`, `15m`, `1h`, `2d` (a plain number is seconds).
pub fn parse_window(s: &str) -> Result<Duration> {
    let t = s.trim();
    let bad = || {
        Error::invalid(
            "window",
            format!("`{s}` is not a duration: give e.g. 90s, 15m, 1h or 2d"),
        )
    };
    let (num, mult) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1),
        Some((i, 'm')) => (&t[..i], 60),
        Some((i, 'h')) => (&t[..i], 3600),
        Some((i, 'd')) => (&t[..i], 86400),
        Some(_) => (t, 1),
        None => return Err(bad()),
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    if n == 0 || n > 400 * 86400 / mult {
        return Err(bad());
    }
    Ok(Duration::from_secs(n * mult))
}

/// A client of one Prometheus server.
pub struct Prometheus {
    base: url::Url,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct ApiData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<ApiSeries>,
}

#[derive(Deserialize)]
struct ApiSeries {
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

impl Prometheus {
    /// A client for `url` (e.g. `http://127.0.0.1:9090`, or with a path prefix).
    pub fn new(url: &str) -> Result<Self> {
        let mut base = url::Url::parse(url.trim()).map_err(|e| {
            Error::invalid(
                "prometheus",
                format!("`{url}` is not a URL ({e}); give e.g. http://127.0.0.1:9090"),
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::invalid(
                "prometheus",
                format!("`{url}` must start with http:// or https://"),
            ));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| {
                Error::service("Prometheus", format!("cannot build the HTTP client: {e}"))
            })?;
        Ok(Prometheus { base, http })
    }

    fn shown(&self) -> String {
        let mut u = self.base.clone();
        let _ = u.set_password(None);
        u.to_string()
    }

    /// Runs one range query and returns its series.
    pub async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<(BTreeMap<String, String>, Vec<Point>)>> {
        let url = self
            .base
            .join("api/v1/query_range")
            .map_err(|e| Error::invalid("prometheus", e.to_string()))?;
        let unreachable = |e: String| {
            Error::service(
                "Prometheus",
                format!(
                    "cannot query {}: {e}. Check the Prometheus URL and that Prometheus is running",
                    self.shown()
                ),
            )
        };
        let resp = self
            .http
            .get(url)
            .query(&[
                ("query", promql.to_owned()),
                ("start", format!("{start:.3}")),
                ("end", format!("{end:.3}")),
                ("step", format!("{step:.3}")),
            ])
            .send()
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        let code = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        let parsed: ApiResponse = serde_json::from_str(&body).map_err(|_| {
            unreachable(format!(
                "HTTP {code}, not a Prometheus API answer: {}",
                body.chars().take(200).collect::<String>()
            ))
        })?;
        if parsed.status != "success" {
            return Err(Error::invalid(
                "prometheus query",
                format!(
                    "Prometheus refused `{promql}`: {} ({})",
                    parsed.error.unwrap_or_default(),
                    parsed.error_type.unwrap_or_default()
                ),
            ));
        }
        let data = parsed
            .data
            .ok_or_else(|| unreachable("the answer has no data".into()))?;
        if data.result_type != "matrix" {
            return Err(unreachable(format!(
                "expected a matrix, got {}",
                data.result_type
            )));
        }
        Ok(data
            .result
            .into_iter()
            .map(|s| {
                let points = s
                    .values
                    .into_iter()
                    .filter_map(|(t, v)| {
                        v.parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite())
                            .map(|v| Point { t, v })
                    })
                    .collect();
                (s.metric, points)
            })
            .collect())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// One series definition of a chart.
struct Def {
    name: &'static str,
    /// Label whose value names each series (`state`), if any.
    by: Option<&'static str>,
    promql: String,
    missing: &'static str,
}

const DEFAULT_METRICS: &str = "postgres_exporter's default metrics (absent when it runs with \
    --disable-default-metrics; check that Prometheus scrapes the exporter)";

fn definitions(
    db_filter: &str,
    rate: &str,
) -> Vec<(&'static str, &'static str, &'static str, Vec<Def>)> {
    vec![
        (
            "up",
            "PostgreSQL up (postgres_exporter)",
            "bool",
            vec![Def {
                name: "pg_up",
                by: None,
                promql: "max(pg_up)".into(),
                missing: "pg_up is exported by postgres_exporter itself: Prometheus does not \
                          scrape the exporter (add it to scrape_configs) or the exporter is down",
            }],
        ),
        (
            "connections",
            "Connections by state",
            "connections",
            vec![Def {
                name: "connections",
                by: Some("state"),
                promql: format!("sum by (state) (pg_stat_activity_count{db_filter})"),
                missing: DEFAULT_METRICS,
            },
            Def {
                name: "app active (database_connections_active)",
                by: None,
                promql: "sum(database_connections_active)".into(),
                missing: "database_connections_active is the NCY_8 application's own prom-client \
                          gauge, not postgres_exporter's: scrape the application's /metrics",
            }],
        ),
        (
            "tps",
            "Transactions per second",
            "tx/s",
            vec![
                Def {
                    name: "commits",
                    by: None,
                    promql: format!("sum(rate(pg_stat_database_xact_commit{db_filter}[{rate}]))"),
                    missing: "postgres_exporter's database collector (pg_stat_database, on by \
                              default; --no-collector.database or --disable-default-metrics turn it off)",
                },
                Def {
                    name: "rollbacks",
                    by: None,
                    promql: format!("sum(rate(pg_stat_database_xact_rollback{db_filter}[{rate}]))"),
                    missing: "postgres_exporter's database collector (pg_stat_database, on by \
                              default; --no-collector.database or --disable-default-metrics turn it off)",
                },
            ],
        ),
        (
            "query_duration",
            "Query duration",
            "s",
            vec![
                Def {
                    name: "mean statement time",
                    by: None,
                    promql: format!(
                        "(sum(rate(pg_stat_statements_total_exec_time_seconds{db_filter}[{rate}])) \
                          / sum(rate(pg_stat_statements_calls{db_filter}[{rate}]))) \
                         or (sum(rate(pg_stat_statements_seconds_total{db_filter}[{rate}])) \
                          / sum(rate(pg_stat_statements_calls_total{db_filter}[{rate}])))"
                    ),
                    missing: "pg_stat_statements metrics: run postgres_exporter with \
                              --extend.query-path=crates/health/exporter/queries.yaml (0.11) or \
                              --collector.stat_statements (0.12+), with the extension created in the database",
                },
                Def {
                    name: "longest transaction",
                    by: None,
                    promql: format!("max(pg_stat_activity_max_tx_duration{db_filter})"),
                    missing: DEFAULT_METRICS,
                },
                Def {
                    name: "app p95 (database_query_duration_seconds)",
                    by: None,
                    promql: format!(
                        "histogram_quantile(0.95, sum by (le) (rate(database_query_duration_seconds_bucket[{rate}])))"
                    ),
                    missing: "database_query_duration_seconds is the NCY_8 application's own \
                              prom-client histogram, not postgres_exporter's: scrape the application's /metrics",
                },
            ],
        ),
    ]
}

/// Reads the charts of `q.window` ending now (`health.read`).
pub async fn metrics(op: &Operator, prometheus_url: &str, q: &MetricsQuery) -> Result<Metrics> {
    op.require(perm::HEALTH_READ)?;
    let prom = Prometheus::new(prometheus_url)?;
    let end = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let window = q.window.as_secs_f64();
    let step = q
        .step
        .map(|s| s.as_secs_f64())
        .unwrap_or(window / 120.0)
        .max(1.0);
    let start = end - window;
    // A rate needs at least two scrapes inside its range: never shorter than 1 min.
    let rate = format!("{}s", ((step * 4.0).max(60.0)).round() as u64);
    let db_filter = match &q.database {
        Some(d) => {
            if d.contains(['"', '\\', '\n']) {
                return Err(Error::invalid(
                    "database",
                    "a database name without quotes or backslashes",
                ));
            }
            format!("{{datname=\"{d}\"}}")
        }
        None => String::new(),
    };
    let mut charts = Vec::new();
    let mut findings = Vec::new();
    for (key, title, unit, defs) in definitions(&db_filter, &rate) {
        let mut chart = Chart {
            key: key.into(),
            title: title.into(),
            unit: unit.into(),
            queries: defs.iter().map(|d| d.promql.clone()).collect(),
            series: vec![],
            missing: vec![],
        };
        for d in defs {
            let got = prom.query_range(&d.promql, start, end, step).await?;
            if got.iter().all(|(_, p)| p.is_empty()) {
                chart
                    .missing
                    .push(format!("{}: no data; {}", d.name, d.missing));
                continue;
            }
            for (labels, points) in got {
                let name = match d.by.and_then(|l| labels.get(l)) {
                    Some(v) => v.clone(),
                    None => d.name.to_owned(),
                };
                chart.series.push(Series {
                    name,
                    labels,
                    points,
                });
            }
        }
        if key == "up" {
            if let Some(v) = chart.series.first().and_then(Series::last) {
                if v < 1.0 {
                    findings.push(Finding::new(
                        Severity::Critical,
                        "prometheus",
                        "postgres_exporter cannot reach PostgreSQL (pg_up = 0)",
                        "check the exporter's DATA_SOURCE_NAME and the server; the exporter's log names the error",
                    ));
                }
            }
        }
        charts.push(chart);
    }
    Ok(Metrics {
        prometheus: prom.shown(),
        start,
        end,
        step_seconds: step,
        charts,
        findings,
    })
}

/// A one-line sparkline of values (`▁▂▃▅▇`), `width` characters at most.
pub fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    // Down-sample by averaging buckets.
    let n = values.len().min(width);
    let vals: Vec<f64> = (0..n)
        .map(|i| {
            let a = i * values.len() / n;
            let b = ((i + 1) * values.len() / n).max(a + 1);
            values[a..b].iter().sum::<f64>() / (b - a) as f64
        })
        .collect();
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    vals.iter()
        .map(|v| {
            if (hi - lo).abs() < f64::EPSILON {
                BARS[if hi.abs() > f64::EPSILON { 3 } else { 0 }]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_reject() {
        assert_eq!(parse_window("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_window("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_window("90").unwrap(), Duration::from_secs(90));
        assert!(parse_window("0s").is_err());
        assert!(parse_window("abc").is_err());
        assert!(parse_window("").is_err());
    }

    #[test]
    fn sparklines_scale_between_min_and_max() {
        assert_eq!(sparkline(&[0.0, 7.0], 10), "▁█");
        assert_eq!(sparkline(&[1.0, 2.0, 3.0, 4.0], 2).chars().count(), 2);
        assert_eq!(sparkline(&[], 10), "");
    }

    #[test]
    fn bad_urls_are_refused_with_the_fix() {
        let e = Prometheus::new("localhost:9090")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("http://"), "{e}");
        assert!(Prometheus::new("not a url").is_err());
    }
}
