#!/usr/bin/env bash
# `scripts/with-keyring.sh CMD ARGS...`: runs CMD inside a private D-Bus session with an unlocked
# gnome-keyring, so the OS keychain used by the CLI, the desktop app and the offline cache is a
# real Secret Service, not a stub. A throwaway keyring home: the test keychain never persists or
# touches the user's own. Without dbus-run-session or gnome-keyring, CMD runs as it is.
set -euo pipefail
[ -z "${NCY_IN_KEYRING_SESSION:-}" ] || exec "$@"
export NCY_IN_KEYRING_SESSION=1
if ! command -v dbus-run-session >/dev/null 2>&1 || ! command -v gnome-keyring-daemon >/dev/null 2>&1; then
  exec "$@"
fi
keyring_home=$(mktemp -d -t ncy-keyring.XXXXXX)
export XDG_DATA_HOME="$keyring_home"
# A non-empty password makes the daemon create (and unlock) the login collection.
exec dbus-run-session -- bash -c 'echo -n "ncy-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; "$@"; rc=$?; rm -rf "$XDG_DATA_HOME"; exit $rc' bash "$@"
