#!/usr/bin/env bash
# Installs what building, running and testing NCY Admin needs on Debian/Ubuntu. Idempotent and
# quick when everything is present: apt runs only for missing packages.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # build: keyring (Secret Service over D-Bus), Tauri/WebKitGTK
  pkg-config libdbus-1-dev build-essential libssl-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev
  # tests: PostgreSQL client tools, a real window (Xvfb + WebKitWebDriver), a real keychain
  postgresql-client xvfb webkit2gtk-driver dbus dbus-x11 gnome-keyring keyutils
  # pooler tests: a real PgBouncer in transaction mode
  pgbouncer
  # monitoring tests: a real Prometheus and postgres_exporter
  prometheus prometheus-postgres-exporter
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL server binaries (initdb/pg_ctl) for the throwaway test clusters.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup: installing postgresql (server binaries for test clusters)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

# Front-end packages.
if [ -f ui/package.json ]; then
  if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    echo "setup: npm ci in ui/"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# tauri-driver for end-to-end tests in a real window.
if [ -d src-tauri ] && ! command -v tauri-driver >/dev/null 2>&1; then
  echo "setup: cargo install tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
