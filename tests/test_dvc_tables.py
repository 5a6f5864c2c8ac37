"""DVC's own tables stay usable on the committed default run: `dvc exp show` has at most 250 columns, all
with real values, and `dvc metrics show` is one short row per variant and per target (reports/summary/),
while the detail (reports/metrics.json) is an output that `compare` reads, not a metrics file."""

from __future__ import annotations

import json

from conftest import ROOT, run

SUMMARY = "reports/summary"


def _leaves(obj) -> int:
    return sum(_leaves(v) for v in obj.values()) if isinstance(obj, dict) else 1


def _workspace_row() -> dict:
    rows = json.loads(run(["dvc", "exp", "show", "--json", "--no-pager"], ROOT).stdout)
    return next(r for r in rows if r["rev"] == "workspace")["data"]


def _detail() -> dict:
    return json.loads((ROOT / "reports/metrics.json").read_text())


def test_exp_show_fits_in_250_columns_with_real_values():
    row = _workspace_row()
    assert set(row["metrics"]) == {f"{SUMMARY}/{p.name}" for p in (ROOT / SUMMARY).glob("*.json")}
    columns = 2 + sum(_leaves(f["data"]) for f in (*row["metrics"].values(), *row["params"].values())) \
        + len(row["deps"])
    assert columns <= 250, f"dvc exp show has {columns} columns"
    detail = _detail()
    decisions = detail.pop("ship")
    built = {vid for vid, m in detail.items() if m["status"] == "ok"}
    shown = {path.split("/")[-1][:-len(".json")]: f["data"] for path, f in row["metrics"].items()}
    for vid in built:
        assert shown[vid] == {"accuracy": detail[vid]["accuracy"],
                              "size_kb": round(detail[vid]["size_bytes"] / 1024, 1)}, vid
    for target, d in decisions.items():
        assert shown[f"ship.{target}"] == {"pick": d["pick"], "cost_us": d["cost_us"]}
        if d["pick"]:  # the pick's accuracy and size are its own row's
            assert shown[d["pick"]]["accuracy"] == d["accuracy"]
    assert set(shown) == built | {f"ship.{t}" for t in decisions}  # not_applicable variants have no figures


def test_metrics_show_is_one_short_row_per_variant():
    out = run(["dvc", "metrics", "show"], ROOT).stdout.splitlines()
    assert out[0].split() == ["Path", "accuracy", "cost_us", "pick", "size_kb"]
    assert len(out) == 1 + len(list((ROOT / SUMMARY).glob("*.json")))
    assert max(map(len, out)) <= 250


def test_the_detail_is_an_output_not_dvc_metrics():
    import yaml

    report = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["report"]
    assert [next(iter(m)) for m in report["metrics"]] == [SUMMARY]
    assert "reports/metrics.json" in [next(iter(o)) for o in report["outs"]]
