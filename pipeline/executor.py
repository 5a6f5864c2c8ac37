"""Fan-out inside a stage, on Dask: the scheduler named by DASK_SCHEDULER_ADDRESS when it is set (a cluster of
any size: `dask scheduler` / `dask worker`, SSHCluster, dask-jobqueue), otherwise a local cluster of one
single-threaded worker process per CPU this process may use (so at most one emulator per CPU, as exact
instruction counts and honest wall times need). DVC keeps the DAG, the params and the cache; Dask only runs the
tasks a stage hands it.

map_tasks(fn, items, keys): one task per item, under an explicit key, gathered in input order whatever the
cluster; the workers' BLAS and OpenMP pools are pinned to one thread. A worker that dies mid-task has its task
run again elsewhere (Dask's own retry); a task that raises fails the stage with the worker's name and its error.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from functools import partial
from typing import Callable, Iterable

from pipeline.catalog import SCRATCH
from pipeline.errors import PipelineError
from pipeline.log import info

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
SERIAL_ENV = "PIPELINE_SERIAL"  # "1": a stage's tasks run in its own process, one after another (debugging)
# Every worker computes with one thread: the figures do not depend on how many tasks share a machine.
WORKER_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                     "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}
_CLIENT = None


class TaskError(PipelineError):
    """A task raised on a worker: the message names the task, the worker and the error."""


def client():
    """The stage's Dask client, made on first use and closed when the stage's process exits."""
    global _CLIENT
    if _CLIENT is None:
        from distributed import Client, LocalCluster

        address = os.environ.get(SCHEDULER_ENV)
        if address:
            _CLIENT = Client(address, timeout="60s")
            where = f"the cluster at {address}"
            bad = {w: said for w, said in _CLIENT.run(_environment_problem).items() if said}
            if bad:
                raise PipelineError(f"{SCHEDULER_ENV}={address}: " + "; ".join(f"worker {w}: {s}" for w, s in bad.items())
                                    + ": start each worker with `bash scripts/dask.sh worker SCHEDULER_ADDRESS` "
                                      "in a checkout of the same commit")
        else:
            import dask

            from pipeline.pins import pinned_env

            # set before each worker's interpreter starts: numpy and OpenBLAS read them when they load
            worker_env = {**pinned_env({}), **WORKER_ENV}
            # the workers' scratch space outside the stage's own (which goes before this process exits)
            SCRATCH.mkdir(parents=True, exist_ok=True)
            scratch = tempfile.mkdtemp(prefix=f"dask-{os.getpid()}-", dir=SCRATCH.resolve())
            atexit.register(shutil.rmtree, scratch, True)
            with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_env, "temporary-directory": scratch}):
                # ":0": a free port for the dashboard (None still claims 8787, and warns when two stages run)
                cluster = LocalCluster(n_workers=len(os.sched_getaffinity(0)), threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.WARNING, env=worker_env,
                                       local_directory=scratch)
            _CLIENT = Client(cluster)
            where = f"a local cluster ({SCHEDULER_ENV} names another scheduler)"
        atexit.register(shutdown)
        workers = len(_CLIENT.scheduler_info(n_workers=-1)["workers"])
        dashboard = _dashboard(_CLIENT)
        info(f"dask: {workers} worker(s) on {where}" + (f"; dashboard {dashboard}" if dashboard else ""))
    return _CLIENT


def _environment_problem() -> str | None:
    """On a worker: what differs from the environment a stage computes in (the pinned kernels, one thread)."""
    from pipeline.pins import is_pinned

    if not is_pinned():
        return "its kernels are not pinned (pipeline/pins.py: the same params would not give the same bytes)"
    loose = sorted(k for k, v in WORKER_ENV.items() if os.environ.get(k) != v)
    return f"{', '.join(loose)} not set to 1" if loose else None


def shutdown() -> None:
    """Close the stage's client (and its local cluster, with the workers' scratch space) if one was made."""
    global _CLIENT
    if _CLIENT is not None:
        cluster, _CLIENT = _CLIENT.cluster, _CLIENT.close() or None
        if cluster is not None:
            cluster.close()


def _dashboard(c) -> str | None:
    """The dashboard's address when the scheduler serves one (it needs bokeh where the scheduler runs)."""
    import importlib.util

    try:
        served = c.scheduler_info().get("services", {}).get("dashboard")
    except Exception:  # noqa: BLE001 - the link is a courtesy
        return None
    local = c.cluster is not None
    return c.dashboard_link if served and (not local or importlib.util.find_spec("bokeh")) else None


def _run(fn: Callable, item):
    """fn(item) on a worker; an exception names the worker that raised it."""
    try:
        return fn(item)
    except Exception as err:
        from distributed import get_worker

        w = get_worker()
        raise TaskError(f"on worker {w.name} ({w.address}): {type(err).__name__}: {err}") from err


def check_workers(check: Callable[[], None], what: str) -> None:
    """Run `check` on every worker first: a worker that cannot do the stage's work (a tool not provisioned
    there) is a clear error naming the worker and the check's own message (which says how to provision it)."""
    if os.environ.get(SERIAL_ENV) == "1":
        return check()
    failures = []
    for address, said in client().run(partial(_checked, check)).items():
        if said:
            failures.append(f"worker {address}: {said}")
    if failures:
        raise PipelineError(f"{what}: not every worker can run it: " + "; ".join(failures)
                            + " (run `make setup` on that machine)")


def _checked(check: Callable[[], None]) -> str | None:
    try:
        check()
    except Exception as err:  # noqa: BLE001 - reported per worker
        return f"{type(err).__name__}: {err}"
    return None


def map_tasks(fn: Callable, items: Iterable, keys: Iterable[str], label: str) -> list:
    """[fn(item) for item in items], computed on the cluster, in input order; progress in the stage's log."""
    from distributed import as_completed

    items, keys = list(items), [f"{label}/{k}" for k in keys]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{label}: task keys must be unique")
    if not items:
        return []
    if os.environ.get(SERIAL_ENV) == "1":
        return [fn(item) for item in items]
    c = client()
    futures = [c.submit(_run, fn, item, key=key, pure=False) for item, key in zip(items, keys)]
    step = max(1, -(-len(futures) // 4))  # a line per quarter
    try:
        for done, future in enumerate(as_completed(futures), 1):
            if future.status == "error":
                future.result()  # raises the task's TaskError
            if done % step == 0 or done == len(futures):
                info(f"{label}: {done}/{len(futures)} tasks done")
        return c.gather(futures)
    finally:
        for future in futures:
            future.release()
