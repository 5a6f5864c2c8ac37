#!/usr/bin/env bash
# What .github/workflows/pr.yml runs on a pull request; also usable locally.
#
#   bash scripts/ci_compare.sh [PROFILE]          PROFILE: profile overlay, default params.ci.yaml
#
# Compares like with like: the base revision and the head are BOTH built on the same CI
# profile, each in a throwaway git worktree, and their results compared.
#
#   1. make setup                      the README's set-up (.venv from requirements.lock, ARM cache)
#   2. for base, then head:            git worktree add (outside the checkout), PROFILE merged
#                                      onto that side's own params.yaml (scripts/apply_profile.py),
#                                      dvc repro (DVC cache shared with this checkout), the
#                                      results committed in a throwaway detached commit
#   3. python -m pipeline compare      --base <base results> --head <head results>, run in
#                                      the head worktree (the head's compare code and gates.yaml)
#   4. compare.md gets the real revision names in its title and a "CI profile" section,
#      which lists the PR's changes to keys the profile overrides (those are not exercised);
#      it is posted as a PR comment when gh, a token and PR_NUMBER are all there
#
# PROFILE is an overlay, not a params file: mappings merge, other values replace, null
# removes a key, keys params.yaml lacks are ignored (scripts/apply_profile.py, params.ci.yaml).
# So a PR's change to the code or to any key the profile does not override shows.
#
# The user's checkout is not modified: the builds happen in worktrees under a temporary
# folder, removed at exit (with `git worktree prune`); only the report is written here.
# Base and head both run with this checkout's .venv (a PR's dependency change applies to both).
#
# Exit codes: 0 all gates hold; 1 a gate is violated, or the pipeline fails at head;
# 2 bad usage, bad gates file, unknown revision, or the pipeline fails at base
# (set-up failures exit non-zero too).
#
# Environment:
#   BASE_REF      base branch name (the workflow passes github.base_ref); default: main
#   BASE_REV      revision to compare against; default: origin/$BASE_REF, or $BASE_REF when
#                 there is no such remote-tracking branch (a local clone without origin)
#   HEAD_REV      revision to check; default: HEAD plus uncommitted changes to tracked files
#                 (`git stash create`; untracked files are not included)
#   COMPARE_REPORT  the Markdown report; default: compare.md in the checkout
#   ARTIFACTS_DIR   if set: both sides' metrics.json, merged params, profile summaries and logs
#   SKIP_SETUP=1    do not run `make setup` (it is skipped anyway when there is no Makefile)
#   KEEP_WORK=1     keep the worktrees (and their registration) for inspection
#   PIPELINE_ARM_CACHE  the emulated-ARM cache; default: .cache/arm of this checkout
#   PIPELINE_MEASUREMENT_CACHE  measurements by content, shared by both sides; default: .cache/measurements here
#   PR_NUMBER     pull request to comment on
#   GH_TOKEN / GITHUB_TOKEN   token for gh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PROFILE=${1:-params.ci.yaml}
BASE_REF=${BASE_REF:-main}
REPORT=${COMPARE_REPORT:-compare.md}
MAX_COMMENT_CHARS=${MAX_COMMENT_CHARS:-60000}   # GitHub refuses comments over 65536 characters
GIT_ID=(-c user.name=ci_compare -c user.email=ci_compare@localhost -c commit.gpgsign=false)

log() { printf '[ci_compare] %s\n' "$*" >&2; }

