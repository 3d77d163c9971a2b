//! Extensions in a dump that the restoring role cannot create. On a managed PostgreSQL the
//! application is the database owner, not a superuser, and the provider created extensions
//! such as `pg_stat_statements` that only a superuser may create: a plain `pg_restore` stops
//! at `permission denied to create extension`. Each extension in the archive is tried first
//! in the empty target (inside a rolled-back transaction); those refused are left out of the
//! restore through a `--use-list` file and reported, everything else is restored as usual.

use std::process::Stdio;

use ncy_core::{Error, Result};
use serde::Serialize;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::counts::sql_err;
use crate::crypt::{self, Archive};
use crate::pgconn::PgConn;
use crate::stream::Partial;
use crate::tools::Tool;

/// An extension of the backup left out of a restore, and why.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SkippedExtension {
    pub name: String,
    /// The server's refusal (e.g. `permission denied to create extension ...`).
    pub reason: String,
}

/// `pg_restore --list`: the archive's table of contents, one entry per line (comments
/// starting with `;` included, as pg_restore prints them).
pub(crate) async fn toc(tool: &Tool, conn: &PgConn, archive: &Archive<'_>) -> Result<Vec<String>> {
    let path = archive.path;
    let mut cmd = Command::new(&tool.path);
    cmd.arg("--list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let input = archive.attach(&mut cmd).await?;
    conn.apply(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("starting {}", tool.path.display()), e))?;
    let stdin = child.stdin.take();
    let (out, fed) = tokio::join!(child.wait_with_output(), crypt::feed(input, stdin, path));
    let out = out.map_err(|e| Error::io(format!("running {}", tool.path.display()), e))?;
    fed?;
    if !out.status.success() {
        return Err(Error::invalid(
            "backup",
            format!(
                "pg_restore cannot read {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The number of entries (not comments) in a table of contents.
pub(crate) fn entries(toc: &[String]) -> u64 {
    toc.iter()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
        .count() as u64
}

/// The extension a TOC line creates (`EXTENSION - name`) or comments on
/// (`COMMENT - EXTENSION name`), if any.
fn extension_of(line: &str) -> Option<(&str, bool)> {
    let (_, rest) = line.split_once("; ")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    match f.as_slice() {
        [_, _, "EXTENSION", "-", name, ..] => Some((name, true)),
        [_, _, "COMMENT", "-", "EXTENSION", name, ..] => Some((name, false)),
        _ => None,
    }
}

/// What to leave out of a restore into `target`: a list file for `--use-list` (kept until
/// dropped) when some extension cannot be created there, and those extensions.
pub(crate) struct Plan {
    pub skipped: Vec<SkippedExtension>,
    pub list: Option<Partial>,
}

/// Tries each extension of `toc` in the empty database `target` as the restoring role.
pub(crate) async fn plan(pool: &PgPool, target: &str, toc: &[String]) -> Result<Plan> {
    let mut names: Vec<String> = vec![];
    for line in toc.iter().filter(|l| !l.starts_with(';')) {
        if let Some((name, true)) = extension_of(line) {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    if names.is_empty() {
        return Ok(Plan {
            skipped: vec![],
            list: None,
        });
    }
    let opts = (*pool.connect_options()).clone().database(target);
    let mut c = PgConnection::connect_with(&opts).await.map_err(sql_err)?;
    let mut skipped = vec![];
    for name in names {
        let sql = format!(
            "CREATE EXTENSION IF NOT EXISTS \"{}\"",
            name.replace('"', "\"\"")
        );
        // Tried, never kept: pg_restore creates it (in its schema) when it can.
        sqlx::query("BEGIN")
            .execute(&mut c)
            .await
            .map_err(sql_err)?;
        let tried = sqlx::query(&sql).execute(&mut c).await.map(|_| ());
        sqlx::query("ROLLBACK")
            .execute(&mut c)
            .await
            .map_err(sql_err)?;
        if let Err(e) = tried {
            skipped.push(SkippedExtension {
                name,
                reason: sql_err(e).to_string(),
            });
        }
    }
    let _ = c.close().await;
    if skipped.is_empty() {
        return Ok(Plan {
            skipped,
            list: None,
        });
    }
    let mut body = String::new();
    for line in toc {
        let skip = extension_of(line).is_some_and(|(n, _)| skipped.iter().any(|s| s.name == n));
        if skip {
            body.push(';');
        }
        body.push_str(line);
        body.push('\n');
    }
    let (partial, mut file) = Partial::create(&std::env::temp_dir(), "ncy-restore-list").await?;
    let what = format!("writing {}", partial.path.display());
    file.write_all(body.as_bytes())
        .await
        .map_err(|e| Error::io(what.clone(), e))?;
    file.flush().await.map_err(|e| Error::io(what, e))?;
    Ok(Plan {
        skipped,
        list: Some(partial),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_entries_are_recognised() {
        assert_eq!(
            extension_of("215; 3079 16385 EXTENSION - pg_stat_statements "),
            Some(("pg_stat_statements", true))
        );
        assert_eq!(
            extension_of("4012; 0 0 COMMENT - EXTENSION pg_stat_statements "),
            Some(("pg_stat_statements", false))
        );
        assert_eq!(
            extension_of("220; 1259 16390 TABLE public User ncy_owner"),
            None
        );
        assert_eq!(extension_of(";     Dump Version: 1.14-0"), None);
        let toc = vec![
            "; Archive created".to_string(),
            "215; 3079 16385 EXTENSION - x ".to_string(),
            "220; 1259 16390 TABLE public User o".to_string(),
        ];
        assert_eq!(entries(&toc), 2);
    }
}
