"""pipeline/executor.py on a local Dask cluster: tasks come back in input order whatever finishes first, a task
that raises fails with the worker's name and its error, a worker that cannot do the work is named with the fix,
and the workers compute with the pinned kernels and one thread."""

from __future__ import annotations

import os
from functools import partial

import pytest

from pipeline import executor
from pipeline.errors import PipelineError


def test_results_come_back_in_input_order():
    items = list(range(40))
    assert executor.map_tasks(partial(pow, 2), items, [str(i) for i in items], "order") == [2 ** i for i in items]
    with pytest.raises(ValueError, match="task keys must be unique"):
        executor.map_tasks(abs, [1, 2], ["a", "a"], "dup")


def test_a_task_that_raises_names_its_worker_and_the_error():
    with pytest.raises(executor.TaskError, match=r"on worker \d+ \(tcp://.+\): ValueError: invalid literal"):
        executor.map_tasks(int, ["1", "x"], ["one", "x"], "bad")


def test_a_worker_that_cannot_run_the_stage_is_named_with_the_fix():
    with pytest.raises(PipelineError, match=r"benchmark@m: not every worker can run it: worker tcp://.+: "
                                            r"ZeroDivisionError.*run `make setup` on that machine"):
        executor.check_workers(partial(divmod, 1, 0), "benchmark@m")


def test_workers_compute_pinned_with_one_thread():
    said = executor.client().run(executor._environment_problem)
    assert len(said) == len(os.sched_getaffinity(0)) and set(said.values()) == {None}, said


def test_serial_mode_runs_in_this_process(monkeypatch):
    monkeypatch.setenv(executor.SERIAL_ENV, "1")
    assert executor.map_tasks(lambda _: os.getpid(), [0, 1], ["a", "b"], "s") == [os.getpid()] * 2
