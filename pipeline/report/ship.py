"""The report's first section, "What to ship": one row per target (the pick, its accuracy, cost and size,
the margin to each constraint, the reduction targets, why), then per target a Pareto plot of accuracy
against cost in which only the front is labelled. Built from the decisions of pipeline/report/decision.py."""

from __future__ import annotations

from pipeline.report.decision import candidates
from pipeline.report.model import Column, Plot, Point, Section, Table, _interval, _kb, _pct, _text, marker


def _cost(v) -> str:
    return "–" if v is None else f"{v / 1e3:,.3f} ms"


def _reduction(d: dict) -> str:
    r = d.get("reduction")
    if not r:
        return "none set"
    against = f"than {r['baseline']}" if r.get("baseline") else "than its fp32 twin"
    goal = f"{100 * r['min_size_reduction']:.0f}% smaller, {r['min_cost_ratio']:g}x cheaper {against}"
    p = r.get("pick")
    pick = (f"; the pick is {100 * p['size_reduction']:.0f}% smaller, {p['cost_ratio']:.2f}x cheaper "
            f"({'meets' if p['met'] else 'misses'} them)") if p else ""
    if r.get("met"):
        return (f"{goal}: met by {r['by']} ({100 * r['size_reduction']:.0f}% smaller, {r['cost_ratio']:.2f}x "
                f"cheaper){pick}")
    if r.get("closest"):
        short = [f"{100 * r['size_short_by']:.0f} points of size"] if r["size_short_by"] > 0 else []
        short += [f"{r['cost_short_by']:.2f}x of cost"] if r["cost_short_by"] > 0 else []
        return (f"{goal}: not met by a shippable variant; closest {r['closest']} ({100 * r['size_reduction']:.0f}% "
                f"smaller, {r['cost_ratio']:.2f}x cheaper: short by {' and '.join(short)}){pick}")
    return f"{goal}: not met ({r.get('why', 'no candidate')})"


def _broken(key: str, excess: float) -> str:
    return "raw_audio (it takes MFCC features)" if key == "raw_audio" else f"{key} by {excess:g}"


def _margins(d: dict) -> str:
    if d.get("pick"):
        m = d["margins"]
        return (f"latency {m['latency_ms']:+.3f} ms, size {m['size_kb']:+,.1f} KB, "
                f"accuracy {100 * m['accuracy']:+.1f} pts")
    breaks = "; ".join(f"{c['variant']} breaks " + ", ".join(_broken(k, v) for k, v in c["breaks"].items())
                       for c in d.get("closest", []))
    return breaks or "–"


SHIP_COLUMNS = (
    _text("Target", "target"), _text("Ship", "pick"), Column("Accuracy", "accuracy", _pct),
    Column("95% interval", "accuracy_ci95", _interval),
    _text("Cost (per inference)", "cost"), Column("Size (KB)", "size_bytes", _kb),
    _text("Margin to each constraint (or what the closest break)", "margins"),
    _text("Reduction targets (same core)", "reduction"), _text("Why", "why"),
)


def ship_rows(ctx) -> list[dict]:
    rows = []
    for target, d in ctx.decisions.items():
        kind = "estimate" if ctx.estimate(target) else "measured"
        pick = ctx.metrics.get(d.get("pick")) or {}
        rows.append({"target": target, "pick": d.get("pick") or "nothing fits", "accuracy": d.get("accuracy"),
                     "accuracy_ci95": pick.get("accuracy_ci95"),
                     "cost": f"{_cost(d.get('cost_us'))} ({kind})" if d.get("pick") else "–",
                     "size_bytes": d.get("size_bytes"), "margins": _margins(d), "reduction": _reduction(d),
                     "why": d["why"]})
    return rows


def pareto_plot(ctx, target: str, decision: dict) -> Plot | None:
    rows = candidates(ctx.metrics, lambda m: ctx.cost_us(m, target))
    if not rows:
        return None
    front = set(decision.get("pareto_front", [])) | ({decision["pick"]} if decision.get("pick") else set())
    kind = "estimated device latency" if ctx.estimate(target) else "measured cost"
    points = tuple(Point(r["cost_us"], 100 * r["accuracy"], r["model"], marker(r["format"]),
                         r["variant"] if r["variant"] in front else "") for r in rows)
    return Plot("scatter", f"{target}: accuracy vs cost (labelled: the pick and the Pareto front of accuracy, cost, size)",
                f"{kind} per inference (µs, log scale)", points, ylabel="test accuracy (%)")


def ship_section(ctx) -> Section:
    note = ("Per target, the most accurate built variant that meets its constraints (params.yaml, ship; ties: the "
            "cheaper, then the smaller). Cost is each target's own figure: measured p50 on the host; on an emulated "
            "core the estimated device latency from the exact instruction count (an estimate, the device's nominal "
            "CPI and clock); for a served target the measured p99 on loopback plus the modelled round trip. "
            "Accuracy is on the test split; the loss budget is against the best fp32 variant.")
    plots = tuple(p for t, d in ctx.decisions.items() if (p := pareto_plot(ctx, t, d)) is not None)
    return Section("What to ship", notes=(note,), table=Table(tuple(ship_rows(ctx)), SHIP_COLUMNS), plots=plots)
