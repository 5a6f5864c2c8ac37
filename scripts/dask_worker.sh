#!/usr/bin/env bash
# A Dask worker for this pipeline's stages (pipeline/executor.py), started in a checkout of the same commit
# (the tasks read the project's files by their paths: give every worker the checkout at the same path, as a
# shared filesystem does):
#
#   bash scripts/dask_worker.sh tcp://SCHEDULER:8786 [dask worker options]
#
# It runs `dask worker` from this checkout's .venv with the pinned kernels of pipeline/pins.py and one thread
# per task, single-threaded workers, one per CPU (--nworkers auto): what the stages check on every worker.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ $# -ge 1 ] || { echo "usage: bash scripts/dask_worker.sh SCHEDULER_ADDRESS [dask worker options]" >&2; exit 2; }
[ -x .venv/bin/python ] || { echo "dask_worker: no .venv here: run \`make setup\` first" >&2; exit 2; }
eval "$(.venv/bin/python -c 'from pipeline.pins import pinned_env; from pipeline.executor import WORKER_ENV
import os, shlex
env = {**pinned_env({}), **WORKER_ENV}
print(" ".join(f"export {k}={shlex.quote(v)};" for k, v in sorted(env.items())))')"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/dask worker "$@" --nthreads 1 --nworkers "${DASK_NWORKERS:-auto}"
