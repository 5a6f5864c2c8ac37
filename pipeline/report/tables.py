"""Benchmark results -> the metrics dict (reports/metrics.json) and table rows with ratios vs fp32.

Pure functions: they take parsed JSON and return data; the report stage does the files.
"""

from __future__ import annotations

import math
from typing import Callable


from pipeline.errors import PipelineError
from pipeline.models.keras_models import ARCHITECTURES
from pipeline.variants import REFERENCE_LEVEL, feature_input_twin, is_e2e, split_variant_id, variant_id

HOST_FIELDS = ("latency_p50_us", "latency_p90_us", "latency_p99_us", "latency_mean_us", "latency_std_us",
               "load_ms", "peak_rss_mb")
PARITY_FIELDS = ("mfcc_max_abs_diff", "mfcc_mean_abs_diff")  # end-to-end variants: in-graph vs training MFCCs
# The host's optimised kernels against the runtime's reference kernels on the same file (test split).
KERNEL_FIELDS = ("reference_kernel_agreement", "reference_kernel_accuracy")
KERNEL_AGREEMENT_FLOOR = 0.99  # below this, the report names the variant: the host's kernels change its answers

# The numbers the target kinds' report hooks write into a target's entry (pipeline/targets/*_report.py).
TARGET_FIELDS = ("instructions_per_inference", "emulated_latency_p50_us", "estimated_device_latency_us",
                 "host_agreement", "host_mismatches", "agreement_clips", "loopback_p99_us", "remote_cost_us")
# Every number the report can write, whether or not a run measured it (a skipped target still has names).
METRIC_FIELDS = frozenset(("size_bytes", "accuracy", "agreement", *PARITY_FIELDS, *HOST_FIELDS, *KERNEL_FIELDS,
                           *TARGET_FIELDS))


class StaleResults(PipelineError):
    """A variant was built but its benchmark result is missing: run the benchmark stage."""


def host_target_entry(b: dict) -> dict:
    rec = b["record"]
    return {"status": "ok", **{k: rec[k] for k in HOST_FIELDS}, **{k: b[k] for k in KERNEL_FIELDS if k in b}}


def build_metrics(indexes: dict[str, dict], bench: dict[str, dict[str, dict]], scoring: str,
                  entries: dict[str, Callable[[dict, dict], dict]]) -> dict:
    """indexes: level -> convert index; bench: target -> level -> benchmark entries. scoring: the target whose
    entries carry each variant's accuracy; entries: target -> its kind's hook making the metrics entry from
    its benchmark entry and the scoring one."""
    metrics: dict[str, dict] = {}
    for level, index in indexes.items():
        for vid, entry in sorted(index.items()):
            model, fmt, lvl = split_variant_id(vid)
            m = {"model": model, "format": fmt, "quantization": lvl, "status": entry["status"]}
            if entry["status"] != "ok":  # not_applicable: its reason; failed: the error
                metrics[vid] = {**m, **{k: entry[k] for k in ("reason", "error") if k in entry}}
                continue
            scored = bench.get(scoring, {}).get(level, {}).get(vid)
            if scored is None:
                raise StaleResults(f"{vid} was built but has no {scoring} benchmark result (run: dvc repro)")
            for key in ("quant_error", "mobile_accelerators"):  # from convert: the bundle's own diagnostics
                if key in entry:
                    m[key] = entry[key]
            clips = len(scored["record"]["predictions"])
            m.update(size_bytes=entry["size_bytes"], accuracy=scored["accuracy"], test_clips=clips,
                     accuracy_ci95=wilson_interval(scored["accuracy"], clips), agreement=scored["agreement"],
                     per_class_accuracy=scored["per_class_accuracy"],
                     **{k: scored[k] for k in PARITY_FIELDS if k in scored})
            if "tflm" in scored:  # TFLite Micro's verdict on the file (pipeline/bench/tflm.py)
                m["tflm"] = scored["tflm"]
            for target, make in entries.items():
                b = bench.get(target, {}).get(level, {}).get(vid)
                if b is None:
                    raise StaleResults(f"{vid} has no result for target {target} (run: dvc repro)")
                m[target] = make(b, scored)
            metrics[vid] = m
    return metrics


def wilson_interval(p: float, n: int, z: float = 1.959964) -> list[float]:
    """The 95% Wilson score interval of a proportion p measured on n clips: what the test split can resolve."""
    centre, spread = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [round((centre - spread) / (1 + z * z / n), 6), round((centre + spread) / (1 + z * z / n), 6)]


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or (isinstance(a, float) and math.isnan(a)):
        return None
    return a / b


