"""The http kind's report hooks, "Remote vs on-device": per http target, the load test of every served
end-to-end variant (the highest rate within the device's budget), then the same variant's on-device cost per
target beside its remote cost (measured loopback p99 + the modelled round trip), and the round trip below
which remote is the faster of the two (the break-even)."""

from __future__ import annotations

from pipeline.report.model import Column, Section, Table, _fixed, _text

COST_LABEL = "measured p99 on loopback at the lowest offered rate + the modelled network round trip (rtt_ms)"
ESTIMATE = False


def entry(bench: dict, scored: dict) -> dict:
    return bench  # the load test's entry as measured


def complete(metrics: dict, name: str, target, device) -> None:
    """The modelled round trip added to the measured p99, and the highest rate held within the budget."""
    for m in metrics.values():
        e = m.get(name) if isinstance(m, dict) else None
        if not isinstance(e, dict) or e.get("status") != "ok":
            continue
        within = [r["offered_rps"] for r in e["rates"] if r["p99_ms"] is not None and r["p99_ms"] <= device.budget_ms
                  and r["errors"] == 0 and r["lost"] == 0]
        p99 = e["loopback_p99_us"]
        e.update(budget_ms=device.budget_ms, max_rps_within_budget=max(within) if within else None,
                 rtt_us=round(device.rtt_ms * 1e3, 3),
                 remote_cost_us=None if p99 is None else round(p99 + device.rtt_ms * 1e3, 3))


def cost_us(e: dict) -> float | None:
    return e.get("remote_cost_us")

LOAD_NOTE = ("Each end-to-end variant served by `python -m pipeline serve` on 127.0.0.1 and driven open-loop: "
             "arrivals at each offered rate, every latency timed from the request's intended send time, one request "
             "in ten a bad payload that must be refused with a 4xx. Measured on this host (loopback, wall time); "
             "the network is not in these figures.")
COMPARE_NOTE = ("On-device: the variant's own cost on each target (measured p50 on the host; the estimate from exact "
                "instruction counts on an emulated core). Remote: its loopback p99 at the lowest offered rate "
                "(measured) + the round trip `devices.<target>.rtt_ms` from params (modelled, not measured). Break-even: the round "
                "trip below which remote answers sooner than the device.")

LOAD_COLUMNS = (
    _text("Variant", "variant"), _text("p50 / p99 per offered rate (ms)", "per_rate"),
    Column("Highest rate with p99 within budget (req/s)", "max_rps_within_budget", _fixed(",.0f")),
    Column("Errors", "errors", _fixed("d")), Column("Lost", "lost", _fixed("d")),
    Column("Refused bad payloads", "refused", _fixed("d")),
    Column("Server CPU per request (ms)", "cpu_ms", _fixed(",.2f")),
)
COMPARE_COLUMNS = (
    _text("Target", "target"), _text("Variant", "variant"), _text("On-device (ms)", "on_device"),
    Column("Remote: loopback p99 (ms, measured)", "loopback_ms", _fixed(",.3f")),
    Column("+ round trip (ms, modelled)", "rtt_ms", _fixed(",.1f")),
    Column("Remote total (ms)", "remote_ms", _fixed(",.3f")), _text("Break-even round trip", "break_even"),
)


def load_rows(metrics: dict, target: str) -> list[dict]:
    rows = []
    for vid, m in sorted(metrics.items()):
        t = m.get(target) if isinstance(m, dict) else None
        if not isinstance(t, dict) or t.get("status") != "ok":
            continue
        rates = t["rates"]
        per_rate = " · ".join(f"{r['offered_rps']:g}/s: {r['p50_ms']:.2f} / {r['p99_ms']:.2f}" if r["p99_ms"] is not None
                              else f"{r['offered_rps']:g}/s: no answer" for r in rates)
        rows.append({"variant": vid, "per_rate": per_rate, "max_rps_within_budget": t["max_rps_within_budget"],
                     "errors": t["errors"], "lost": t["lost"], "refused": sum(r["refused"] for r in rates),
                     "cpu_ms": rates[0]["server_cpu_ms_per_request"]})
    return rows


def compare_rows(ctx, remote: str) -> list[dict]:
    """The served pick (or the cheapest served variant) against its cost on every target of another kind."""
    vid = ctx.decisions.get(remote, {}).get("pick")
    if vid is None:
        served = [(c, v) for v, m in ctx.metrics.items() if (c := ctx.cost_us(m, remote)) is not None]
        vid = min(served)[1] if served else None
    if vid is None:
        return []
    r = ctx.metrics[vid][remote]
    rows = []
    for target, kind in ctx.kinds.items():
        device = ctx.cost_us(ctx.metrics[vid], target)
        if device is None or kind is ctx.kinds[remote]:
            continue
        gap_ms = device / 1e3 - r["loopback_p99_us"] / 1e3
        rows.append({"target": target, "variant": vid,
                     "on_device": f"{device / 1e3:,.3f} ({'estimate' if ctx.estimate(target) else 'measured'})",
                     "loopback_ms": r["loopback_p99_us"] / 1e3, "rtt_ms": r["rtt_us"] / 1e3,
                     "remote_ms": r["remote_cost_us"] / 1e3,
                     "break_even": f"remote is sooner below {gap_ms:,.2f} ms" if gap_ms > 0
                     else "on-device is sooner at any round trip"})
    return rows


def sections(ctx, targets: dict) -> list[Section]:
    out = []
    for target in targets:
        rows = load_rows(ctx.metrics, target)
        out.append(Section(f"Remote vs on-device: {target}", badge="loopback, measured",
                           notes=((LOAD_NOTE,),), table=Table(tuple(rows), LOAD_COLUMNS)))
        compared = compare_rows(ctx, target)
        if compared:
            out.append(Section(f"The served pick against each device ({target})", level=3, notes=((COMPARE_NOTE,),),
                               table=Table(tuple(compared), COMPARE_COLUMNS)))
    return out
