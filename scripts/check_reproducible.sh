#!/usr/bin/env bash
# Rebuild a commit's reproducible stages in a throwaway worktree and fail when an output hash differs
# from that commit's dvc.lock: a reproducibility regression (separate from the metric gates).
#
#   bash scripts/check_reproducible.sh [REV]        REV: default HEAD
#
# The stages are pipeline/catalog.py's REPRODUCIBLE_STAGES (byte-identical on any AVX2 + FMA x86-64 CPU,
# pipeline/pins.py). --no-run-cache: the outputs are recomputed, never restored from DVC's run cache.
# Exit codes: 0 identical, 1 a difference, 2 bad usage or a failed build.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
REV=${1:-HEAD}
sha=$(git rev-parse --verify --quiet "$REV^{commit}") || { echo "check_reproducible: unknown revision $REV" >&2; exit 2; }
[ -x "$ROOT/.venv/bin/python" ] || { echo "check_reproducible: run make setup first" >&2; exit 2; }
export PATH="$ROOT/.venv/bin:$PATH" PIPELINE_ARM_CACHE=${PIPELINE_ARM_CACHE:-$ROOT/.cache/arm}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/check_reproducible.XXXXXX")
trap 'git -C "$ROOT" worktree remove --force "$WORK/tree" >/dev/null 2>&1 || true; git -C "$ROOT" worktree prune; rm -rf "$WORK"' EXIT
git worktree add --quiet --detach "$WORK/tree" "$sha"
stages=$(python -c 'from pipeline.catalog import REPRODUCIBLE_STAGES as s; print(" ".join(s))')
echo "check_reproducible: rebuilding $stages of ${sha:0:7}" >&2
(cd "$WORK/tree" && dvc repro --no-run-cache $stages >"$WORK/build.log" 2>&1) \
    || { tail -n 40 "$WORK/build.log" >&2; echo "check_reproducible: the build failed" >&2; exit 2; }
git show "$sha:dvc.lock" > "$WORK/committed.lock"
python -m pipeline.compare.reproducible "$WORK/committed.lock" "$WORK/tree/dvc.lock"
