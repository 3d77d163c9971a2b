#!/usr/bin/env bash
# `scripts/cargo-test.sh [cargo test args] [-- libtest args]`: the Rust tests, with
# cargo-nextest when it is installed (every test in its own process, tests of all binaries
# side by side: the suite's many short binaries no longer wait on each other), else with
# `cargo test`. Nextest runs no doctests, so they run after it with `cargo test --doc`.
# Settings (threads, slow-test notes): .config/nextest.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NCY_NO_NEXTEST:-}" ] && cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@"
  # Doctests take the package selection only (the part before any `--`).
  sel=()
  for a in "$@"; do [ "$a" = "--" ] && break; sel+=("$a"); done
  cargo test --doc --quiet "${sel[@]}"
else
  cargo test --no-fail-fast "$@"
fi
