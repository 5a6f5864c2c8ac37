"""What to ship, per target: among the built variants that meet the target's constraints (params.yaml
`ship.<target>`), the most accurate (ties: the cheaper, then the smaller, then the id); the Pareto front of
accuracy, cost and size; when nothing fits, which constraint each close candidate breaks and by how much
(an accuracy loss only when the paired test on the same clips resolves it beyond the budget). Where
`reduction` is set, the pick must also meet the reduction targets on the same core (against the named
baseline, or each variant's fp32 twin); the decision says which variants meet them, or the closest.

The cost per target is its kind's own figure, stated with the decision (pipeline/targets/<kind>_report.py:
the measured p50 on the host, an estimate from exact instruction counts on an emulated core). Pure
functions over the metrics dict (reports/metrics.json) and plain dicts of constraints.
"""

from __future__ import annotations

from typing import Annotated, Callable

from pydantic import Field

from pipeline.report.paired import resolves_more_than, sentence
from pipeline.schema import PositiveFloat, Strict
from pipeline.variants import REFERENCE_LEVEL, is_e2e, variant_id


class Reduction(Strict):
    """The reduction a shippable variant must reach on the same core: against `baseline` (a variant id, the
    unoptimized model), or, when it is null, against the fp32 variant of its own model and format."""

    min_size_reduction: Annotated[float, Field(gt=0, lt=1)]  # 0.5: at least 50% smaller
    min_cost_ratio: Annotated[float, Field(ge=1)]            # 2.0: at least 2x cheaper
    baseline: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$")] | None  # keras_e2e.tflite.fp32


class ShipConstraints(Strict):
    """`ship.<target>`: what a variant must meet to be shipped there."""

    max_latency_ms: PositiveFloat          # per inference: the streaming hop is the budget
    max_size_kb: PositiveFloat             # the artefact file
    max_accuracy_loss: Annotated[float, Field(ge=0, le=1)]  # below the best fp32 variant (0.01 = 1 point)
    raw_audio: bool                        # true: only end-to-end artefacts (no preprocessing left in the app)
    reduction: Reduction | None            # the reduction targets checked and stated (null: none)

METRICS_KEY = "ship"  # the decisions' top-level key in reports/metrics.json, beside the variants

Cost = Callable[[dict], "float | None"]  # a variant's metrics -> its cost on the target (the kind's figure)
# a variant's metrics -> its target kind's judgement: {"breaks": {constraint: excess}, "caveat": str, "size_bytes":
# what the target stores when it is not the artefact file (a firmware's flash)}, each optional
Judge = Callable[[dict], dict]
# (baseline id, variant id) -> the paired test of their answers on the same test clips
# (pipeline/report/paired.py), None when either has no per-clip answers
Paired = Callable[[str, str], "dict | None"]


def _no_judgement(m: dict) -> dict:
    return {}


def candidates(metrics: dict, cost_of: Cost, judge: Judge = _no_judgement) -> list[dict]:
    rows = []
    for vid, m in sorted(metrics.items()):
        cost = cost_of(m) if isinstance(m, dict) else None
        if cost is not None:
            said = judge(m)
            rows.append({"variant": vid, "model": m["model"], "format": m["format"], "quantization": m["quantization"],
                         "accuracy": m["accuracy"], "cost_us": cost, "size_bytes": said.get("size_bytes", m["size_bytes"]),
                         "raw_audio": is_e2e(m["model"]), "breaks": said.get("breaks", {}), "caveat": said.get("caveat")})
    return rows


def violations(c: dict, limits: dict, best_fp32: float, pair: dict | None = None) -> dict[str, float]:
    """constraint -> by how much the candidate breaks it (in the constraint's unit); empty when it fits. With
    the paired test against the baseline, the accuracy budget is broken only by a loss the clips resolve."""
    out = {}
    if c["cost_us"] / 1e3 > limits["max_latency_ms"]:
        out["max_latency_ms"] = round(c["cost_us"] / 1e3 - limits["max_latency_ms"], 6)
    if c["size_bytes"] / 1024 > limits["max_size_kb"]:
        out["max_size_kb"] = round(c["size_bytes"] / 1024 - limits["max_size_kb"], 3)
    budget = limits["max_accuracy_loss"]
    if pair is not None:
        if resolves_more_than(pair, budget):
            out["max_accuracy_loss"] = round(max(pair["loss"], pair["loss_ci95"][0]) - budget, 6)
    elif c["accuracy"] < best_fp32 - budget - 1e-12:
        out["max_accuracy_loss"] = round(best_fp32 - budget - c["accuracy"], 6)
    if limits["raw_audio"] and not c["raw_audio"]:
        out["raw_audio"] = 1.0
    return {**out, **c.get("breaks", {})}  # and what the target's kind judges (a part's flash and RAM)


