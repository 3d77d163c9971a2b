//! `sync run --watch` wakes on a server change (LISTEN ncy_sync, migration 0021): with an
//! interval of an hour, a task created on the server after the first round still reaches the
//! cache, which only the notification can bring.

use std::io::BufRead;

use ncy_tests::cli::Cli;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_change_wakes_the_watching_cache() {
    let (db, url) = ncy_tests::fresh_pg().await;
    let _ops = ncy_tests::operators(&db).await;
    let cli = Cli::new(vec!["--database-url".into(), url.clone()]);
    cli.login("admin@ncy-8.com", "admin123");
    let init = cli.json(&["sync", "init", "--org", "test-org"]);
    let tasks = |v: &serde_json::Value| v["rows"]["Task"].as_i64().unwrap_or(-1);
    let before = tasks(&init["status"]);
    assert!(before > 0, "{init}");

    let mut watch = cli
        .command(&["sync", "run", "--watch", "--interval", "3600"])
        .spawn()
        .expect("sync run --watch");
    let stderr = watch.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The first round is done and the loop listens: it said so.
    let announced = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(l) if l.starts_with("watching:") => break l,
            Ok(_) => continue,
            Err(e) => panic!("the watch loop never said it was watching: {e}"),
        }
    };
    assert!(announced.contains("LISTEN ncy_sync"), "{announced}");

    ncy_tests::add_seeded_task(&db, "wakes the watcher").await;

    // The watcher pulls it long before its hour: wait on the cache's own state.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut now_cached = before;
    while std::time::Instant::now() < deadline {
        let st = cli.json(&["sync", "status"]);
        now_cached = tasks(&st);
        if now_cached == before + 1 {
            break;
        }
        // Each status call is a process start and a cache read; the loop is paced by them.
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(now_cached, before + 1, "the notification woke the watcher");
}
