#!/usr/bin/env bash
# Regenerates the TypeScript types of ui/src/lib/bindings from the Rust types (ts-rs).
# Feature crates export into their own subfolder: their type names (Dashboard, Progress,
# SessionInfo, ...) would otherwise overwrite the core's and the desktop's.
set -euo pipefail
# `ui/gen-bindings.sh DIR` writes them to DIR instead (make test compares the two).
dest=${1:+$(realpath -m "$1")}
cd "$(dirname "$0")/.."
out=${dest:-$PWD/ui/src/lib/bindings}
# i64/u64 cross the Tauri bridge as JSON numbers, not BigInt.
export TS_RS_LARGE_INT=number
# One build of every crate's lib tests with the `ts` features (ncy-desktop's turns on all of
# them), then each crate's test binary exports its types into its folder (the export folder is
# read when the test runs, not when it is built).
pkgs=(ncy-core ncy-desktop ncy-gdpr ncy-health ncy-backup ncy-approvals ncy-sync)
dirs=("" "" gdpr health backup approvals sync)
sel=()
for p in "${pkgs[@]}"; do sel+=(-p "$p"); done
built=$(cargo test -q "${sel[@]}" --lib --features ncy-desktop/ts --no-run --message-format=json-render-diagnostics)
for i in "${!pkgs[@]}"; do
  bin=$(python3 -c '
import json, sys
name = sys.argv[1]
for line in sys.stdin:
    m = json.loads(line)
    t = m.get("target") or {}
    if m.get("reason") == "compiler-artifact" and m.get("executable") and t.get("name") == name and m.get("profile", {}).get("test"):
        print(m["executable"])
' "${pkgs[$i]//-/_}" <<<"$built")
  [ -n "$bin" ] || { echo "gen-bindings: no lib test binary for ${pkgs[$i]}"; exit 1; }
  (cd "$(dirname "$bin")" && TS_RS_EXPORT_DIR="$out${dirs[$i]:+/${dirs[$i]}}" "$bin" -q export_bindings >/dev/null)
done
