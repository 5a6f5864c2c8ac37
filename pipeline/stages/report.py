"""Stage report: convert indexes + benchmark results -> reports/metrics.json, report.md, report.html, plot data."""

from __future__ import annotations

from pathlib import Path

from pipeline import io as pio
from pipeline.log import info
from pipeline.params import Params
from pipeline.report import html, markdown, tables
from pipeline.stages.benchmark import bench_path
from pipeline.stages.convert import INDEX, VARIANTS_DIR
from pipeline.stages.train_keras import HISTORY
from pipeline.targets.registry import is_emulated

METRICS = Path("reports/metrics.json")
REPORT_MD = Path("reports/report.md")
REPORT_HTML = Path("reports/report.html")
PLOTS = Path("reports/plots")


def run(p: Params) -> None:
    # Only the configured levels and targets: files left by removed ones are ignored, not reported.
    levels = list(p.quantization)
    indexes = {lvl: pio.read_json(VARIANTS_DIR / lvl / INDEX) for lvl in levels}
    bench = {t: {lvl: pio.read_json(bench_path(t, lvl)) for lvl in levels} for t in p.targets}
    emulated = [t for t, spec in p.targets.items() if is_emulated(spec)]
    metrics = tables.build_metrics(indexes, bench, emulated)

    host = tables.host_rows(metrics)
    targets = {t: (p.targets[t].model_dump(), tables.target_rows(metrics, t)) for t in emulated}
    na = tables.not_applicable_rows(metrics)
    history = pio.read_csv(HISTORY) if HISTORY.exists() else []

    pio.write_csv(PLOTS / "size_accuracy.csv",
                  [{"variant": r["variant"], "size_kb": round(r["size_bytes"] / 1024, 3), "accuracy": r["accuracy"]}
                   for r in host], ["variant", "size_kb", "accuracy"])
    pio.write_csv(PLOTS / "latency.csv", [{"variant": r["variant"], "latency_p50_us": r["latency_p50_us"]}
                                          for r in host], ["variant", "latency_p50_us"])
    pio.write_csv(PLOTS / "target_cost.csv",
                  [{"target": t, "variant": r["variant"], "instructions_per_inference": r["instructions_per_inference"],
                    "estimated_device_latency_us": r["estimated_device_latency_us"]}
                   for t, (_, rows) in targets.items() for r in rows if r["status"] == "ok"],
                  ["target", "variant", "instructions_per_inference", "estimated_device_latency_us"])
    hop = p.benchmark.streaming_hop_ms
    parity = tables.parity_rows(metrics)
    e2e = {t: tables.e2e_rows(metrics, t, p.data.clip_seconds, hop) for t in ["host", *emulated]}
    kernels = tables.kernel_deviation_rows(host)
    pio.atomic_write_text(REPORT_MD, markdown.render(host, targets, na, p.benchmark.threads, parity, e2e, hop, kernels))
    pio.atomic_write_text(REPORT_HTML, html.render(host, targets, na, history, p.benchmark.threads, parity, e2e, hop,
                                                   kernels))
    pio.write_json(METRICS, metrics)
    info(f"report: {len(metrics)} variants ({len(na)} not applicable) -> {METRICS}, {REPORT_MD}, {REPORT_HTML}")
