#!/usr/bin/env bash
# What .github/workflows/pr.yml runs on a pull request; also usable locally.
#
#   bash scripts/ci_compare.sh [PROFILE]          PROFILE: params file, default params.ci.yaml
#
#   1. make setup                      the README's set-up (.venv from requirements.lock, ARM cache)
#   2. .venv/bin/dvc repro             on the CI-sized profile
#   3. python -m pipeline compare      base: origin/$BASE_REF (committed metrics), head: the workspace
#   4. posts compare.md as a PR comment when gh, a token and PR_NUMBER are all there;
#      otherwise the report is only printed (compare prints it either way)
#
# Exits with compare's exit code: 0 all gates hold, 1 a gate is violated, 2 bad usage /
# gates file / unreadable revision (and set-up or repro failures exit non-zero too).
#
# Environment:
#   BASE_REF      base branch name (the workflow passes github.base_ref); default: main
#   BASE_REV      revision to compare against; default: origin/$BASE_REF, or $BASE_REF when
#                 there is no such remote-tracking branch (a local clone without origin)
#   PR_NUMBER     pull request to comment on
#   GH_TOKEN / GITHUB_TOKEN   token for gh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PROFILE=${1:-params.ci.yaml}
BASE_REF=${BASE_REF:-main}
REPORT=compare.md
MAX_COMMENT_CHARS=${MAX_COMMENT_CHARS:-60000}   # GitHub refuses comments over 65536 characters

log() { printf '[ci_compare] %s\n' "$*" >&2; }

[ -f "$PROFILE" ] || { log "ERROR: profile $PROFILE not found"; exit 2; }

if [ -z "${BASE_REV:-}" ]; then
    if git rev-parse --verify --quiet "origin/$BASE_REF^{commit}" >/dev/null; then
        BASE_REV=origin/$BASE_REF
    else
        log "origin/$BASE_REF does not exist; comparing against $BASE_REF"
        BASE_REV=$BASE_REF
    fi
fi

log "set-up"
make setup

log "dvc repro (profile: $PROFILE)"
# TODO(profile): make `dvc repro` below run on "$PROFILE" instead of params.yaml (without
# copying it over params.yaml).
.venv/bin/dvc repro

log "compare $BASE_REV -> workspace"
rm -f "$REPORT"
status=0
.venv/bin/python -m pipeline compare --base "$BASE_REV" --out "$REPORT" || status=$?

if [ -f "$REPORT" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    cat "$REPORT" >> "$GITHUB_STEP_SUMMARY"
fi

token=${GH_TOKEN:-${GITHUB_TOKEN:-}}
if [ ! -f "$REPORT" ]; then
    log "no report written (compare exited $status); nothing to post"
elif ! command -v gh >/dev/null 2>&1 || [ -z "$token" ] || [ -z "${PR_NUMBER:-}" ]; then
    log "not posting a PR comment (needs gh, GH_TOKEN or GITHUB_TOKEN, and PR_NUMBER); report: $REPORT"
else
    body=$REPORT
    if [ "$(wc -m < "$REPORT")" -gt "$MAX_COMMENT_CHARS" ]; then
        body=$(mktemp)
        # cut at a line boundary, keep the verdict at the top, say where the rest is
        .venv/bin/python - "$REPORT" "$body" "$MAX_COMMENT_CHARS" <<'EOF'
import sys
src, dst, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(src, encoding="utf-8").read()
cut = text[:limit].rsplit("\n", 1)[0]
if cut.count("<details") > cut.count("</details>"):
    cut += "\n\n</details>"
open(dst, "w", encoding="utf-8").write(
    cut + "\n\n---\n*Report truncated to fit a comment; the full report is in the job summary "
          "and the job log.*\n")
EOF
    fi
    if GH_TOKEN=$token gh pr comment "$PR_NUMBER" --body-file "$body"; then
        log "posted $REPORT to PR #$PR_NUMBER"
    else
        log "WARNING: could not post the PR comment (a fork's read-only token?); the verdict stands"
    fi
fi

exit "$status"
