"""Table rows -> Markdown (reports/report.md), with the units and labels spelt out."""

from __future__ import annotations

from typing import Callable


def _num(v, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def _kb(v) -> str:
    return _num(None if v is None else v / 1024, ",.1f")


def _pct(v) -> str:
    return _num(None if v is None else 100 * v, ".1f") + ("" if v is None else "%")


def _pts(v) -> str:
    return "–" if v is None else f"{100 * v:+.1f} pts"


def _x(v) -> str:
    return _num(v, ".2f") + ("" if v is None else "×")


Column = tuple[str, str, Callable]

HOST_COLUMNS: list[Column] = [
    ("Variant", "variant", str),
    ("Size (KB)", "size_bytes", _kb),
    ("Size vs fp32", "size_vs_fp32", _x),
    ("Accuracy", "accuracy", _pct),
    ("Δ accuracy vs fp32", "accuracy_change_vs_fp32", _pts),
    ("Agreement with source", "agreement", _pct),
    ("p50 (µs)", "latency_p50_us", lambda v: _num(v, ",.1f")),
    ("Speed-up vs fp32", "speedup_vs_fp32", _x),
]

TARGET_COLUMNS: list[Column] = [
    ("Variant", "variant", str),
    ("Instructions / inference", "instructions_per_inference", lambda v: _num(v, ",d")),
    ("vs fp32", "instructions_vs_fp32", _x),
    ("Estimated device latency (µs, estimate)", "estimated_device_latency_us", lambda v: _num(v, ",.1f")),
    ("Emulated p50 (µs, QEMU wall time)", "emulated_latency_p50_us", lambda v: _num(v, ",.0f")),
    ("Top-1 agreement with host", "host_agreement", _pct),
]


PARITY_COLUMNS: list[Column] = [
    ("End-to-end variant", "variant", str),
    ("MFCC max abs diff vs librosa", "mfcc_max_abs_diff", lambda v: _num(v, ".1e")),
    ("MFCC mean abs diff", "mfcc_mean_abs_diff", lambda v: _num(v, ".1e")),
    ("Agreement with librosa + Keras", "agreement", _pct),
    ("Accuracy", "accuracy", _pct),
    ("Δ accuracy vs feature-input twin", "accuracy_change_vs_feature_input", _pts),
]

KERNEL_COLUMNS: list[Column] = [
    ("Variant", "variant", str),
    ("Accuracy, host's optimised kernels", "accuracy", _pct),
    ("Accuracy, reference kernels", "reference_kernel_accuracy", _pct),
    ("Top-1 agreement between the two", "reference_kernel_agreement", _pct),
]

KERNEL_NOTE = ("The same files on the runtimes' reference kernels (onnxruntime with graph optimisation off, so every "
               "Q/DQ node runs as written; TFLite's reference op resolver), over the whole test split. For these "
               "variants this host's fast kernels answer differently from the file's own semantics: the "
               "difference is in the CPU's kernels, not in the file (onnxruntime's fused int8 kernels, for "
               "one, saturate on x86 CPUs without VNNI: u8 x s8 pairs summed into int16). A device with other "
               "kernels (the emulated ARM cores below) answers differently again; compare its host agreement.")

E2E_COLUMNS: list[Column] = [
    ("End-to-end variant", "variant", str),
    ("Total (µs)", "total_us", lambda v: _num(v, ",.1f")),
    ("Inference (µs)", "classifier_us", lambda v: _num(v, ",.1f")),
    ("Feature extraction (µs, difference)", "features_us", lambda v: _num(v, ",.1f")),
    ("Features share", "features_share", _pct),
    ("Instructions total", "total_instructions", lambda v: _num(v, ",d")),
    ("Instructions in features", "features_instructions", lambda v: _num(v, ",d")),
    ("RTF, one clip", "rtf_clip", lambda v: _num(v, ".4f")),
    ("Streaming load (of hop budget)", "streaming_load", _pct),
]


def e2e_section(title: str, rows: list[dict], hop_ms: float, estimate: bool) -> list[str]:
    if not rows:
        return []
    kind = ("estimated device latency (instructions / (IPC × clock)): an **estimate**" if estimate
            else "measured p50 on the host")
    return [f"### {title}: end-to-end cost split", "",
            f"Times are the {kind}. Inference is the matching feature-input variant measured in the same run; "
            "feature extraction is the end-to-end figure minus it (a dash where the end-to-end figure was not "
            "above it: the difference is within timing noise). RTF = time / clip length. Streaming: a 1 s "
            f"window moved every {hop_ms:g} ms needs one inference per hop; the load is the share of the "
            f"{hop_ms:g} ms budget it uses (over 100% cannot keep up).", "", table(rows, E2E_COLUMNS), ""]


def table(rows: list[dict], columns: list[Column]) -> str:
    head = "| " + " | ".join(c[0] for c in columns) + " |"
    sep = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"
    body = ["| " + " | ".join(f(row.get(key)) for _, key, f in columns) + " |" for row in rows]
    return "\n".join([head, sep, *body])


def render(host: list[dict], targets: dict[str, tuple[dict, list[dict]]], not_applicable: list[dict],
           threads: int, parity: list[dict] = (), e2e: dict[str, list[dict]] | None = None,
           hop_ms: float = 20.0, kernels: list[dict] = ()) -> str:
    e2e = e2e or {}
    out = ["# Deployment report", "",
           f"Host CPU, {threads} thread(s). Latency: single-sample calls after warm-up, median (p50) in µs. "
           "Ratios compare each variant with the fp32 variant of the same model and format, measured in the same run.",
           "", "## Host", "", table(host, HOST_COLUMNS), ""]
    if kernels:
        out += ["### Host kernels that change the answers", "", KERNEL_NOTE, "", table(list(kernels), KERNEL_COLUMNS), ""]
    if parity:
        out += ["### End-to-end parity", "",
                "End-to-end variants take the raw clip; their in-graph MFCCs are compared with the training "
                "features (librosa, per clip) on every test clip, and their top-1 with librosa features + the "
                "unconverted Keras model.", "", table(parity, PARITY_COLUMNS), ""]
    out += e2e_section("Host", e2e.get("host", []), hop_ms, estimate=False)
    for name, (target, rows) in targets.items():
        out += [f"## {name} (emulated)", "",
                f"QEMU user mode, `-cpu {target['cpu']}`. Instructions are counted exactly inside the inference "
                f"region (deterministic). The device latency is an **estimate**: instructions / "
                f"(IPC {target['ipc']} × {target['clock_ghz']} GHz), both nominal figures from params.yaml. "
                "Emulated p50 is wall time under QEMU on this host, **not** device time. Agreement with the host: "
                f"top-1 on the first {target.get('agreement_clips', '')} test clips.", ""]
        ok = [r for r in rows if r["status"] == "ok"]
        out += [table(ok, TARGET_COLUMNS) if ok else "_No variant ran on this target._", ""]
        out += e2e_section(name, e2e.get(name, []), hop_ms, estimate=True)
        mism = [r for r in ok if r["host_mismatches"]]
        if mism:
            out += ["Outputs differing from the host: " + ", ".join(
                f"{r['variant']} ({r['host_mismatches']} clips)" for r in mism), ""]
        skipped = [r for r in rows if r["status"] != "ok"]
        if skipped:
            out += [f"Skipped: {skipped[0]['reason']}", ""]
    if not_applicable:
        out += ["## Not applicable", "", "| Variant | Why it cannot be built |", "|---|---|"]
        out += [f"| {r['variant']} | {r['reason']} |" for r in not_applicable]
        out.append("")
    return "\n".join(out)
