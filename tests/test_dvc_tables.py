"""DVC's own tables stay what a user reads: after a one-parameter experiment, `dvc exp show --only-changed` has
that parameter and the metrics it moved and nothing else of the params, metrics and deps, however many targets,
models and params there are; `dvc metrics show` is one short row per variant and per target (reports/summary/)
with the detail's values, while the detail (reports/metrics.json) is an output that `compare` reads, not a
metrics file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from conftest import ROOT, run

SUMMARY = "reports/summary"
# what every `dvc exp show --csv` has besides params, metrics and deps
OVERHEAD = {"Experiment", "rev", "typ", "Created", "parent", "State", "Executor"}


def _leaves(obj, prefix: str = "") -> dict:
    if not isinstance(obj, dict):
        return {prefix: obj}
    return {k: v for key, sub in obj.items() for k, v in _leaves(sub, f"{prefix}.{key}" if prefix else key).items()}


def _columns(row: dict) -> dict:
    """One `dvc exp show` row as {column: value}, the columns named as its CSV names them."""
    params = {k: v for f in row["params"].values() for k, v in _leaves(f["data"]).items()}
    metrics = {f"{path}:{k}": v for path, f in row["metrics"].items() for k, v in _leaves(f["data"]).items()}
    return {**params, **metrics, **{path: d["hash"] for path, d in row["deps"].items()}}


def _detail(project: Path) -> dict:
    return json.loads((project / "reports/metrics.json").read_text())


def test_a_one_param_experiment_shows_that_param_and_the_metrics_it_moved(built_copy: Path):
    """A decision's constraint is the cheapest real change (only the report re-runs): a latency no variant
    meets takes the pick away, so the target's pick and cost change and nothing else."""
    target = next(t for t, d in sorted(_detail(built_copy)["ship"].items()) if d["pick"])
    param = f"ship.{target}.max_latency_ms"
    run(["git", "add", "-A"], built_copy)  # an experiment starts from a commit: the built state
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "built"], built_copy)
    run(["dvc", "exp", "run", "--temp", "-S", f"{param}=0.001"], built_copy, timeout=900)

    baseline = next(r for r in json.loads(run(["dvc", "exp", "show", "--json"], built_copy).stdout)
                    if r["rev"] != "workspace")
    exp = baseline["experiments"][0]["revs"][0]["data"]
    before, after = _columns(baseline["data"]), _columns(exp)
    changed = {c for c in before.keys() | after.keys() if before.get(c) != after.get(c)}
    assert param in changed and f"{SUMMARY}/ship.{target}.json:pick" in changed, changed
    assert all(c == param or c.startswith(f"{SUMMARY}/ship.{target}.json:") for c in changed), changed

    table = list(csv.reader(io.StringIO(run(["dvc", "exp", "show", "--only-changed", "--csv"], built_copy).stdout)))
    header, rows = table[0], table[1:]
    assert set(header) - OVERHEAD == changed, header
    assert len(header) <= len(changed) + len(OVERHEAD)
    assert len(rows) == 3  # the workspace, the commit and the experiment


def test_metrics_show_is_one_short_row_per_summary_file():
    """On the committed default run: one row per file of reports/summary/, four figures wide at most."""
    files = list((ROOT / SUMMARY).glob("*.json"))
    out = run(["dvc", "metrics", "show"], ROOT).stdout.splitlines()
    assert out[0].split() == ["Path", "accuracy", "cost_us", "pick", "size_kb"]
    assert sorted(line.split()[0] for line in out[1:]) == sorted(f"{SUMMARY}/{p.name}" for p in files)
    assert all(len(line.split()) <= 5 for line in out[1:])
    assert max(map(len, out)) <= 132  # fits a wide terminal


def test_the_summary_holds_the_details_figures():
    """On the committed default run: what DVC shows for each variant and target is the detail's figure."""
    [workspace] = json.loads(run(["dvc", "metrics", "show", "--json"], ROOT).stdout).values()  # its one revision
    shown = {path.split("/")[-1][:-len(".json")]: f["data"] for path, f in workspace["data"].items()}
    detail = _detail(ROOT)
    decisions = detail.pop("ship")
    built = {vid for vid, m in detail.items() if m["status"] == "ok"}
    for vid in built:
        assert shown[vid] == {"accuracy": detail[vid]["accuracy"],
                              "size_kb": round(detail[vid]["size_bytes"] / 1024, 1)}, vid
    for target, d in decisions.items():
        # nothing fits: the file holds nulls, which `dvc metrics show` leaves out
        assert shown[f"ship.{target}"] == ({"pick": d["pick"], "cost_us": d["cost_us"]} if d["pick"] else {})
        if d["pick"]:  # the pick's accuracy and size are its own row's
            assert shown[d["pick"]]["accuracy"] == d["accuracy"]
    assert set(shown) == built | {f"ship.{t}" for t in decisions}  # not_applicable variants have no figures


def test_the_detail_is_an_output_not_dvc_metrics():
    import yaml

    report = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["report"]
    assert [next(iter(m)) for m in report["metrics"]] == [SUMMARY]
    assert "reports/metrics.json" in [next(iter(o)) for o in report["outs"]]
