//! PostgreSQL backups: pg_dump inside an exported snapshot, restore into a new database (the
//! verification by test restore is in [`crate::pg_verify`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ncy_core::audit::{self, Entry};
use ncy_core::auth::Operator;
use ncy_core::db::{now, Db};
use ncy_core::{Error, Result};
use serde_json::json;
use sqlx::{Connection as _, PgConnection, PgPool, Row as _};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::process::Command;

use crate::counts::{self, sql_err};
use crate::crypt::{self, Archive, Keys};
use crate::extensions::{self, SkippedExtension};
use crate::pgconn::PgConn;
use crate::snapshot::{self, NewSnapshot, Snapshot};
use crate::stream::{copy_hashing, sha256_file, Partial};
use crate::tables;
use crate::tools::{self, read_stderr, spawn_error, Tool};
use crate::{file_name, CreateOptions, RestoreOptions, RestoreReport, Work};

/// What the server says about itself.
pub(crate) struct ServerInfo {
    database: String,
    version: String,
    pub(crate) major: u32,
}

async fn server_info(conn: &mut PgConnection) -> Result<ServerInfo> {
    let r = sqlx::query(
        "SELECT current_database()::text AS db, current_setting('server_version') AS v,
                current_setting('server_version_num')::bigint AS n",
    )
    .fetch_one(conn)
    .await
    .map_err(sql_err)?;
    Ok(ServerInfo {
        database: r.try_get("db").map_err(sql_err)?,
        version: r.try_get("v").map_err(sql_err)?,
        major: tools::server_major(r.try_get("n").map_err(sql_err)?),
    })
}

pub(crate) async fn pool_server_info(pool: &PgPool) -> Result<ServerInfo> {
    let mut c = pool.acquire().await.map_err(sql_err)?;
    server_info(&mut c).await
}

/// Turns a failed tool run into one error that says what to do.
fn tool_error(
    tool: &str,
    conn: &PgConn,
    lines: &[String],
    status: std::process::ExitStatus,
) -> Error {
    let text = if lines.is_empty() {
        format!("{tool} exited with {status}")
    } else {
        lines.join(" | ")
    };
    let has = |k: &str| text.to_lowercase().contains(k);
    if has("password authentication failed") || has("no password supplied") {
        Error::DatabaseAuth {
            target: conn.describe(),
            reason: text,
            source: None,
        }
    } else if has("could not connect") || has("connection refused") {
        Error::ServerUnreachable {
            target: conn.describe(),
            reason: text,
            source: None,
        }
    } else if has("server version mismatch") {
        Error::Config(format!(
            "{tool} is older than the server: {text}. Install the Debian package postgresql-client-<server major>"
        ))
    } else if has("permission denied") || has("must be owner") {
        let fix = if tool == "pg_dump" {
            "the connecting database user needs read access to every table: connect as the database owner, or grant it pg_read_all_data"
        } else {
            "restore as the owner of the objects, or restore without ownership and privileges"
        };
        Error::db(format!(
            "{tool} was refused by the server: {text}. Fix: {fix}"
        ))
    } else {
        Error::db(format!("{tool} failed: {text}"))
    }
}