def reference_of(metrics: dict, vid: str) -> dict | None:
    model, fmt, _ = split_variant_id(vid)
    ref = metrics.get(variant_id(model, fmt, REFERENCE_LEVEL))
    return ref if ref and ref["status"] == "ok" else None


def ordered(metrics: dict) -> list[tuple[str, dict]]:
    """Variants grouped by model and format, levels in registry order (fp32 first)."""
    from pipeline.export.levels import QUANTIZATION_LEVELS

    order = list(QUANTIZATION_LEVELS)
    return sorted(metrics.items(), key=lambda kv: (kv[1]["model"], kv[1]["format"],
                                                   order.index(kv[1]["quantization"])))


def host_rows(metrics: dict, host: str) -> list[dict]:
    """The variants' own table: size, accuracy, agreement and the scoring target's (the host's) latency."""
    rows = []
    for vid, m in ordered(metrics):
        if m["status"] != "ok":
            continue
        ref = reference_of(metrics, vid)
        p50 = m[host]["latency_p50_us"]
        rows.append({
            "variant": vid, "model": m["model"], "format": m["format"], "quantization": m["quantization"],
            "size_bytes": m["size_bytes"], "size_vs_fp32": ratio(m["size_bytes"], ref and ref["size_bytes"]),
            "accuracy": m["accuracy"], "accuracy_ci95": m.get("accuracy_ci95"), "test_clips": m.get("test_clips"),
            "accuracy_change_vs_fp32": None if ref is None else m["accuracy"] - ref["accuracy"],
            "agreement": m["agreement"], "latency_p50_us": p50, "latency_p99_us": m[host]["latency_p99_us"],
            "speedup_vs_fp32": ratio(ref and ref[host]["latency_p50_us"], p50),
            "load_ms": m[host]["load_ms"], "peak_rss_mb": m[host]["peak_rss_mb"],
            **{k: m[host][k] for k in KERNEL_FIELDS if k in m[host]},
        })
    return rows


def kernel_deviation_rows(host: list[dict]) -> list[dict]:
    """Host rows whose optimised kernels disagree with the runtime's reference kernels: the file is
    fine, this CPU's fast path is not (e.g. onnxruntime's int8 kernels saturate on x86 without VNNI)."""
    return [r for r in host if r.get("reference_kernel_agreement", 1.0) < KERNEL_AGREEMENT_FLOOR]


def target_cost_rows(metrics: dict, targets) -> list[dict]:
    """Every exact instruction count and the estimate made from it, per target (a DVC plot)."""
    return [{"target": t, "variant": vid, "instructions_per_inference": e["instructions_per_inference"],
             "estimated_device_latency_us": e["estimated_device_latency_us"]}
            for t in targets for vid, m in sorted(metrics.items())
            if isinstance(e := m.get(t), dict) and e.get("status") == "ok"
            and e.get("instructions_per_inference") is not None and e.get("estimated_device_latency_us") is not None]


def not_applicable_rows(metrics: dict) -> list[dict]:
    """One row per reason, with the variants it covers (15 variants share "scikit-learn has no TFLite
    converter"): the list reads as what the formats cannot do, not as a wall of repeats."""
    grouped: dict[str, list[str]] = {}
    for vid, m in ordered(metrics):
        if m["status"] == "not_applicable":
            grouped.setdefault(m["reason"], []).append(vid)
    return [{"variant": ", ".join(vids), "reason": reason, "variants": vids} for reason, vids in grouped.items()]


def class_loss_rows(metrics: dict) -> list[dict]:
    """Per quantized variant, the class it loses most against its fp32 twin (same model and format), when it
    loses any: a variant can hold its overall accuracy and still drop one class."""
    rows = []
    for vid, m in ordered(metrics):
        ref = reference_of(metrics, vid)
        if m["status"] != "ok" or ref is None or m["quantization"] == REFERENCE_LEVEL:
            continue
        mine, theirs = m["per_class_accuracy"], ref["per_class_accuracy"]
        label = min(mine, key=lambda lab: (mine[lab] - theirs[lab], lab))
        if mine[label] < theirs[label]:
            rows.append({"variant": vid, "class": label, "accuracy": mine[label], "fp32_accuracy": theirs[label],
                         "change": mine[label] - theirs[label]})
    return rows


