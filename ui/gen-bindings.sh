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
TS_RS_EXPORT_DIR=$out cargo test -q -p ncy-core --lib --features ts export_bindings
TS_RS_EXPORT_DIR=$out cargo test -q -p ncy-desktop --lib --features ts export_bindings
TS_RS_EXPORT_DIR=$out/gdpr cargo test -q -p ncy-gdpr --lib --features ncy-gdpr/ts export_bindings
TS_RS_EXPORT_DIR=$out/health cargo test -q -p ncy-health --lib --features ncy-health/ts export_bindings
TS_RS_EXPORT_DIR=$out/backup cargo test -q -p ncy-backup --lib --features ncy-backup/ts export_bindings
TS_RS_EXPORT_DIR=$out/approvals cargo test -q -p ncy-approvals --lib --features ncy-approvals/ts export_bindings
TS_RS_EXPORT_DIR=$out/sync cargo test -q -p ncy-sync --lib --features ncy-sync/ts export_bindings