/// Runs pg_dump in the snapshot of an open REPEATABLE READ transaction and counts every
/// table's rows in that same snapshot while the dump streams into the file.
pub(crate) async fn create(
    db: &Db,
    pool: &PgPool,
    conn: &PgConn,
    op: &Operator,
    opts: &CreateOptions,
    hooks: Work<'_>,
) -> Result<Snapshot> {
    if opts.compression > 9 {
        return Err(Error::invalid(
            "compress",
            format!(
                "{} is not a pg_dump compression level; use 0 (none) to 9 (smallest)",
                opts.compression
            ),
        ));
    }
    let recipient = opts.recipient()?;
    hooks.check()?;
    let started = Instant::now();
    let created_at = now();
    let mut tx = pool.begin().await.map_err(sql_err)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(sql_err)?;
    require_reads_everything(&mut tx).await?;
    let info = server_info(&mut tx).await?;
    let tool = tools::locate("pg_dump", info.major)?;
    let exported: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await
        .map_err(sql_err)?;
    let tables = counts::pg_tables(&mut tx).await?;
    let total = tables.len() as u64;
    hooks.report_bytes("dump", 0, total, 0);

    let name = file_name(
        created_at,
        if recipient.is_some() {
            "dump.age"
        } else {
            "dump"
        },
    );
    let (partial, mut file) = Partial::create(&opts.dir, &name).await?;
    let mut cmd = Command::new(&tool.path);
    cmd.arg("--format=custom")
        .arg(format!("--compress={}", opts.compression))
        .arg(format!("--snapshot={exported}"))
        .arg("--verbose")
        .arg("--no-password")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    conn.apply(&mut cmd);
    let mut child = cmd.spawn().map_err(|e| spawn_error(&tool, e))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Error::db("pg_dump started without its output pipes"));
    };

    let dumped = AtomicU64::new(0);
    let written = AtomicU64::new(0);
    let write_what = format!("writing {}", partial.path.display());
    // Encrypted: the dump goes through age into the file, and the checksum is the file's.
    let (mut out, sealed): (Box<dyn AsyncWrite + Unpin + Send + '_>, _) = match &recipient {
        Some(r) => {
            let (w, digest) = crypt::seal(&mut file, r).await?;
            (Box::new(w), Some(digest))
        }
        None => (Box::new(&mut file), None),
    };
    let copy = copy_hashing(
        stdout,
        &mut out,
        "reading pg_dump's output",
        &write_what,
        |b| {
            hooks.check()?;
            written.store(b, Ordering::Relaxed);
            hooks.report_bytes("dump", dumped.load(Ordering::Relaxed), total, b);
            Ok(())
        },
    );
    let errs = read_stderr(stderr, "pg_dump", "dumping contents of table", |n| {
        dumped.store(n, Ordering::Relaxed);
        hooks.report_bytes("dump", n, total, written.load(Ordering::Relaxed));
    });
    let counting = counts::pg_counts(&mut tx, &tables);
    let (copied, lines, counted) = tokio::join!(copy, errs, counting);
    if copied.is_err() {
        let _ = child.start_kill();
    }
    let status = child
        .wait()
        .await
        .map_err(|e| Error::io("waiting for pg_dump", e))?;
    let (mut size, mut sha) = copied?;
    if !status.success() {
        return Err(tool_error("pg_dump", conn, &lines, status));
    }
    // Writes the last encrypted chunk.
    out.shutdown()
        .await
        .map_err(|e| Error::io(write_what.clone(), e))?;
    drop(out);
    if let Some(d) = sealed {
        (size, sha) = d.finish();
    }
    let table_counts = counted?;
    file.sync_all()
        .await
        .map_err(|e| Error::io(write_what.clone(), e))?;
    drop(file);
    // Read-only: ending it releases the exported snapshot.
    let _ = tx.rollback().await;
    hooks.check()?;
    let duration_ms = started.elapsed().as_millis() as i64;
    let published = partial.publish(&name)?;
    let path = std::fs::canonicalize(&published).unwrap_or(published);
    let recorded = snapshot::insert(
        db,
        op,
        NewSnapshot {
            path: &path,
            size,
            created_at,
            sha256: &sha,
            duration_ms,
            database: &info.database,
            server_version: &info.version,
            format: "custom",
            compression: Some(opts.compression as i64),
            table_counts: &table_counts,
            encrypted_to: recipient.as_ref().map(|r| r.to_string()).as_deref(),
        },
    )
    .await;
    if recorded.is_err() {
        // No file without its record: the backup did not happen.
        let _ = std::fs::remove_file(&path);
    }
    hooks.report_bytes("done", total, total, size);
    recorded
}

fn qi(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(crate) async fn create_database(pool: &PgPool, name: &str) -> Result<()> {
    sqlx::raw_sql(&format!("CREATE DATABASE {} TEMPLATE template0", qi(name)))
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| {
            let m = sql_err(e).to_string();
            if m.contains("permission denied") {
                Error::Privilege {
                    what: format!("create database {name}"),
                    reason: m,
                    fix: "restores and verification need a database user with CREATEDB (`ALTER ROLE <user> CREATEDB`), or the schema owner's connection".into(),
                    source: None,
                }
            } else {
                Error::db(format!("cannot create database {name}: {m}"))
            }
        })
}