[ -f "$PROFILE" ] || { log "ERROR: profile $PROFILE not found"; exit 2; }
PROFILE=$(cd "$(dirname "$PROFILE")" && pwd)/$(basename "$PROFILE")
case $REPORT in /*) ;; *) REPORT=$ROOT/$REPORT ;; esac

if [ -z "${BASE_REV:-}" ]; then
    if git rev-parse --verify --quiet "origin/$BASE_REF^{commit}" >/dev/null; then
        BASE_REV=origin/$BASE_REF
    else
        log "origin/$BASE_REF does not exist; comparing against $BASE_REF"
        BASE_REV=$BASE_REF
    fi
fi
base_sha=$(git rev-parse --verify --quiet "$BASE_REV^{commit}") || {
    log "ERROR: unknown Git revision '$BASE_REV' (in CI, check out with fetch-depth: 0 so that origin/<base branch> exists)"
    exit 2
}
if [ -n "${HEAD_REV:-}" ]; then
    head_sha=$(git rev-parse --verify --quiet "$HEAD_REV^{commit}") || { log "ERROR: unknown Git revision '$HEAD_REV'"; exit 2; }
    head_desc="\`$HEAD_REV\` (${head_sha:0:7})"
else
    head_sha=$(git rev-parse HEAD)
    head_desc="\`HEAD\` (${head_sha:0:7})"
    stash=$(git "${GIT_ID[@]}" stash create 2>/dev/null || true)   # the workspace; changes nothing here
    if [ -n "$stash" ]; then
        log "uncommitted changes to tracked files are included in the head"
        head_desc="the workspace (\`HEAD\` ${head_sha:0:7} with uncommitted changes)"
        head_sha=$stash
    fi
fi
base_desc="\`$BASE_REV\` (${base_sha:0:7})"

if [ "${SKIP_SETUP:-0}" != 1 ] && [ -f Makefile ]; then
    log "set-up"
    make setup
fi
[ -x "$ROOT/.venv/bin/python" ] && export PATH="$ROOT/.venv/bin:$PATH"   # dvc.yaml runs `python`
command -v dvc >/dev/null || { log "ERROR: dvc not found (run make setup)"; exit 2; }
export PIPELINE_ARM_CACHE=${PIPELINE_ARM_CACHE:-$ROOT/.cache/arm}
# One measurement cache for both sides (keyed by content: artefact bytes, code, params, tools, CPU), so
# a variant the PR leaves unchanged is measured once and both sides report the same figure for it.
export PIPELINE_MEASUREMENT_CACHE=${PIPELINE_MEASUREMENT_CACHE:-$ROOT/.cache/measurements}
export DVC_NO_ANALYTICS=1
CACHE_DIR=$(dvc cache dir)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ci_compare.XXXXXX")
cleanup() {
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        log "kept $WORK (remove with: git worktree remove --force $WORK/base; ... $WORK/head)"
        return
    fi
    for side in base head; do
        if [ -e "$WORK/$side" ]; then git -C "$ROOT" worktree remove --force "$WORK/$side" >/dev/null 2>&1 || true; fi
    done
    git -C "$ROOT" worktree prune >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# One side, inside its worktree: the profile, dvc repro, a throwaway commit of the results.
build_side() {
    local side=$1
    cd "$WORK/$side" || return
    dvc config --local cache.dir "$CACHE_DIR" || return          # .dvc/config.local: untracked
    python "$ROOT/scripts/apply_profile.py" "$PROFILE" params.yaml --summary "$WORK/$side.profile.json" || return
    dvc repro || return
    git add -A -- . ':(exclude).dvc' || return
    git "${GIT_ID[@]}" commit --quiet --no-verify --allow-empty \
        -m "ci_compare: $side built on $(basename "$PROFILE") (throwaway)" || return
}

failure_report() {  # side status
    local side=$1 rc=$2
    {
        echo "## Model comparison: $base_desc → $head_desc"
        echo
        echo "❌ **The pipeline failed at $side** on the CI profile \`$(basename "$PROFILE")\` (exit $rc); nothing was compared."
        echo
        echo "<details open><summary>Last lines of the $side build log</summary>"
        echo
        echo '```'
        tail -n 60 "$WORK/$side.log"
        echo '```'
        echo
        echo "</details>"
    } > "$REPORT"
}

rm -f "$REPORT"
status=0
base_result= head_result=
for side in base head; do
    rev=$base_sha; [ "$side" = head ] && rev=$head_sha
    log "$side: worktree of ${rev:0:7}, profile $(basename "$PROFILE"), dvc repro (log: $WORK/$side.log)"
    git worktree add --quiet --detach "$WORK/$side" "$rev"
    set +e
    ( build_side "$side" ) 2>&1 | tee "$WORK/$side.log" >&2
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        log "ERROR: the $side build failed (exit $rc)"
        failure_report "$side" "$rc"
        status=$([ "$side" = head ] && echo 1 || echo 2)
        break
    fi
    result=$(git -C "$WORK/$side" rev-parse HEAD)
    if [ "$side" = base ]; then base_result=$result; else head_result=$result; fi
done

if [ -n "$head_result" ]; then
    log "compare ${base_result:0:7} (base, built) -> ${head_result:0:7} (head, built)"
    set +e
    (cd "$WORK/head" && python -m pipeline compare --base "$base_result" --head "$head_result" --out "$REPORT")
    status=$?
    set -e
fi

if [ -f "$REPORT" ] && [ -n "$head_result" ]; then
    # Name the real revisions (compare can only name the throwaway commits) and say what
    # the profile did, including the PR's changes that it hides (pipeline/compare/ci.py).
    python -m pipeline.compare.ci title-and-profile "$REPORT" "$base_desc" "$head_desc" "$(basename "$PROFILE")" \
        "$WORK/base.profile.json" "$WORK/head.profile.json"
fi

if [ -n "${ARTIFACTS_DIR:-}" ]; then
    mkdir -p "$ARTIFACTS_DIR"
    for side in base head; do
        cp "$WORK/$side.log" "$ARTIFACTS_DIR/$side.log" 2>/dev/null || true
        cp "$WORK/$side.profile.json" "$ARTIFACTS_DIR/$side.profile.json" 2>/dev/null || true
        cp "$WORK/$side/params.yaml" "$ARTIFACTS_DIR/$side.params.yaml" 2>/dev/null || true
        cp "$WORK/$side/reports/metrics.json" "$ARTIFACTS_DIR/$side.metrics.json" 2>/dev/null || true
    done
    [ -f "$REPORT" ] && cp "$REPORT" "$ARTIFACTS_DIR/"
fi

if [ -f "$REPORT" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    cat "$REPORT" >> "$GITHUB_STEP_SUMMARY"
fi

token=${GH_TOKEN:-${GITHUB_TOKEN:-}}
if [ ! -f "$REPORT" ]; then
    log "no report written (exit $status); nothing to post"
elif ! command -v gh >/dev/null 2>&1 || [ -z "$token" ] || [ -z "${PR_NUMBER:-}" ]; then
    log "not posting a PR comment (needs gh, GH_TOKEN or GITHUB_TOKEN, and PR_NUMBER); report: $REPORT"
else
    body=$REPORT
    if [ "$(wc -m < "$REPORT")" -gt "$MAX_COMMENT_CHARS" ]; then
        body=$WORK/comment.md
        # cut at a line boundary, keep the verdict at the top, say where the rest is (pipeline/compare/ci.py)
        python -m pipeline.compare.ci truncate "$REPORT" "$body" "$MAX_COMMENT_CHARS"
    fi
    if GH_TOKEN=$token gh pr comment "$PR_NUMBER" --body-file "$body"; then
        log "posted $REPORT to PR #$PR_NUMBER"
    else
        log "WARNING: could not post the PR comment (a fork's read-only token?); the verdict stands"
    fi
fi

exit "$status"