def quant_error_rows(metrics: dict) -> list[dict]:
    """Per calibrated variant, the layer with the largest quantization error (or why there are no figures)."""
    rows = []
    for vid, m in ordered(metrics):
        q = m.get("quant_error") if m["status"] == "ok" else None
        if q:
            w = q.get("worst") or {}
            rows.append({"variant": vid, "layer": w.get("layer", "–"), "error": w.get("error"),
                         "unit": w.get("unit") or q.get("note", "")})
    return rows


def confusion_rows(metrics: dict, bench_host: dict, labels: list[str], y: list[int]) -> dict[str, list[dict]]:
    """variant -> one (actual, predicted) row per test clip, for DVC's confusion template."""
    out = {}
    for vid, m in ordered(metrics):
        if m["status"] == "ok":
            pred = bench_host[m["quantization"]][vid]["record"]["predictions"]
            out[vid] = [{"actual": labels[a], "predicted": labels[p]} for a, p in zip(y, pred)]
    return out


def failed_rows(metrics: dict) -> list[dict]:
    """Conversions that raised or built a file their runtime rejects: defects, with the error."""
    return [{"variant": vid, "error": m["error"]} for vid, m in ordered(metrics) if m["status"] == "failed"]


def _cost(ctx, vid: str, target: str) -> tuple[float | None, int | None]:
    """(cost in µs, instructions) of one variant on one target: its kind's cost figure and the exact count
    where the kind has one."""
    m = ctx.metrics.get(vid)
    cost = ctx.cost_us(m, target)
    return cost, None if cost is None else m[target].get("instructions_per_inference")


def e2e_rows(ctx, target: str) -> list[dict]:
    """End-to-end variants split into feature extraction and inference.

    The classifier part is the matching feature-input variant (same format and level, measured in
    the same run); feature extraction is the difference between the two, so it is a derived figure,
    and None where the end-to-end figure is not above the classifier's (noise on the host).
    """
    rows = []
    for vid, m in ordered(ctx.metrics):
        if m["status"] != "ok" or not is_e2e(m["model"]):
            continue
        total, total_instr = _cost(ctx, vid, target)
        if total is None:
            continue
        clf_id = feature_input_twin(m["model"], m["format"], m["quantization"])
        clf, clf_instr = _cost(ctx, clf_id, target)
        # Not above the classifier's own p50: the difference is timing noise, not a cost; shown as "–".
        front = None if clf is None or total <= clf else total - clf
        rows.append({
            "variant": vid, "classifier": clf_id, "total_us": total, "classifier_us": clf, "features_us": front,
            "features_share": ratio(front, total),
            "total_instructions": total_instr,
            "features_instructions": None if clf_instr is None or total_instr is None else total_instr - clf_instr,
            "rtf_clip": total / (ctx.clip_seconds * 1e6),
            "streaming_load": total / (ctx.hop_ms * 1e3),
        })
    return rows


def parity_rows(metrics: dict) -> list[dict]:
    rows = []
    for vid, m in ordered(metrics):
        if m["status"] != "ok" or "mfcc_max_abs_diff" not in m:
            continue
        twin = metrics.get(feature_input_twin(m["model"], m["format"], m["quantization"]))
        twin_acc = twin["accuracy"] if twin and twin["status"] == "ok" else None
        rows.append({"variant": vid, "mfcc_max_abs_diff": m["mfcc_max_abs_diff"],
                     "mfcc_mean_abs_diff": m["mfcc_mean_abs_diff"], "agreement": m["agreement"],
                     "accuracy": m["accuracy"],
                     "accuracy_change_vs_feature_input": None if twin_acc is None else m["accuracy"] - twin_acc})
    return rows


def keras_candidate_row(name: str, spec, summary: dict, front, data) -> dict:
    """One Keras model as the report's candidates table shows it: what was tried and what it costs."""
    return {"model": name, "architecture": ARCHITECTURES[spec.type].describe(spec),
            "front": f"n_fft {front.n_fft}, hop {front.hop_length}, {front.n_mels} mels, {front.n_mfcc} MFCCs",
            "frames": front.n_frames(round(data.sample_rate * data.clip_seconds)),
            "parameters": summary.get("parameters"), "macs": summary.get("macs"),
            "val_accuracy": summary.get("val_accuracy"), "test_accuracy": summary.get("test_accuracy")}
