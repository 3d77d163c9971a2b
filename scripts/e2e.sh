#!/usr/bin/env bash
# End-to-end tests in the real NCY Admin window: builds the UI and `ncy-desktop` (debug), then
# under Xvfb and a private D-Bus session with a real Secret Service (gnome-keyring) starts
# tauri-driver + WebKitWebDriver and runs tests/e2e/run.mjs on a fresh temporary data dir.
# Screenshots of every main screen go to target/e2e-screenshots/. Exits non-zero on failure.
# `scripts/e2e.sh --measure DATA_DIR` instead measures start-up and memory on an existing
# workspace (tests/e2e/measure.mjs); see README.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
script=tests/e2e/run.mjs data_dir=""
if [ "${1:-}" = "--measure" ]; then script=tests/e2e/measure.mjs; data_dir=$(realpath "${2:?usage: e2e.sh --measure DATA_DIR}"); fi

scripts/ui-build.sh
# Built as `make test` builds (every target of the workspace): a narrower selection would
# resolve the dependencies' features differently and compile a second copy of them.
cargo build --workspace --all-targets --quiet
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

driver=$(command -v tauri-driver || true)
[ -z "$driver" ] && [ -x "$HOME/.cargo/bin/tauri-driver" ] && driver="$HOME/.cargo/bin/tauri-driver"
if [ -z "$driver" ]; then echo "e2e: tauri-driver missing: run scripts/setup.sh"; echo "0 passed, 1 failed"; exit 1; fi
for b in xvfb-run dbus-run-session gnome-keyring-daemon /usr/bin/WebKitWebDriver; do
  command -v "$b" >/dev/null || { echo "e2e: $b missing: run scripts/setup.sh"; echo "0 passed, 1 failed"; exit 1; }
done

work=$(mktemp -d -t ncy-e2e.XXXXXX)
cleanup() {
  for p in ${prom_pids:-}; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "${pg_dir:-}" ]; then "$target_dir/debug/ncy-test-cluster" stop "$pg_dir" "$pg_port" >/dev/null 2>&1
  elif [ -n "${pg_db:-}" ]; then psql "$base" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A PostgreSQL database for the connection-manager test: on the cluster of `make test`
# ($NCY_TEST_DATABASE_URL), else on a throwaway cluster of our own; migrated and dev-seeded.
if [ -z "$data_dir" ]; then
  base=${NCY_TEST_DATABASE_URL:-}
  if [ -z "$base" ]; then
    read -r base pg_dir < <("$target_dir/debug/ncy-test-cluster" start)
    pg_port=${base##*:}; pg_port=${pg_port%%/*}
  fi
  pg_db="ncy_e2e_$$"
  psql "$base" -qc "CREATE DATABASE $pg_db" >/dev/null
  export E2E_PG_URL="${base%/*}/$pg_db"
  export E2E_CLI="$target_dir/debug/ncy-admin"
  "$target_dir/debug/ncy-admin" --database-url "$E2E_PG_URL" migrate up >/dev/null
  "$target_dir/debug/ncy-admin" --database-url "$E2E_PG_URL" seed dev >/dev/null
  # A real Prometheus scraping postgres_exporter (1 s) on loopback ports, pointed at the E2E
  # database, for the Health screen's charts (as crates/health/tests/prometheus.rs does).
  prom_bin=$(command -v prometheus || true) exp_bin=$(command -v prometheus-postgres-exporter || true)
  if [ -n "$prom_bin" ] && [ -n "$exp_bin" ]; then
    free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
    exp_port=$(free) prom_port=$(free)
    mkdir -p "$work/prom"
    printf 'global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: postgres\n    static_configs:\n      - targets: [%s]\n' "'127.0.0.1:$exp_port'" >"$work/prom/prometheus.yml"
    case "$E2E_PG_URL" in *\?*) dsn="$E2E_PG_URL&sslmode=disable" ;; *) dsn="$E2E_PG_URL?sslmode=disable" ;; esac
    DATA_SOURCE_NAME="$dsn" "$exp_bin" --web.listen-address="127.0.0.1:$exp_port" \
      --extend.query-path="$root/crates/health/exporter/queries.yaml" >"$work/prom/exporter.log" 2>&1 &
    prom_pids="$!"
    "$prom_bin" --config.file="$work/prom/prometheus.yml" --storage.tsdb.path="$work/prom/data" \
      --web.listen-address="127.0.0.1:$prom_port" >"$work/prom/prometheus.log" 2>&1 &
    prom_pids="$prom_pids $!"
    export E2E_PROM_URL="http://127.0.0.1:$prom_port"
  else
    echo "e2e: prometheus / prometheus-postgres-exporter missing (scripts/setup.sh installs them): the chart test is skipped"
  fi
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
native=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

export NCY_DESKTOP_BIN="${NCY_DESKTOP_BIN:-$target_dir/debug/ncy-desktop}"
# `--measure` also measures the stack's floor (a blank Tauri window) when it was built beside
# the app: `cargo build [--release] -p ncy-desktop --example blank_window`.
blank="$(dirname "$NCY_DESKTOP_BIN")/examples/blank_window"
[ -n "$data_dir" ] && [ -z "${NCY_BLANK_BIN:-}" ] && [ -x "$blank" ] && export NCY_BLANK_BIN="$blank"
# The CLI shares the window's data dir and keychain (the sync test edits its cache offline).
export NCY_ADMIN_BIN="${NCY_ADMIN_BIN:-$target_dir/debug/ncy-admin}"
export NCY_DATA_DIR="${data_dir:-$work/data}" E2E_SCRIPT="$script"
export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/share" XDG_CACHE_HOME="$work/cache"
export XDG_RUNTIME_DIR="$work/run"; mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
export SCREENSHOT_DIR="$root/target/e2e-screenshots"
# The app turns WebKit compositing off by default (memory); WebKitWebDriver's screenshots hang
# without it, so the tests run with it on (`--measure` keeps the app's default).
[ -z "$data_dir" ] && export WEBKIT_DISABLE_COMPOSITING_MODE="${WEBKIT_DISABLE_COMPOSITING_MODE:-0}"
export DRIVER_URL="http://127.0.0.1:$port" TAURI_DRIVER="$driver" DRIVER_PORT="$port" NATIVE_PORT="$native"
[ -z "$data_dir" ] && rm -rf "$SCREENSHOT_DIR"; mkdir -p "$SCREENSHOT_DIR"

rc=0
xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- bash -c '
  set -u
  # A non-empty password makes the daemon create (and unlock) the login keyring.
  echo -n "ncy-e2e" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  "$TAURI_DRIVER" --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" --native-driver /usr/bin/WebKitWebDriver >"$XDG_RUNTIME_DIR/driver.log" 2>&1 &
  drv=$!
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$DRIVER_PORT") 2>/dev/null && break; sleep 0.1; done
  node "$E2E_SCRIPT"; rc=$?
  kill "$drv" 2>/dev/null; wait "$drv" 2>/dev/null
  [ $rc -ne 0 ] && tail -20 "$XDG_RUNTIME_DIR/driver.log"
  exit $rc
' 2>"$work/stderr.log" || rc=$?
# D-Bus/X chatter goes to a log, shown only when something failed.
[ $rc -ne 0 ] && grep -v -e "dbus-daemon" -e "SpiRegistry" "$work/stderr.log" | tail -30
exit $rc