pub(crate) async fn drop_database(pool: &PgPool, name: &str) -> Result<()> {
    sqlx::raw_sql(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        qi(name)
    ))
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(sql_err)
}

pub(crate) async fn database_exists(pool: &PgPool, name: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .map_err(sql_err)?;
    Ok(n > 0)
}

/// Whether the pool's login may create databases (CREATEDB or superuser), which a restore and
/// a verification need.
pub(crate) async fn can_create_databases(pool: &PgPool) -> Result<bool> {
    sqlx::query_scalar("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
        .fetch_optional(pool)
        .await
        .map_err(sql_err)
        .map(|v: Option<bool>| v.unwrap_or(false))
}

/// Counts every table of database `name` on the pool's server.
pub(crate) async fn counts_of(pool: &PgPool, name: &str) -> Result<BTreeMap<String, i64>> {
    let opts = (*pool.connect_options()).clone().database(name);
    let mut c = PgConnection::connect_with(&opts).await.map_err(sql_err)?;
    let tables = counts::pg_tables(&mut c).await?;
    let r = counts::pg_counts(&mut c, &tables).await;
    let _ = c.close().await;
    r
}

/// Restores `path` into the existing empty database `target`, leaving out the extensions
/// it cannot create there (returned; see [`extensions`]). `toc` is the archive's listing when
/// the caller has read it already.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pg_restore_into(
    tool: &Tool,
    conn: &PgConn,
    pool: &PgPool,
    target: &str,
    archive: &Archive<'_>,
    toc: Option<&[String]>,
    no_owner: bool,
    tables: u64,
    hooks: Work<'_>,
) -> Result<Vec<SkippedExtension>> {
    let listed = match toc {
        Some(_) => None,
        None => Some(extensions::toc(tool, conn, archive).await?),
    };
    let toc = toc.or(listed.as_deref()).unwrap_or_default();
    let plan = extensions::plan(pool, target, toc).await?;
    let list = plan.list.as_ref().map(|l| l.path.as_path());
    hooks.report_bytes("restore", 0, tables, 0);
    // pg_restore reads a plain archive file with several sessions, but its parallel mode runs
    // a table's triggers, indexes and constraints as soon as what they depend on is there: a
    // trigger of the partitioned AuditLog (cloned to every partition) is then created while a
    // partition's rows are still loading, and fires on them. So the sections run one after
    // another, as a single session runs them (definitions, then every table's rows, then
    // indexes, constraints and triggers), each of the last two with several sessions: one
    // table's rows load while another's do, and indexes build side by side. An age file
    // arrives through a pipe, which pg_restore reads once, with one session.
    let runs = if archive.is_plain_file() {
        let jobs = format!("--jobs={}", restore_jobs());
        vec![
            vec!["--section=pre-data".to_owned()],
            vec!["--section=data".to_owned(), jobs.clone()],
            vec!["--section=post-data".to_owned(), jobs],
        ]
    } else {
        vec![vec![]]
    };
    for args in runs {
        run_pg_restore(
            tool, conn, target, archive, list, no_owner, &args, tables, hooks,
        )
        .await?;
    }
    Ok(plan.skipped)
}

/// One pg_restore of `archive` into `target` with `args` (a section, jobs), reporting each
/// table whose rows start loading; stops it on cancel.
#[allow(clippy::too_many_arguments)]
async fn run_pg_restore(
    tool: &Tool,
    conn: &PgConn,
    target: &str,
    archive: &Archive<'_>,
    list: Option<&Path>,
    no_owner: bool,
    args: &[String],
    tables: u64,
    hooks: Work<'_>,
) -> Result<()> {
    let mut cmd = Command::new(&tool.path);
    // A conninfo string, so that no database name (even one with `=`) is misread.
    let escaped = target.replace('\\', "\\\\").replace('\'', "\\'");
    cmd.arg(format!("--dbname=dbname='{escaped}'"))
        .arg("--exit-on-error")
        .arg("--verbose")
        .arg("--no-password")
        .args(args);
    if no_owner {
        cmd.arg("--no-owner").arg("--no-acl");
    }
    if let Some(list) = list {
        cmd.arg(format!("--use-list={}", list.display()));
    }
    let input = archive.attach(&mut cmd).await?;
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    conn.with_database(target).apply(&mut cmd);
    let mut child = cmd.spawn().map_err(|e| spawn_error(tool, e))?;
    let Some(stderr) = child.stderr.take() else {
        return Err(Error::db("pg_restore started without its error pipe"));
    };
    let stdin = child.stdin.take();
    let (lines, fed) = {
        let reading = async {
            tokio::join!(
                read_stderr(stderr, "pg_restore", "processing data for table", |n| {
                    hooks.report_bytes("restore", n, tables, 0)
                }),
                crypt::feed(input, stdin, archive.path)
            )
        };
        tokio::pin!(reading);
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                lines = &mut reading => break lines,
                _ = tick.tick() => {
                    if hooks.is_cancelled() {
                        let _ = child.start_kill();
                    }
                }
            }
        }
    };
    let status = child
        .wait()
        .await
        .map_err(|e| Error::io("waiting for pg_restore", e))?;
    hooks.check()?;
    fed?;
    if !status.success() {
        return Err(tool_error("pg_restore", conn, &lines, status));
    }
    Ok(())
}

