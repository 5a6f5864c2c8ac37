"""Searching the DVC way: a grid of experiments through DVC's queue, then `python -m pipeline pick` applies
each target's ship decision across all of them (pipeline/compare/pick.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from conftest import ROOT, run
from pipeline.compare.pick import HEAD, changed_params, pick_across

GIT = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]


def decision(pick, accuracy=None, cost=None, size=None, why="the most accurate meeting every constraint"):
    return {"pick": pick, "accuracy": accuracy, "cost_us": cost, "size_bytes": size, "why": why}


def run_of(ship: dict, **variants) -> dict:
    return {"ship": ship, **variants}


def test_the_most_accurate_pick_wins_and_every_other_run_says_why():
    runs = {
        HEAD: run_of({"a53": decision("k.tflite.fp32", 0.90, 900.0, 100_000)},
                     **{"k.tflite.fp32": {"accuracy_ci95": [0.86, 0.93]}}),
        "wide": run_of({"a53": decision("w.tflite.int8", 0.92, 400.0, 30_000)},
                       **{"w.tflite.int8": {"accuracy_ci95": [0.88, 0.95]}}),
        "tiny": run_of({"a53": decision(None, why="nothing meets the constraints")}),
        "twin": run_of({"a53": decision("t.tflite.int8", 0.92, 500.0, 20_000)}),
    }
    out = pick_across(runs, {"wide": {"keras.k.filters": 48}})["a53"]
    assert out["winner"]["experiment"] == "wide" and out["winner"]["changed"] == {"keras.k.filters": 48}
    assert out["keep"].startswith("dvc exp apply wide")
    verdicts = {r["experiment"]: r["verdict"] for r in out["rows"]}
    assert verdicts["tiny"] == "ships nothing: nothing meets the constraints"
    assert verdicts["twin"] == "as accurate as the winner, but costlier or larger"
    assert verdicts[HEAD].startswith("less accurate: 90.0% against 92.0%") and "cannot tell them apart" in verdicts[HEAD]
    assert set(out["pareto_front"]) == {"wide:w.tflite.int8", "twin:t.tflite.int8"}  # HEAD is beaten on all three


def test_changed_params_are_the_flattened_difference():
    assert changed_params({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == {"a.c": 3, "d": 4}


def test_a_grid_through_dvc_queue_then_pick_names_a_winner_per_target(built_copy: Path):
    """Four configurations (2 calibration sizes x 2 size budgets) queued and run two at a time on the tiny build,
    the measurement and emulation caches shared; pick then names a winner for every target."""
    project = built_copy
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["ship"]["cortex-a53"]["reduction"] = None  # two epochs on 60 clips: nothing reaches 70% and 3x here
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro"], project, timeout=600)  # the report alone
    run([*GIT, "add", "-A"], project)
    run([*GIT, "commit", "-qm", "built"], project)
    run(["dvc", "exp", "run", "--queue", "-S", "quantization.int8.calibration_samples=choice(4,16)",
         "-S", "ship.cortex-a53.max_size_kb=choice(24,64)"], project)
    run(["dvc", "queue", "start", "-j", "2"], project)
    deadline = time.monotonic() + 1500
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], project).stdout
        if not any(word in status for word in ("Queued", "Running")):
            break
        time.sleep(5)
    assert "Success" in status and "Failed" not in status, status
    res = run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "pick", "--json"], project)
    result = json.loads(res.stdout)
    assert set(result) == {"host", "cortex-a53", "cortex-m4", "node-onnxruntime", "chromium-onnxruntime-web", "c-tflite"}
    for target, r in result.items():
        assert len(r["rows"]) == 5, r["rows"]  # HEAD and the four experiments
        if target == "c-tflite" and not r["winner"]:
            continue  # its TFLite files are the tiny build's 2-epoch CNNs: none within the accuracy budget
        assert r["winner"] and r["winner"]["pick"], (target, r)
        assert [row["verdict"] for row in r["rows"] if row["experiment"] == r["winner"]["experiment"]][0].startswith("winner")
    budgets = {row["changed"].get("ship.cortex-a53.max_size_kb") for row in result["cortex-a53"]["rows"]
               if row["experiment"] != HEAD}
    assert budgets == {24, 64}  # each experiment names what it changed
    text = run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "pick"], project).stdout
    assert "## cortex-a53" in text and ("dvc exp apply" in text or "the commit checked out holds it" in text)