def pareto_front(rows: list[dict]) -> list[str]:
    """Ids of the rows no other row beats on accuracy, cost and size at once."""
    def dominates(a, b):
        no_worse = a["accuracy"] >= b["accuracy"] and a["cost_us"] <= b["cost_us"] and a["size_bytes"] <= b["size_bytes"]
        better = a["accuracy"] > b["accuracy"] or a["cost_us"] < b["cost_us"] or a["size_bytes"] < b["size_bytes"]
        return no_worse and better
    return [r["variant"] for r in rows if not any(dominates(o, r) for o in rows)]


def _rank(c: dict) -> tuple:
    return (-c["accuracy"], c["cost_us"], c["size_bytes"], c["variant"])


def _against(r: dict, ref: dict) -> tuple[float, float]:
    """(size reduction, cost ratio) of a variant against a reference on the same core."""
    return 1 - r["size_bytes"] / ref["size_bytes"], ref["cost_us"] / r["cost_us"]


def reduction_check(rows: list[dict], wanted: dict | None, shippable: Callable[[dict], bool] = lambda r: True,
                    pick: str | None = None) -> dict | None:
    """Size reduction and cost ratio on the same core, against the named baseline or, without one, the fp32
    variant of the same model and format: met by which shippable variant (accuracy within the budget, the
    input the target takes), or the closest and by how much; and where the pick stands."""
    if wanted is None:
        return None
    by_id = {r["variant"]: r for r in rows}
    baseline = wanted.get("baseline")
    if baseline is not None and baseline not in by_id:
        return {**wanted, "met": False, "by": None, "closest": None,
                "why": f"the baseline {baseline} has no cost on this target (not built, failed or not measured)"}
    out = {**wanted}
    if baseline is not None and pick is not None:
        size_reduction, cost_ratio = _against(by_id[pick], by_id[baseline])
        out["pick"] = {"variant": pick, "size_reduction": round(size_reduction, 4), "cost_ratio": round(cost_ratio, 3),
                       "met": size_reduction >= wanted["min_size_reduction"] and cost_ratio >= wanted["min_cost_ratio"]}
    scored = []
    for r in rows:
        ref = by_id[baseline] if baseline else by_id.get(variant_id(r["model"], r["format"], REFERENCE_LEVEL))
        if ref is None or r is ref or (not baseline and r["quantization"] == REFERENCE_LEVEL) or not shippable(r):
            continue
        size_reduction, cost_ratio = _against(r, ref)
        score = min(size_reduction / wanted["min_size_reduction"], cost_ratio / wanted["min_cost_ratio"])
        scored.append({"variant": r["variant"], "accuracy": r["accuracy"], "size_reduction": round(size_reduction, 4),
                       "cost_ratio": round(cost_ratio, 3), "score": score})
    if not scored:
        return {**out, "met": False, "by": None, "closest": None,
                "why": "no shippable variant to compare" if baseline else "no quantized variant with an fp32 twin"}
    meeting = sorted((s for s in scored if s["score"] >= 1), key=lambda s: (-s["accuracy"], -s["score"], s["variant"]))
    if meeting:
        return {**out, "met": True, "by": meeting[0]["variant"], "size_reduction": meeting[0]["size_reduction"],
                "cost_ratio": meeting[0]["cost_ratio"], "also": [s["variant"] for s in meeting[1:]]}
    best = max(scored, key=lambda s: (s["score"], s["accuracy"], s["variant"]))
    return {**out, "met": False, "by": None, "closest": best["variant"], "size_reduction": best["size_reduction"],
            "cost_ratio": best["cost_ratio"],
            "size_short_by": round(max(0.0, wanted["min_size_reduction"] - best["size_reduction"]), 4),
            "cost_short_by": round(max(0.0, wanted["min_cost_ratio"] - best["cost_ratio"]), 3)}


def reduction_shortfalls(rows: list[dict], wanted: dict | None) -> dict[str, dict[str, float]]:
    """variant -> by how much it misses each reduction target on this core (against the named baseline, or
    its own fp32 twin); a variant with nothing to compare against misses both by the whole target."""
    if wanted is None:
        return {}
    by_id = {r["variant"]: r for r in rows}
    out = {}
    for r in rows:
        base = wanted.get("baseline")
        ref = by_id.get(base) if base else by_id.get(variant_id(r["model"], r["format"], REFERENCE_LEVEL))
        size_reduction, cost_ratio = (0.0, 1.0) if ref is None or ref is r else _against(r, ref)
        short = {"min_size_reduction": round(wanted["min_size_reduction"] - size_reduction, 4),
                 "min_cost_ratio": round(wanted["min_cost_ratio"] - cost_ratio, 3)}
        out[r["variant"]] = {k: v for k, v in short.items() if v > 0}
    return out


