#!/usr/bin/env bash
# Install Debian's Chromium for the headless-browser test of the HTML report
# (tests/test_report_browser.py). Called by `make setup`.
#
# Idempotent: when a browser is already there it does nothing (no apt, no network):
# /usr/bin/chromium, or $CHROMIUM if set, or google-chrome on PATH (GitHub's Ubuntu runners
# have it; their `chromium` package is only a snap stub). Otherwise it runs
# `apt-get install chromium`, with `apt-get update` first only when the package lists do
# not know the package yet (or once more when the install fails on stale lists).
# Needs root, or sudo without a password; otherwise it prints the command and exits 1.
set -euo pipefail

log() { printf '[install_browser] %s\n' "$*"; }

for b in "${CHROMIUM:-}" /usr/bin/chromium "$(command -v google-chrome 2>/dev/null || true)"; do
    if [ -n "$b" ] && [ -f "$b" ] && [ -x "$b" ]; then
        log "$b is present"
        exit 0
    fi
done

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        log "ERROR: /usr/bin/chromium is missing and installing it needs root; run:" >&2
        printf '  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium\n' >&2
        exit 1
    fi
fi

apt() { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
install() { apt install -y -qq --no-install-recommends chromium >/dev/null; }

# A candidate version means the package lists already know chromium: no update needed.
candidate=$(apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
    log "apt-get update (the package lists do not know chromium yet)"
    apt update -qq
fi
log "apt-get install chromium"
if ! install; then
    log "install failed; apt-get update and retry"   # stale lists can name a version the mirror dropped
    apt update -qq
    install
fi
[ -x /usr/bin/chromium ] || { log "ERROR: chromium installed but /usr/bin/chromium is missing" >&2; exit 1; }
log "installed: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
