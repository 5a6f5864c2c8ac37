#!/usr/bin/env bash
# Provision the app runtimes (pipeline/targets/app.py) from the npm registry: onnxruntime-node, onnxruntime-web
# with playwright-core (which drives Debian's chromium: scripts/install_browser.sh) and tfjs-tflite-node (its
# prebuilt TFLite C library and c_api.h), pinned by pipeline/targets/app_js/package-lock.json,
# installed into .cache/apps/node_modules. Offline-safe: onnxruntime-node's install script (CUDA files from
# another host) is skipped; its CPU library ships in the package. Idempotent: a matching lock stamp does nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/pipeline/targets/app_js
DEST=$ROOT/.cache/apps
log() { printf '[provision_apps] %s\n' "$*"; }

stamp=$(sha256sum "$SRC/package-lock.json" | cut -d' ' -f1)
if [ -d "$DEST/node_modules" ] && [ "$(cat "$DEST/.lock-sha256" 2>/dev/null)" = "$stamp" ]; then
    log "up to date"
    exit 0
fi
command -v node >/dev/null && command -v npm >/dev/null || {
    [ "$(id -u)" -eq 0 ] || { log "ERROR: node and npm are missing; run: sudo apt-get install -y nodejs npm" >&2; exit 1; }
    log "installing Debian's nodejs and npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends nodejs npm >/dev/null 2>&1 || {
        apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nodejs npm >/dev/null; }
}
SECONDS=0
rm -rf "$DEST.tmp" && mkdir -p "$DEST.tmp"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST.tmp/"
(cd "$DEST.tmp" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
echo "$stamp" > "$DEST.tmp/.lock-sha256"
rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"  # whole or not at all
log "installed $(cd "$DEST" && node -p "Object.entries(require('./package.json').dependencies).map(([n, v]) => n + '@' + v).join(', ')") (${SECONDS} s)"
