//! Finding `pg_dump` / `pg_restore` able to handle the server: first
//! `/usr/lib/postgresql/<server major>/bin`, then `$PATH`, then any newer installed version.
//! A client older than the server cannot dump it, so that case is refused with the package to
//! install. Also reading a running tool's stderr.

use std::path::{Path, PathBuf};

use ncy_core::{Error, Result};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::ChildStderr;

/// A located client program and its version.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Tool {
    pub path: PathBuf,
    pub major: u32,
    pub version: String,
}

/// Parses `pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)` → ("15.8", 15).
pub fn parse_version(out: &str) -> Option<(String, u32)> {
    let rest = out.split("(PostgreSQL)").nth(1)?.trim_start();
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((version, major))
}

/// The PostgreSQL major version from `server_version_num` (150008 → 15).
pub fn server_major(version_num: i64) -> u32 {
    (version_num / 10_000).max(0) as u32
}

fn version_of(path: &Path) -> Option<(String, u32)> {
    let out = std::process::Command::new(path)
        .arg("--version")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

/// The directories searched, in order, for a server of major version `major`.
pub fn search_dirs(major: u32) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for var in ["PG_BIN_DIR", "NCY_PG_BIN"] {
        if let Some(d) = std::env::var_os(var).filter(|d| !d.is_empty()) {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs.push(PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    // Newer installed clients can dump older servers.
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut newer: Vec<(u32, PathBuf)> = rd
            .flatten()
            .filter_map(|e| {
                let v: u32 = e.file_name().to_str()?.parse().ok()?;
                (v > major).then(|| (v, e.path().join("bin")))
            })
            .collect();
        newer.sort_by_key(|v| std::cmp::Reverse(v.0));
        dirs.extend(newer.into_iter().map(|(_, p)| p));
    }
    dirs
}

/// Finds `name` for a server of major version `major` in `dirs`; the first program whose
/// major version is at least the server's wins.
pub fn locate_in(name: &str, major: u32, dirs: &[PathBuf]) -> Result<Tool> {
    let mut too_old: Option<Tool> = None;
    for d in dirs {
        let p = d.join(name);
        if !p.is_file() {
            continue;
        }
        let Some((version, m)) = version_of(&p) else {
            continue;
        };
        let tool = Tool {
            path: p,
            major: m,
            version,
        };
        if m >= major {
            return Ok(tool);
        }
        too_old.get_or_insert(tool);
    }
    let fix = install_hint(name, major);
    Err(match too_old {
        Some(t) => Error::Config(format!(
            "{name} {} ({}) is older than the PostgreSQL {major} server and cannot back it up: {fix}",
            t.version,
            t.path.display()
        )),
        None => Error::Config(format!(
            "{name} not found (looked in PG_BIN_DIR, /usr/lib/postgresql/{major}/bin and PATH): {fix}"
        )),
    })
}

/// How to get a client of version `major`: Debian 12 packages PostgreSQL 15 only, newer clients
/// come from PostgreSQL's own apt repository.
fn install_hint(name: &str, major: u32) -> String {
    let pkg = format!("postgresql-client-{major}");
    let apt = if major <= 15 {
        format!("install the Debian package {pkg} (`apt-get install {pkg}`)")
    } else {
        format!(
            "install {pkg} from PostgreSQL's apt repository (https://apt.postgresql.org: add its \
             source for your release, then `apt-get install {pkg}`; Debian 12 itself packages \
             only 15)"
        )
    };
    format!("{apt}, or set PG_BIN_DIR to a directory holding {name} {major} or newer")
}

/// Finds `name` (`pg_dump`, `pg_restore`) for a server of major version `major`.
pub fn locate(name: &str, major: u32) -> Result<Tool> {
    locate_in(name, major, &search_dirs(major))
}

/// Reads a tool's stderr: counts lines containing `marker` (one per table) through `on_table`
/// and keeps the lines that are not progress chatter (errors, warnings) for the report.
pub(crate) async fn read_stderr(
    stderr: ChildStderr,
    tool: &str,
    marker: &str,
    on_table: impl Fn(u64),
) -> Vec<String> {
    let mut lines = BufReader::new(stderr).lines();
    let mut kept = Vec::new();
    let mut tables = 0u64;
    let prefix = format!("{tool}: ");
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains(marker) {
            tables += 1;
            on_table(tables);
            continue;
        }
        let rest = line.strip_prefix(&prefix).unwrap_or(&line);
        let noteworthy = !line.starts_with(&prefix)
            || ["error:", "warning:", "detail:", "hint:", "fatal:"]
                .iter()
                .any(|k| rest.starts_with(k));
        if noteworthy {
            if kept.len() >= 20 {
                kept.remove(0);
            }
            kept.push(line);
        }
    }
    kept
}

/// The error of a tool that could not be started.
pub(crate) fn spawn_error(tool: &Tool, e: std::io::Error) -> Error {
    Error::io(format!("starting {}", tool.path.display()), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)\n"),
            Some(("15.8".into(), 15))
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 17beta1"),
            Some(("17beta1".into(), 17))
        );
        assert_eq!(parse_version("bash 5"), None);
        assert_eq!(server_major(150_008), 15);
    }

    #[test]
    fn missing_tool_names_the_package() {
        let e = locate_in("pg_dump", 15, &[PathBuf::from("/nonexistent")]).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("pg_dump not found"), "{m}");
        assert!(m.contains("postgresql-client-15"), "{m}");
    }

    #[test]
    fn older_tool_is_refused_and_matching_one_found() {
        let dirs = search_dirs(15);
        let found = locate_in("pg_dump", 15, &dirs).expect("pg_dump 15+ installed");
        assert!(found.major >= 15);
        // Pretend the server is one major newer than every installed client.
        let e = locate_in("pg_dump", 99, &dirs).unwrap_err().to_string();
        assert!(e.contains("is older than the PostgreSQL 99 server"), "{e}");
        assert!(e.contains("postgresql-client-99"), "{e}");
    }
}
