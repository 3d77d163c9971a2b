#!/usr/bin/env bash
# `scripts/test-pg.sh MAJOR`: the Rust integration suite against a throwaway PostgreSQL MAJOR
# cluster (15 from Debian; 16, 17 and 18 from npm, see scripts/pg.sh). Tests that start clusters
# of their own (TLS, standby, bench) use the same server binaries (NCY_PG_BIN).
#
# Left out above 15, because this machine cannot have the client programs they need: the npm
# packages carry no pg_dump/pg_restore/pg_basebackup and Debian 12 packages only version 15. So
# the backup crate (pg_dump 15 refuses a newer server; the refusal and its fix are unit-tested),
# the partitioned-logs backup test, and the standby test (pg_basebackup) run on 15 only.
set -euo pipefail
cd "$(dirname "$0")/.."
major=${1:?usage: scripts/test-pg.sh MAJOR}
bin=$(scripts/pg.sh "$major")
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# As `make test` builds (a narrower selection would compile a second copy of the dependencies).
cargo build --quiet --workspace --all-targets
read -r url dir < <(NCY_PG_BIN="$bin" "$target_dir/debug/ncy-test-cluster" start)
port=${url##*:}; port=${port%%/*}
trap 'NCY_PG_BIN="$bin" "$target_dir/debug/ncy-test-cluster" stop "$dir" "$port"' EXIT
echo "test-pg: PostgreSQL $major cluster on port $port ($bin)"
export NCY_PG_BIN="$bin" NCY_TEST_DATABASE_URL="$url"
if [ "$major" = 15 ]; then
  scripts/cargo-test.sh --workspace
else
  scripts/cargo-test.sh --workspace --exclude ncy-backup -- \
    --skip a_standby_serves_reads --skip backup_of_a_partitioned_database_verifies
fi
