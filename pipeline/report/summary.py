"""The DVC metrics (reports/summary/): one small file per variant (accuracy, size) and per target (the pick
and its cost; its accuracy and size are in its own file),
so that `dvc metrics show` is a table of one row per variant and `dvc exp show` has a few columns each. The
full detail stays in reports/metrics.json, which `compare` reads; these files only repeat figures from it."""

from __future__ import annotations


def _kb(size_bytes: int | None) -> float | None:
    return None if size_bytes is None else round(size_bytes / 1024, 1)


def _variant(m: dict) -> dict:
    if m["status"] != "ok":  # a failed variant stays visible as a row
        return {"status": m["status"]}
    return {"accuracy": m["accuracy"], "size_kb": _kb(m["size_bytes"])}


def summary(metrics: dict, decisions: dict) -> dict[str, dict]:
    """{file name: figures}: `<variant>.json` for every built or failed variant (not_applicable ones have no
    figures), `ship.<target>.json` with the pick and its cost per target."""
    files = {f"{vid}.json": _variant(m) for vid, m in sorted(metrics.items()) if m["status"] != "not_applicable"}
    for target, d in sorted(decisions.items()):
        files[f"ship.{target}.json"] = {"pick": d.get("pick"), "cost_us": d.get("cost_us")}
    return files
