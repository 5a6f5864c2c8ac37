"""The http kind's report hooks, "Remote vs on-device": per http target, the load test of every served
end-to-end variant (the highest rate within the device's budget), then the same variant's on-device cost per
target beside its remote cost (measured loopback p99 + the modelled round trip), and the round trip below
which remote is the faster of the two (the break-even)."""

from __future__ import annotations

from pipeline.report.model import Column, Section, Table, _fixed, _text, _x

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
        within = [r for r in e["rates"] if r["p99_ms"] is not None and r["p99_ms"] <= device.budget_ms
                  and r["errors"] == 0 and r["lost"] == 0]
        best = max(within, key=lambda r: r["offered_rps"]) if within else None
        p99 = e["loopback_p99_us"]
        e.update(budget_ms=device.budget_ms, max_rps_within_budget=best["offered_rps"] if best else None,
                 # a core's worth of requests at that rate: 1 s of CPU over the server's CPU per request
                 rps_per_core_within_budget=round(1e3 / best["server_cpu_ms_per_request"], 1)
                 if best and best["server_cpu_ms_per_request"] else None,
                 memory_budget_mb=device.memory_budget_mb,
                 memory_within_budget=e["server_peak_rss_mb"] <= device.memory_budget_mb,
                 rtt_us=round(device.rtt_ms * 1e3, 3),
                 remote_cost_us=None if p99 is None else round(p99 + device.rtt_ms * 1e3, 3))


def cost_us(e: dict) -> float | None:
    return e.get("remote_cost_us")

LOAD_NOTE = ("Each end-to-end variant served by `python -m pipeline serve` on 127.0.0.1 and driven open-loop: "
             "arrivals at each offered rate, every latency timed from the request's intended send time, one request "
             "in ten a bad payload that must be refused with a 4xx. Measured on this host (loopback, wall time); "
             "the network is not in these figures. Requests per second per core: at the highest rate within the "
             "budget, one second of CPU over the server's CPU per request.")
SATURATION_NOTE = ("Closed loop (a fixed number of requests in flight) until the server sustains no more: without "
                   "batching, then with `--max-batch`/`--max-wait-ms` where the artefact takes a batch dimension "
                   "(answers equal one-by-one). Model share: the model's calls over the server's CPU per request; "
                   "batching can only speed up that share, so 1 / (1 - share) bounds what it can give. "
                   "Answer cache: a repeated recording and digital silence, ten requests each. Peak RSS: the "
                   "serving processes' resident-memory high-water mark (VmHWM).")
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
    Column("Req/s per core within budget", "rps_per_core", _fixed(",.0f")),
)
SATURATION_COLUMNS = (
    _text("Variant", "variant"),
    Column("Saturation, unbatched (req/s)", "rps", _fixed(",.0f")), _text("p99 (ms)", "p99"),
    Column("Batched (req/s)", "rps_batched", _fixed(",.0f")), _text("Mean batch", "mean_batch"),
    Column("Batching speed-up", "speedup", _x),
    Column("Model share of server CPU", "share", _fixed(".0%")),
    Column("Most batching can give", "bound", _x),
    Column("Answer-cache hit rate", "hit_rate", _fixed(".0%")), _text("Peak RSS (MB) vs budget", "rss"),
)
COMPARE_COLUMNS = (
    _text("Target", "target"), _text("Variant", "variant"), _text("On-device (ms)", "on_device"),
    Column("Remote: loopback p99 (ms, measured)", "loopback_ms", _fixed(",.3f")),
    Column("+ round trip (ms, modelled)", "rtt_ms", _fixed(",.1f")),
    Column("Remote total (ms)", "remote_ms", _fixed(",.3f")), _text("Break-even round trip", "break_even"),
)


def served(metrics: dict, target: str):
    """(variant, its load-test entry) for every variant served on the target, in variant order."""
    for vid, m in sorted(metrics.items()):
        t = m.get(target) if isinstance(m, dict) else None
        if isinstance(t, dict) and t.get("status") == "ok":
            yield vid, t


def load_rows(metrics: dict, target: str) -> list[dict]:
    rows = []
    for vid, t in served(metrics, target):
        rates = t["rates"]
        per_rate = " · ".join(f"{r['offered_rps']:g}/s: {r['p50_ms']:.2f} / {r['p99_ms']:.2f}" if r["p99_ms"] is not None
                              else f"{r['offered_rps']:g}/s: no answer" for r in rates)
        rows.append({"variant": vid, "per_rate": per_rate, "max_rps_within_budget": t["max_rps_within_budget"],
                     "errors": t["errors"], "lost": t["lost"], "refused": sum(r["refused"] for r in rates),
                     "cpu_ms": rates[0]["server_cpu_ms_per_request"], "rps_per_core": t["rps_per_core_within_budget"]})
    return rows


def saturation_rows(metrics: dict, target: str) -> list[dict]:
    rows = []
    for vid, t in served(metrics, target):
        u, b = t["saturation"], t["saturation_batched"]
        cpu_ms = u["server_cpu_ms_per_request"]
        share = u["inference_ms_per_request"] / cpu_ms if cpu_ms else None
        rows.append({"variant": vid, "rps": u["throughput_rps"], "p99": f"{u['p99_ms']:.1f}",
                     "rps_batched": b.get("throughput_rps"),
                     "mean_batch": f"{b['mean_batch']:.2f}" if b.get("mean_batch") else "fixed batch of 1",
                     "speedup": t["batching_speedup"], "share": share,
                     "bound": 1 / (1 - share) if share is not None and share < 1 else None,
                     "hit_rate": t["answer_cache"].get("hit_rate"),
                     "rss": f"{t['server_peak_rss_mb']:.0f} / {t['memory_budget_mb']:.0f}"
                            + ("" if t["memory_within_budget"] else " (over)")})
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
        out.append(Section(f"Serving throughput, batching and the answer cache ({target})", level=3,
                           notes=((SATURATION_NOTE,),),
                           table=Table(tuple(saturation_rows(ctx.metrics, target)), SATURATION_COLUMNS)))
        compared = compare_rows(ctx, target)
        if compared:
            out.append(Section(f"The served pick against each device ({target})", level=3, notes=((COMPARE_NOTE,),),
                               table=Table(tuple(compared), COMPARE_COLUMNS)))
    return out
