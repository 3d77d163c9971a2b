# NCY Admin. `make run` opens the desktop app on a local demo workspace; `make test` runs
# everything. Both install what is missing first (scripts/setup.sh).

.PHONY: setup run test test-matrix bench cli lint fmt

setup:
	@scripts/setup.sh

run: setup
	@scripts/run.sh

test: setup
	@scripts/test.sh

# The Rust integration suite on every PostgreSQL major we support (15 to 18).
test-matrix: setup
	@scripts/with-keyring.sh bash -c 'for v in 15 16 17 18; do scripts/test-pg.sh $$v || exit 1; done'

# Benchmarks (not part of `make test`): NCY_BENCH_SCALE=smoke|quick|full|large (default quick).
bench: setup
	@scripts/bench.sh

cli:
	cargo build --release -p ncy-cli

lint: setup
	@[ -f ui/package.json ] && scripts/ui-build.sh || true
	@[ ! -f ui/package.json ] || (cd ui && npm run check --silent)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all
