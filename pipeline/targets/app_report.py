"""The app kind's report hooks, "Runs outside Python": per app target, every variant as that runtime's consumer
ran it (loads or the runtime's words, agreement with Python on the same decoded clips, the largest probability
difference, latency, load time) and a verdict. A variant that loads but answers differently is the failure apps
fear most: it is named, and it never ships on that target."""

from __future__ import annotations

import numpy as np

from pipeline.report import tables
from pipeline.report.model import Code, Column, Em, Section, Strong, Table, _fixed, _pct, _text
from pipeline.targets.app import APP_RUNTIMES

COST_LABEL = "measured p50 of one call in the app runtime's consumer on this host (after warm-up)"
ESTIMATE = False
AGREEMENT_FLOOR = 0.995  # top-1 agreement with Python below which the variant is wrong in that runtime

COLUMNS = (
    _text("Variant", "variant"), _text("Verdict", "verdict"),
    Column("Top-1 agreement with Python", "python_agreement", _pct),
    Column("Max |Δ probability|", "max_probability_diff", _fixed(".2g")),
    Column("Agreement with host (float clips)", "host_agreement", _pct),
    Column("p50 / p99 (µs)", "latency", str), Column("Load (ms)", "load_ms", _fixed(",.1f")),
)


def entry(bench: dict, scored: dict) -> dict:
    if bench["status"] != "ok":
        return {"status": bench["status"], "reason": bench["reason"]}
    pred = np.asarray(bench["predictions"])
    host = np.asarray(scored["record"]["predictions"])[: len(pred)]
    kept = {k: v for k, v in bench.items() if k != "predictions"}
    return {**kept, "host_agreement": round(float(np.mean(pred == host)), 6),
            "correct": bench["python_agreement"] >= AGREEMENT_FLOOR}


def complete(metrics: dict, name: str, target, device) -> None:
    pass  # measured: nothing to estimate


def cost_us(e: dict) -> float | None:
    return e.get("latency_p50_us")


def judge(e: dict) -> dict:
    """A variant that answers differently in this runtime breaks it, by how far below the floor it agrees."""
    if e.get("correct", True):
        return {}
    return {"breaks": {"agreement_with_python": round(AGREEMENT_FLOOR - e["python_agreement"], 6)}}


def verdict(t: dict) -> str:
    if t["status"] == "failed":
        return f"does not load: {t['reason']}"
    if t["status"] != "ok":
        return f"{t['status'].replace('_', ' ')}: {t['reason']}"
    return "same answers" if t["correct"] else f"WRONG: {t['python_mismatches']} of {t['clips']} clips differ"


def rows(metrics: dict, target: str) -> list[dict]:
    out = []
    for vid, m in tables.ordered(metrics):
        t = m.get(target) if m.get("status") == "ok" else None
        if t is None or t["status"] == "not_applicable":
            continue
        ok = t["status"] == "ok"
        out.append({"variant": vid, "verdict": verdict(t), "ok": ok, "correct": ok and t["correct"],
                    "python_agreement": t.get("python_agreement"), "max_probability_diff": t.get("max_probability_diff"),
                    "host_agreement": t.get("host_agreement"),
                    "latency": f"{t['latency_p50_us']:,.0f} / {t['latency_p99_us']:,.0f}" if ok else "–",
                    "load_ms": t["load_us"] / 1e3 if ok else None, "version": t.get("runtime_version")})
    return out


ACCELERATOR_NOTE = ("Whether a phone's accelerator can take each bundle, in the runtimes' own words, checked statically "
                    "at convert (not run on a phone): onnxruntime's mobile usability checker for NNAPI (Android) and "
                    "CoreML (iOS), the nodes each takes and the partitions the graph splits into (every partition "
                    "boundary is a copy between the accelerator and the CPU); TFLite's Analyzer for the GPU delegate "
                    "(it flags only what it knows to be incompatible). The same verdicts are in each bundle's sidecar "
                    "(`mobile_accelerators`).")
ACCELERATORS = ("NNAPI", "CoreML", "GPU delegate")


def accelerator_cell(a: dict | None) -> str:
    if a is None:
        return "–"
    if "nodes" not in a:
        return f"{a['verdict']}" + (f": {'; '.join(a['warnings'])}" if a.get("warnings") else "")
    lacks = f", lacks {', '.join(a['unsupported_ops'])}" if a["unsupported_ops"] else ""
    return f"{a['verdict']} ({a['supported_nodes']}/{a['nodes']} nodes, {a['partitions']} partitions{lacks})"


def accelerator_section(metrics: dict) -> Section:
    rows = [{"variant": vid, **{ep: accelerator_cell(m["mobile_accelerators"]["accelerators"].get(ep))
                                for ep in ACCELERATORS}, "note": m["mobile_accelerators"].get("note", "")}
            for vid, m in tables.ordered(metrics) if m.get("status") == "ok" and "mobile_accelerators" in m]
    columns = (_text("Variant", "variant"), *(_text(ep, ep) for ep in ACCELERATORS), _text("Note", "note"))
    return Section("Mobile accelerators", badge="static check", notes=(ACCELERATOR_NOTE,),
                   table=Table(tuple(rows), columns) if rows else None)


def sections(ctx, targets: dict) -> list[Section]:
    out = [accelerator_section(ctx.metrics)]
    for name, (target, _device) in targets.items():
        runtime = APP_RUNTIMES[target.runtime]
        found = rows(ctx.metrics, name)
        version = next((r["version"] for r in found if r["version"]), "not run")
        clips = "the whole test split" if target.clips is None else f"the first {target.clips} test clips"
        note = (f"{runtime.name} {version}, through its reference consumer in {runtime.language} (",
                Code(str(runtime.consumer.relative_to(runtime.consumer.parents[3]))),
                f"): no Python between the file and the label. It decodes {clips} from 16-bit PCM WAVs (end-to-end "
                "variants) or reads float32 MFCCs, quantizes and dequantizes with the sidecar's scale and zero point, "
                "and is compared with the Python runtime on the same decoded inputs. Measured on this host (wall "
                f"time, one call per clip after warm-up). Below {AGREEMENT_FLOOR:.1%} top-1 agreement a variant is ",
                Strong("wrong"), " in this runtime and does not ship here.")
        wrong = [r["variant"] for r in found if r["ok"] and not r["correct"]]
        failed = [r["variant"] for r in found if not r["ok"]]
        remarks = []
        if wrong:
            remarks.append((Strong("Loads but answers differently:"), " " + ", ".join(wrong)))
        if failed:
            remarks.append(("Does not load: ", ", ".join(failed)))
        if not found:
            remarks.append((Em("No variant of a format this runtime runs."),))
        out.append(Section(f"Runs outside Python: {name}", badge="measured", notes=(note,),
                           table=Table(tuple(found), COLUMNS) if found else None, remarks=tuple(remarks)))
    return out