def _no_pairs(base: str, vid: str) -> None:
    return None


def decide(metrics: dict, target: str, limits: dict, label: str, cost_of: Cost, judge: Judge = _no_judgement,
           paired: Paired = _no_pairs) -> dict:
    """The decision for one target (a JSON-able dict, the metrics' `ship.<target>`); label: what its cost is.
    The accuracy budget is against the most accurate fp32 variant (the baseline), by `paired` where given."""
    rows = candidates(metrics, cost_of, judge)
    fp32_ids = sorted((vid for vid, m in metrics.items() if isinstance(m, dict) and m.get("status") == "ok"
                       and m["quantization"] == REFERENCE_LEVEL), key=lambda v: (-metrics[v]["accuracy"], v))
    fp32 = [metrics[v]["accuracy"] for v in fp32_ids]
    decision = {"cost": label, "constraints": dict(limits),
                "candidates": len(rows)}
    if not rows:
        return {**decision, "pick": None, "why": f"no variant was measured on {target} (skipped or not built)"}
    if not fp32:  # params require fp32; a metrics file from elsewhere may still lack it
        return {**decision, "pick": None, "why": "no fp32 variant was built: nothing to measure the accuracy loss against"}
    best_fp32, baseline = max(fp32), fp32_ids[0]
    decision["best_fp32_accuracy"] = best_fp32
    decision["accuracy_baseline"] = baseline
    pairs = {r["variant"]: paired(baseline, r["variant"]) for r in rows}
    broken = {r["variant"]: violations(r, limits, best_fp32, pairs[r["variant"]]) for r in rows}
    for vid, short in reduction_shortfalls(rows, limits.get("reduction")).items():
        broken[vid].update(short)  # the reduction targets are constraints of the pick like the others
    fitting = sorted((r for r in rows if not broken[r["variant"]]), key=_rank)
    decision["pareto_front"] = pareto_front(rows)
    unshippable = {"max_accuracy_loss", "raw_audio"}  # whatever its size, it could not ship here
    decision["reduction"] = reduction_check(rows, limits.get("reduction"),
                                            lambda r: not unshippable & set(broken[r["variant"]]),
                                            fitting[0]["variant"] if fitting else None)
    if fitting:
        pick = fitting[0]
        margins = {"latency_ms": round(limits["max_latency_ms"] - pick["cost_us"] / 1e3, 6),
                   "size_kb": round(limits["max_size_kb"] - pick["size_bytes"] / 1024, 3),
                   "accuracy": round(pick["accuracy"] - (best_fp32 - limits["max_accuracy_loss"]), 6)}
        why = (f"the most accurate of {len(fitting)} variant(s) meeting every constraint"
               + (" (tie broken by cost, then size)" if len(fitting) > 1 and fitting[1]["accuracy"] == pick["accuracy"]
                  else ""))
        pair = pairs[pick["variant"]]
        if pair is not None:
            why += f"; {sentence(pair, baseline, limits['max_accuracy_loss'])}"
        if pick["caveat"]:  # the pick rests on an estimate the kind names
            why += f"; {pick['caveat']}"
        return {**decision, "pick": pick["variant"], "accuracy": pick["accuracy"], "cost_us": pick["cost_us"],
                "size_bytes": pick["size_bytes"], "margins": margins, "meets": len(fitting),
                "paired_test": pair, "why": why}
    closest = sorted(rows, key=lambda r: (len(broken[r["variant"]]), _relative_excess(broken[r["variant"]], limits),
                                          r["variant"]))[:3]
    every = sorted(set.intersection(*(set(b) for b in broken.values())))
    return {**decision, "pick": None, "broken_by_every_candidate": every,
            "closest": [{"variant": c["variant"], "breaks": broken[c["variant"]]} for c in closest],
            "why": "nothing meets the constraints" + (f"; every candidate breaks {every}" if every else "")}


def _relative_excess(broken: dict[str, float], limits: dict) -> float:
    total = 0.0
    for key, excess in broken.items():
        limit = limits.get(key)
        total += excess / limit if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit else 1.0
    return total


def decide_all(metrics: dict, ship: dict[str, dict], costs: dict[str, tuple],
               paired: Paired = _no_pairs) -> dict[str, dict]:
    """costs: target -> (what its cost is, how to read it from a variant's metrics[, its kind's judgement])."""
    return {target: decide(metrics, target, limits, *costs[target], paired=paired) for target, limits in ship.items()}
