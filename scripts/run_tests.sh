#!/usr/bin/env bash
# Runs the suite; pytest's "no tests collected" (exit 5) is a failure here, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
	echo "run_tests: pytest collected no tests: failing" >&2
	exit 1
fi
exit "$rc"
