#!/usr/bin/env bash
# `make bench`: starts its own PostgreSQL, generates synthetic data, runs every measure and
# writes a table to stdout and target/bench/results.json. NCY_BENCH_PROFILE=dev skips the
# release build (CI's smoke run proves the harness works; its figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${NCY_BENCH_PROFILE:-release}
if [ "$profile" = release ]; then
  cargo run --release --quiet -p ncy-bench -- "$@"
else
  # The debug binary as `make test` builds it (every target: the same dependency features,
  # so nothing is compiled twice).
  cargo build --quiet --workspace --all-targets
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  "$target_dir/debug/ncy-bench" "$@"
fi
