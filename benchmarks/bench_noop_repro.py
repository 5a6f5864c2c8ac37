"""Benchmark a no-op `dvc repro` of this project against DVC's own floor for the same stage count.

    .venv/bin/python benchmarks/bench_noop_repro.py [--runs 10] [--json out.json]

Needs an up-to-date workspace (run `make repro` first): every timed run must print "Data and
pipelines are up to date", and the script stops if one does not. For the floor it builds, in a
temporary git + DVC repo, a pipeline with the same number of stages where each stage has one code
dependency, one `params.yaml` key (a copy of this project's file) and one output: what DVC spends
per stage whatever the stage does. The two are timed interleaved (ours, floor, ours, ...) so that
load from other tenants of a shared machine hits both alike; the ratio is the figure to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.io import atomic_write_text  # noqa: E402

UP_TO_DATE = "Data and pipelines are up to date."


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _dvc(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dvc", *args], cwd=cwd, env=_env(), capture_output=True, text=True)


def require_up_to_date(cwd: Path) -> None:
    """Stop before timing anything if `dvc repro` would build: a stale workspace would be rebuilt
    (minutes, and reports rewritten) and its time reported as a no-op."""
    proc = _dvc(cwd, "status", "--quiet")
    if proc.returncode == 1:
        sys.exit(f"{cwd} is not up to date (`dvc status` lists what changed); run `make repro` first")
    if proc.returncode != 0:
        sys.exit(f"`dvc status` failed in {cwd} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")


def timed_noop(cwd: Path) -> float:
    """Wall seconds of one `dvc repro` that must find nothing to do."""
    start = time.perf_counter()
    proc = _dvc(cwd, "repro")
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"`dvc repro` failed in {cwd} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    if UP_TO_DATE not in proc.stdout:
        sys.exit(f"`dvc repro` in {cwd} was not a no-op (it ran stages):\n{proc.stdout[-2000:]}")
    return elapsed


def stage_count(cwd: Path) -> int:
    proc = _dvc(cwd, "stage", "list", "--name-only")
    if proc.returncode != 0:
        sys.exit(f"`dvc stage list` failed in {cwd}:\n{proc.stderr}")
    return len(proc.stdout.split())


def make_floor_repo(where: Path, stages: int) -> Path:
    """A git + DVC repo with `stages` trivial stages (1 dep, 1 param, 1 out each), reproduced once."""
    repo = where / "floor"
    (repo / "src").mkdir(parents=True)
    (repo / "out").mkdir()
    (repo / "src" / "step.py").write_text("STEP = 1\n")
    shutil.copy(ROOT / "params.yaml", repo / "params.yaml")
    lines = ["stages:"]
    for i in range(stages):
        lines += [f"  s{i}:", f"    cmd: echo {i} > out/s{i}.txt", "    deps: [src/step.py]",
                  "    params: [seed]", f"    outs: [out/s{i}.txt]"]
    (repo / "dvc.yaml").write_text("\n".join(lines) + "\n")
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"],
                ["dvc", "config", "core.analytics", "false"], ["dvc", "repro", "-q"]):
        proc = subprocess.run(cmd, cwd=repo, env=_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"building the floor repo: {' '.join(cmd)} failed:\n{proc.stderr}")
    return repo


def _summary(xs: list[float]) -> dict:
    return {"median_s": round(statistics.median(xs), 3), "min_s": round(min(xs), 3), "max_s": round(max(xs), 3)}


def measure(project: Path, runs: int) -> dict:
    """Interleaved no-op timings of `project` and of a floor repo with its stage count."""
    require_up_to_date(project)
    n_stages = stage_count(project)
    with tempfile.TemporaryDirectory(prefix="noop-floor-") as tmp:
        floor_repo = make_floor_repo(Path(tmp), n_stages)
        timed_noop(project)                                 # warm the page cache and DVC's state db
        timed_noop(floor_repo)
        ours, floor = [], []
        for _ in range(runs):
            ours.append(timed_noop(project))
            floor.append(timed_noop(floor_repo))
    return {"stages": n_stages, "runs": runs, "project": _summary(ours),
            "dvc_floor_same_stage_count": _summary(floor),
            "ratio_median": round(statistics.median(ours) / statistics.median(floor), 2)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="timed no-op runs of each (default 10)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error(f"--runs must be >= 1, got {args.runs}")
    result = measure(ROOT, args.runs)
    print(f"no-op `dvc repro`, {result['stages']} stages, {args.runs} runs each, interleaved")
    for name, key in (("this project", "project"), ("DVC floor (trivial stages)", "dvc_floor_same_stage_count")):
        s = result[key]
        print(f"  {name:28s} median {s['median_s']:.2f} s  (min {s['min_s']:.2f}, max {s['max_s']:.2f})")
    print(f"  ratio of medians: {result['ratio_median']:.2f}")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
