#!/usr/bin/env bash
# Builds the UI (vite) into ui/dist, which the desktop shell embeds. The build goes to a
# temporary folder first and only files whose content changed are written into ui/dist: an
# unchanged UI then leaves ui/dist's modification times alone and cargo does not rebuild the
# desktop crate for it.
set -euo pipefail
cd "$(dirname "$0")/../ui"
out=$(mktemp -d -t ncy-ui.XXXXXX)
trap 'rm -rf "$out"' EXIT
npx vite build --logLevel error --outDir "$out" --emptyOutDir
python3 ../.ci/mirror.py --from "$out" dist >/dev/null
