"""The no-op benchmark's own mechanics: its floor repo really is a no-op, the figures come from the
timed runs, and a workspace with work to do stops it before anything is timed or rebuilt."""

import importlib.util
import json

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_noop_repro", ROOT / "benchmarks" / "bench_noop_repro.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measure_times_both_repos_with_the_same_stage_count(bench, tmp_path):
    project = bench.make_floor_repo(tmp_path, 3)          # stands in for the project: 3 up-to-date stages
    result = bench.measure(project, runs=2)
    assert result["stages"] == 3 and result["runs"] == 2
    for key in ("project", "dvc_floor_same_stage_count"):
        s = result[key]
        assert 0 < s["min_s"] <= s["median_s"] <= s["max_s"] < 60
    assert result["ratio_median"] == pytest.approx(
        result["project"]["median_s"] / result["dvc_floor_same_stage_count"]["median_s"], abs=0.01)
    json.dumps(result)


def test_a_stale_workspace_is_refused_before_anything_runs(bench, tmp_path):
    repo = bench.make_floor_repo(tmp_path, 2)
    (repo / "src" / "step.py").write_text("STEP = 2\n")          # every stage is now out of date
    with pytest.raises(SystemExit, match="not up to date"):
        bench.measure(repo, runs=1)
    assert bench._dvc(repo, "status", "--quiet").returncode == 1   # refused before any repro ran
    with pytest.raises(SystemExit, match="was not a no-op"):      # and a repro that builds is never a figure
        bench.timed_noop(repo)
