//! `ncy-admin`: the NCY Admin command line. Parses arguments, calls one core function, renders
//! the result as a table or `--json`, and maps errors to one line on stderr and an exit code.

mod cmd;
mod ctx;
mod exit;
mod job;
mod output;

use clap::Parser;

use ctx::{Ctx, Global};

#[derive(Parser, Debug)]
#[command(
    name = "ncy-admin",
    version,
    about = "Administration client for the NCY_8 platform"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: cmd::Command,
}

/// mimalloc for every allocation of the process: a pull, a seed or an export makes tens of
/// thousands of small short-lived strings, which glibc's allocator served with lock waits and
/// free-list consolidation (BENCHMARKS.md, issue 17).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    exit::quiet_on_closed_stdout();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NCY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::GENERAL);
        }
    };
    let json = cli.global.json;
    let result = rt.block_on(async move {
        let mut ctx = Ctx::new(cli.global);
        let r = cmd::run(&mut ctx, cli.command).await;
        ctx.close().await;
        r
    });
    if let Err(e) = result {
        exit::report(&e, json);
        std::process::exit(exit::code(&e));
    }
}