/// Parallel pg_restore sessions for a plain archive file: this machine's cores, from 1 to 4
/// (each is one more connection to the server while the restore runs).
pub(crate) fn restore_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

pub(crate) fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// Drops `into` (when `drop_old`) and renames the restored `tmp` to it. When `into` is the
/// pool's own database, this runs on a connection to the maintenance database `postgres` (a
/// session cannot drop its own database); the pool reconnects afterwards.
async fn swap_in(pool: &PgPool, tmp: &str, into: &str, drop_old: bool, own: bool) -> Result<()> {
    let drop_sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", qi(into));
    let rename_sql = format!("ALTER DATABASE {} RENAME TO {}", qi(tmp), qi(into));
    if !own {
        if drop_old {
            if let Err(e) = drop_database(pool, into).await {
                let _ = drop_database(pool, tmp).await;
                return Err(e);
            }
        }
        return sqlx::raw_sql(&rename_sql)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| {
                Error::db(format!(
                    "the backup was restored into {tmp}, but renaming it to {into} failed: {}; rename it by hand",
                    sql_err(e)
                ))
            });
    }
    let opts = (*pool.connect_options()).clone().database("postgres");
    let mut c = match PgConnection::connect_with(&opts).await {
        Ok(c) => c,
        Err(e) => {
            let _ = drop_database(pool, tmp).await;
            return Err(Error::db(format!(
                "replacing the connected database {into} needs a connection to the maintenance database postgres: {}",
                sql_err(e)
            )));
        }
    };
    if drop_old {
        if let Err(e) = sqlx::query(&drop_sql).execute(&mut c).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", qi(tmp)))
                .execute(&mut c)
                .await;
            let _ = c.close().await;
            return Err(sql_err(e));
        }
    }
    let r = sqlx::query(&rename_sql).execute(&mut c).await;
    let _ = c.close().await;
    r.map(|_| ()).map_err(|e| {
        Error::db(format!(
            "the backup was restored into {tmp} and {into} was dropped, but the rename failed: {}; run ALTER DATABASE \"{tmp}\" RENAME TO \"{into}\"",
            sql_err(e)
        ))
    })
}

fn valid_db_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 63 || name.contains('\0') {
        return Err(Error::invalid(
            "into",
            "a database name of 1 to 63 bytes is needed (e.g. ncy8_restored)",
        ));
    }
    Ok(())
}

