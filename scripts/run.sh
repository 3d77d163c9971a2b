#!/usr/bin/env bash
# `make run`: builds and opens the desktop app on the local workspace (created and filled with
# the development seed on first start). Without the desktop shell yet, prepares the workspace
# through the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d src-tauri ]; then
  [ -f ui/package.json ] && scripts/ui-build.sh
  cargo build -p ncy-desktop
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  exec "$target_dir/debug/ncy-desktop"
else
  cargo build -p ncy-cli
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  "$target_dir/debug/ncy-admin" seed dev
  "$target_dir/debug/ncy-admin" migrate status
fi
