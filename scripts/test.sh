#!/usr/bin/env bash
# `make test`: lint checks (rustfmt, clippy -D warnings), every Rust test against a throwaway PostgreSQL cluster and real
# SQLite files, UI unit tests, and the end-to-end tests in a real Tauri window. Everything runs
# inside a private D-Bus session with an unlocked gnome-keyring, so the OS keychain used by the
# CLI, the desktop app and the offline cache is a real Secret Service, not a stub.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -n "${NCY_IN_KEYRING_SESSION:-}" ] || exec scripts/with-keyring.sh "$0" "$@"

python3 migrations/tools/pg2sqlite.py --check
cargo fmt --all -- --check

# The desktop shell embeds the built UI (tauri's frontendDist): build it before compiling.
if [ -f ui/package.json ]; then
  (cd ui && npm run build --silent >/dev/null)
fi
cargo build --workspace --all-targets --quiet
cargo clippy --workspace --all-targets --quiet -- -D warnings
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

cargo test --workspace --no-fail-fast
# The newest PostgreSQL too (the suite above ran on Debian's 15; `make test-matrix` adds 16, 17).
scripts/test-pg.sh 18

if [ -f ui/package.json ]; then
  (cd ui && npm run check --silent && npm test --silent)
fi
if [ -x scripts/e2e.sh ]; then
  scripts/e2e.sh
fi
