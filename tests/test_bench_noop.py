"""The no-op benchmark's own mechanics: its floor repo really is a no-op, and a run that is not one
stops the benchmark instead of being timed (the figure would be a build time, not a no-op)."""

import importlib.util

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_noop_repro", ROOT / "benchmarks" / "bench_noop_repro.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_floor_repo_is_a_noop_with_the_asked_stage_count(bench, tmp_path):
    repo = bench.make_floor_repo(tmp_path, 3)
    assert bench.stage_count(repo) == 3
    assert sorted(p.name for p in (repo / "out").glob("*.txt")) == ["s0.txt", "s1.txt", "s2.txt"]
    assert bench.timed_noop(repo) > 0


def test_a_run_that_has_work_to_do_is_refused(bench, tmp_path):
    repo = bench.make_floor_repo(tmp_path, 2)
    (repo / "src" / "step.py").write_text("STEP = 2\n")          # every stage is now out of date
    with pytest.raises(SystemExit, match="was not a no-op"):
        bench.timed_noop(repo)
