//! A write failing in the middle of a backup (the file-size limit of this process, the cheap
//! stand-in for a full disk that also fails `write(2)` part-way) leaves no file behind and
//! records no snapshot. ENOSPC itself is mapped to the disk-full error in a unit test
//! (`stream::tests::disk_full_is_reported_as_such`, writing into /dev/full).
//! Alone in its test binary: the limit applies to the whole process.

#![allow(clippy::useless_vec)]

use ncy_backup::{Backups, CreateOptions, Work};
use ncy_core::auth::{login, Client, LockoutPolicy};
use ncy_core::seed::{self, SyntheticSpec};

fn limit_file_size(bytes: u64) {
    // SAFETY: plain libc calls with valid arguments; SIGXFSZ ignored so that the write fails
    // with EFBIG instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: bytes as libc::rlim_t,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_failing_mid_backup_leaves_no_file_and_no_row() {
    // The cluster and the database exist before the limit is set.
    let (db, url) = ncy_tests::fresh_pg().await;
    seed::dev(&db, false).await.unwrap();
    seed::synthetic(
        &db,
        SyntheticSpec {
            users: 200,
            orgs: 4,
            tasks: 2000,
            audit: 0,
            seed: 5,
        },
        true,
    )
    .await
    .unwrap();
    let admin = login(
        &db,
        "admin@ncy-8.com",
        "admin123",
        Client::Cli,
        &LockoutPolicy::default(),
    )
    .await
    .unwrap()
    .operator;
    let dir = tempfile::tempdir().unwrap();
    let b = Backups::postgres(db.clone(), &url)
        .unwrap()
        .with_dir(dir.path());
    let opts = CreateOptions {
        dir: dir.path().into(),
        compression: 0,
        ..CreateOptions::new(dir.path())
    };

    limit_file_size(64 * 1024);
    let r = b.create(&admin, &opts, Work::none()).await;
    limit_file_size(u64::MAX);

    let e = r.expect_err("the dump is larger than 64 KiB");
    assert!(e.to_string().contains("writing"), "{e}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial file"
    );
    let rows = db
        .query(r#"SELECT count(*) AS n FROM "BackupSnapshot""#, &[])
        .await
        .unwrap()[0]
        .int("n")
        .unwrap();
    assert_eq!(rows, 0, "no snapshot row");
    // And with room again, the same backup works.
    let s = b.create(&admin, &opts, Work::none()).await.unwrap();
    assert!(s.size > 64 * 1024);
}
