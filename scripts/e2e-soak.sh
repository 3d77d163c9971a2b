#!/usr/bin/env bash
# `scripts/e2e-soak.sh [RUNS] [BUSY]`: the end-to-end suite RUNS times in a row (default 10)
# while BUSY busy loops (default 2) keep the CPUs loaded, as a loaded CI machine would; stops
# at the first red run. The proof that the suite does not flake (issue 15). Each run's output
# goes to target/e2e-soak/run-N.log; a summary line per run to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10} busy=${2:-2}
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
logs="$target_dir/e2e-soak"
mkdir -p "$logs"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq "$busy"); do
  (while :; do :; done) &
  pids+=("$!")
done
for i in $(seq "$runs"); do
  started=$SECONDS
  if scripts/e2e.sh >"$logs/run-$i.log" 2>&1; then
    echo "e2e-soak: run $i of $runs green in $((SECONDS - started)) s: $(grep -E '^[0-9]+ passed' "$logs/run-$i.log" | tail -1)"
  else
    echo "e2e-soak: run $i of $runs RED after $((SECONDS - started)) s (log: $logs/run-$i.log):"
    grep -E '^(not ok|[0-9]+ passed)' "$logs/run-$i.log" | tail -5
    exit 1
  fi
done
echo "e2e-soak: $runs of $runs green with $busy busy loops"
