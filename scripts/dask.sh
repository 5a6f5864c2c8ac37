#!/usr/bin/env bash
# Dask's own scheduler and workers for this pipeline's stages (pipeline/executor.py), run from a checkout of the
# same commit (the scheduler and the workers import the project's task functions; the tasks read the project's
# files by path: give every machine the checkout at the same path, as a shared filesystem does):
#
#   bash scripts/dask.sh scheduler [dask scheduler options]          (prints its address: tcp://HOST:8786)
#   bash scripts/dask.sh worker tcp://HOST:8786 [dask worker options]
#
# Both run from this checkout's .venv with the project on PYTHONPATH; a worker also with the pinned kernels of
# pipeline/pins.py and one thread per task, one single-threaded worker per CPU (DASK_NWORKERS overrides):
# what the stages check on every worker. Then: DASK_SCHEDULER_ADDRESS=tcp://HOST:8786 make repro
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
usage() { echo "usage: bash scripts/dask.sh scheduler [options] | worker SCHEDULER_ADDRESS [options]" >&2; exit 2; }
[ $# -ge 1 ] || usage
[ -x .venv/bin/dask ] || { echo "dask.sh: no .venv/bin/dask here: run \`make setup\` first" >&2; exit 2; }
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
role=$1
shift
case $role in
    scheduler) exec .venv/bin/dask scheduler "$@" ;;
    worker)
        [ $# -ge 1 ] || usage
        eval "$(.venv/bin/python -c 'from pipeline.pins import pinned_env; from pipeline.executor import WORKER_ENV
import shlex
env = {**pinned_env({}), **WORKER_ENV}
print(" ".join(f"export {k}={shlex.quote(v)};" for k, v in sorted(env.items())))')"
        exec .venv/bin/dask worker "$@" --nthreads 1 --nworkers "${DASK_NWORKERS:-auto}" ;;
    *) usage ;;
esac
