"""The qemu kind's report hooks: agreement of the emulated core's answers with the host's, the estimated
device latency (exact instructions x the device's nominal cpi / clock_mhz, from `devices:`), and per core a
table of instructions and estimates, then its end-to-end cost split."""

from __future__ import annotations

import numpy as np

from pipeline.report import tables
from pipeline.report.model import Code, Column, Em, Section, Strong, Table, _bars, _fixed, _pct, _text, _x, e2e_section

COST_LABEL = ("estimated device latency: exact instruction count x CPI / clock, nominal figures of the device "
              "(an estimate)")
ESTIMATE = True

COLUMNS = (
    _text("Variant", "variant"),
    Column("Instructions / inference", "instructions_per_inference", _fixed(",d")),
    Column("vs fp32", "instructions_vs_fp32", _x),
    Column("Estimated device latency (µs, estimate)", "estimated_device_latency_us", _fixed(",.1f")),
    Column("Emulated p50 (µs, QEMU wall time)", "emulated_latency_p50_us", _fixed(",.0f")),
    Column("Top-1 agreement with host", "host_agreement", _pct),
)


def entry(bench: dict, scored: dict) -> dict:
    if bench["status"] != "ok":
        return {"status": bench["status"], "reason": bench["reason"]}
    rec = bench["record"]
    pred = np.asarray(rec["predictions"])
    host = np.asarray(scored["record"]["predictions"])[: len(pred)]  # an emulated core checks the first clips only
    return {"status": "ok", "instructions_per_inference": bench["instructions_per_inference"],
            "emulated_latency_p50_us": rec["latency_p50_us"],
            "host_agreement": round(float(np.mean(pred == host)), 6), "host_mismatches": int(np.sum(pred != host)),
            "agreement_clips": len(pred)}


def complete(metrics: dict, name: str, target, device) -> None:
    for m in metrics.values():
        e = m.get(name)
        if isinstance(e, dict) and e.get("status") == "ok":
            e["estimated_device_latency_us"] = round(e["instructions_per_inference"] * device.cpi / device.clock_mhz, 3)


def cost_us(e: dict) -> float | None:
    return e.get("estimated_device_latency_us")


def rows(metrics: dict, target: str) -> list[dict]:
    out = []
    for vid, m in tables.ordered(metrics):
        t = m.get(target)
        if m["status"] != "ok" or t is None:
            continue
        if t["status"] != "ok":
            out.append({"variant": vid, "status": t["status"], "reason": t["reason"]})
            continue
        ref = tables.reference_of(metrics, vid)
        ref_t = ref.get(target) if ref else None
        ref_ok = ref_t if ref_t and ref_t["status"] == "ok" else None
        out.append({"variant": vid, "status": "ok", "instructions_per_inference": t["instructions_per_inference"],
                    "instructions_vs_fp32": tables.ratio(t["instructions_per_inference"],
                                                         ref_ok and ref_ok["instructions_per_inference"]),
                    "estimated_device_latency_us": t["estimated_device_latency_us"],
                    "emulated_latency_p50_us": t["emulated_latency_p50_us"],
                    "host_agreement": t["host_agreement"], "host_mismatches": t["host_mismatches"]})
    return out


def core_section(name: str, target, device, rows: list[dict]) -> Section:
    note = ("QEMU user mode, ", Code(f"-cpu {target.cpu}"),
            f", standing for {device.board}. Instructions are counted exactly inside the inference region "
            "(deterministic). The device latency is an ", Strong("estimate"),
            f": instructions × CPI {device.cpi:g} / {device.clock_mhz:g} MHz, nominal figures from params.yaml "
            "(devices). Emulated p50 is wall time under QEMU on this host, ", Strong("not"),
            f" device time. Agreement with the host: top-1 on the first {target.agreement_clips} test clips.")
    ok = [r for r in rows if r["status"] == "ok"]
    mismatched = [r for r in ok if r["host_mismatches"]]
    skipped = [r for r in rows if r["status"] != "ok"]
    remarks = []
    if mismatched:
        remarks.append(("Outputs differing from the host: "
                        + ", ".join(f"{r['variant']} ({r['host_mismatches']} clips)" for r in mismatched),))
    if skipped:
        remarks.append((f"Skipped: {skipped[0]['reason']}",))
    if not ok:
        return Section(name, badge="emulated", notes=(note, (Em("No variant ran on this target."),)),
                       remarks=tuple(remarks))
    plot = _bars(ok, "instructions_per_inference", "instructions per inference (log scale)",
                 f"{name}: instructions per inference")
    return Section(name, badge="emulated", notes=(note,), table=Table(tuple(ok), COLUMNS), plots=(plot,),
                   remarks=tuple(remarks))


def sections(ctx, targets: dict) -> list[Section]:
    out = []
    for name, (target, device) in targets.items():
        out.append(core_section(name, target, device, rows(ctx.metrics, name)))
        out += e2e_section(name, tables.e2e_rows(ctx, name), ctx.hop_ms, estimate=True)
    return out
