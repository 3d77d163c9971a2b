#!/usr/bin/env bash
# `make test`: lint checks (rustfmt, clippy -D warnings), every Rust test against a throwaway PostgreSQL cluster and real
# SQLite files, UI unit tests, and the end-to-end tests in a real Tauri window. Everything runs
# inside a private D-Bus session with an unlocked gnome-keyring, so the OS keychain used by the
# CLI, the desktop app and the offline cache is a real Secret Service, not a stub.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -n "${NCY_IN_KEYRING_SESSION:-}" ] || exec scripts/with-keyring.sh "$0" "$@"

# Each phase says how long it took, so a slow CI run shows where its time went.
phase_start=$SECONDS phase_name=""
phase() {
  [ -n "$phase_name" ] && echo "test: $phase_name took $((SECONDS - phase_start)) s"
  phase_name=$1 phase_start=$SECONDS
}

phase "lint"
python3 migrations/tools/pg2sqlite.py --check
cargo fmt --all -- --check

phase "ui build"
# The desktop shell embeds the built UI (tauri's frontendDist): build it before compiling.
if [ -f ui/package.json ]; then
  scripts/ui-build.sh
fi
phase "build"
cargo build --workspace --all-targets --quiet
phase "clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
phase "bindings"
# The UI's TypeScript types are generated from the Rust types (ts-rs): they must be current.
if [ -x ui/gen-bindings.sh ]; then
  bindings=$(mktemp -d -t ncy-bindings.XXXXXX)
  ui/gen-bindings.sh "$bindings" >/dev/null
  if ! diff -r "$bindings" ui/src/lib/bindings; then
    echo "test: ui/src/lib/bindings is out of date with the Rust types: run ui/gen-bindings.sh"
    exit 1
  fi
  rm -rf "$bindings"
fi

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# One throwaway cluster for the whole run (tests create a fresh database each).
if [ -z "${NCY_TEST_DATABASE_URL:-}" ]; then
  read -r url dir < <("$target_dir/debug/ncy-test-cluster" start)
  port=${url##*:}; port=${port%%/*}
  trap '"$target_dir/debug/ncy-test-cluster" stop "$dir" "$port"' EXIT
  export NCY_TEST_DATABASE_URL="$url"
  echo "test: PostgreSQL cluster on port $port"
fi

phase "rust tests (PostgreSQL 15)"
scripts/cargo-test.sh --workspace
# The newest PostgreSQL too (the suite above ran on Debian's 15; `make test-matrix` adds 16, 17).
# It runs beside the UI checks and the end-to-end tests, which mostly wait on a window: its
# output is shown when both are done.
pg18_log=$(mktemp -t ncy-pg18.XXXXXX)
pg18_start=$SECONDS
scripts/test-pg.sh 18 >"$pg18_log" 2>&1 &
pg18=$!
trap 'kill "$pg18" 2>/dev/null || true' INT TERM

rc=0
phase "ui checks"
if [ -f ui/package.json ]; then
  (cd ui && npm run check --silent && npm test --silent) || rc=$?
fi
phase "e2e"
if [ $rc -eq 0 ] && [ -x scripts/e2e.sh ]; then
  scripts/e2e.sh || rc=$?
fi
phase ""
pg18_rc=0
wait "$pg18" || pg18_rc=$?
echo "test: rust tests (PostgreSQL 18), beside the above, took $((SECONDS - pg18_start)) s:"
cat "$pg18_log"
rm -f "$pg18_log"
[ "$pg18_rc" -eq 0 ] || echo "test: the suite on PostgreSQL 18 failed (exit $pg18_rc)"
[ "$rc" -eq 0 ] && [ "$pg18_rc" -eq 0 ]
