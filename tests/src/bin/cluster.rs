//! `ncy-test-cluster start|stop DIR`: one throwaway PostgreSQL for a whole `make test` run.
//! `start` prints the superuser URL on stdout; `stop DIR` stops it and removes DIR.

use ncy_tests::cluster::{Cluster, Options};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("start") => match Cluster::start(Options::default()) {
            Ok(c) => {
                println!("{} {}", c.url("postgres"), c.dir.display());
            }
            Err(e) => {
                eprintln!("ncy-test-cluster: {e}");
                std::process::exit(1);
            }
        },
        Some("stop") if args.len() == 4 => {
            let port: u16 = args[3].parse().unwrap_or(0);
            let c = Cluster {
                dir: args[2].clone().into(),
                port,
                bin: std::path::PathBuf::from(
                    std::env::var("NCY_PG_BIN")
                        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()),
                ),
            };
            c.stop();
        }
        _ => {
            eprintln!("usage: ncy-test-cluster start | stop DIR PORT");
            std::process::exit(2);
        }
    }
}