/// Restores into a temporary database, renamed to `opts.into` only once complete (replacing
/// an existing database with `force`). The AuditLog row goes to the connected database.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn restore(
    db: &Db,
    pool: &PgPool,
    conn: &PgConn,
    op: &Operator,
    snap: Option<&Snapshot>,
    path: &Path,
    keys: &Keys,
    opts: &RestoreOptions,
    hooks: Work<'_>,
) -> Result<RestoreReport> {
    let into = opts.into.as_str();
    valid_db_name(into)?;
    if !path.is_file() {
        return Err(Error::not_found("backup file", path.display()));
    }
    // Per-table: the tables kept, as `schema.table` (checked before anything is created).
    let keep: Option<Vec<String>> = if opts.tables.is_empty() {
        None
    } else {
        let plan = tables::plan(snap, &opts.tables, into, false, true)?;
        Some(plan.tables.into_iter().map(|t| t.table).collect())
    };
    // Replacing the session's own database: its sessions (ours included) are ended, and the
    // swap runs from the maintenance database.
    let own = into == conn.database();
    let exists = database_exists(pool, into).await?;
    if exists && !opts.force {
        return Err(Error::conflict(
            "restore_into",
            format!("database {into} already exists; it is replaced only when asked to (force), and its current contents are then dropped once the restore has succeeded"),
        ));
    }
    if let Some(expected) = snap.and_then(|s| s.sha256.as_deref()) {
        let (_, sum) = sha256_file(path, "checksum", hooks).await?;
        if sum != expected {
            return Err(Error::conflict(
                "backup",
                format!("{} does not match its recorded checksum (recorded {expected}, file has {sum}): it was altered or corrupted; restore another backup", path.display()),
            ));
        }
    }
    let archive = Archive::open(path, keys, snap.and_then(|s| s.encrypted_to.as_deref())).await?;
    let info = pool_server_info(pool).await?;
    let tool = tools::locate("pg_restore", info.major)?;
    let started = Instant::now();
    let mut base: String = into.chars().take(40).collect();
    while base.len() > 40 {
        base.pop();
    }
    let tmp = format!("{base}_restoring_{}", short_id());
    create_database(pool, &tmp).await?;
    let tables = snap
        .and_then(|s| s.table_counts.as_ref())
        .map(|c| c.len())
        .unwrap_or(0) as u64;
    let restored = async {
        let skipped = pg_restore_into(
            &tool,
            conn,
            pool,
            &tmp,
            &archive,
            None,
            opts.no_owner,
            tables,
            hooks,
        )
        .await?;
        if let Some(keep) = &keep {
            tables::keep_only(pool, &tmp, keep).await?;
        }
        hooks.report_bytes("compare", 0, tables, 0);
        Ok::<_, Error>((counts_of(pool, &tmp).await?, skipped))
    }
    .await;
    let (actual, skipped_extensions) = match restored {
        Ok(a) => a,
        Err(e) => {
            let _ = drop_database(pool, &tmp).await;
            return Err(e);
        }
    };
    swap_in(pool, &tmp, into, exists, own).await?;
    let duration_ms = started.elapsed().as_millis() as i64;
    let mut report = RestoreReport {
        snapshot_id: snap.map(|s| s.id),
        path: path.display().to_string(),
        into: into.to_owned(),
        replaced: exists,
        duration_ms,
        tables: counts::compare(snap.and_then(|s| s.table_counts.as_ref()), &actual),
        skipped_extensions,
    };
    if let Some(keep) = &keep {
        report.tables.retain(|t| keep.contains(&t.table));
    }
    let mut tx = db.begin().await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "BACKUP_RESTORE",
            table: "BackupSnapshot",
            target_id: snap.map(|s| s.id),
            old: None,
            new: Some(json!({
                "path": report.path,
                "into": into,
                "replaced": exists,
                "duration_ms": duration_ms,
                "skipped_extensions": report.skipped_extensions,
                "tables": keep,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    hooks.report_bytes("done", tables, tables, 0);
    Ok(report)
}

/// A dump reads every table whole: a login that may not (an operator's own role, migration
/// 0010, reads secrets by column only) is told so before pg_dump starts, naming the tables,
/// instead of failing midway on whichever table pg_dump or the row counts reach first.
async fn require_reads_everything(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<()> {
    let unreadable: Vec<String> = sqlx::query_scalar(
        r#"SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
              AND NOT has_table_privilege(c.oid, 'SELECT')
            ORDER BY 1"#,
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(sql_err)?;
    if unreadable.is_empty() {
        return Ok(());
    }
    let shown = unreadable
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = match unreadable.len() {
        n if n > 5 => format!(" and {} more", n - 5),
        _ => String::new(),
    };
    Err(Error::Privilege {
        what: "back up the database".into(),
        reason: format!(
            "a backup reads every table whole, and this login cannot read {shown}{more}"
        ),
        fix: "back up with the schema owner's connection, or a role granted pg_read_all_data"
            .into(),
        source: None,
    })
}
