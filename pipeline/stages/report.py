"""Stage report: convert indexes + benchmark results -> reports/metrics.json (the detail), summary/ (DVC's
metrics), report.md, report.html, plot data."""

from __future__ import annotations

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.log import info
from pipeline.params import Params
from pipeline.report import decision, html, markdown, mcu, model, remote, ship, summary, tables
from pipeline.targets.registry import role_of


def run(p: Params) -> None:
    # Only the configured levels and targets: files left by removed ones are ignored, not reported.
    levels = list(p.quantization)
    indexes = {lvl: pio.read_json(cat.level_index(lvl)) for lvl in levels}
    bench = {t: {lvl: pio.read_json(cat.bench_path(t, lvl)) for lvl in levels} for t in p.targets}
    roles = {t: role_of(spec) for t, spec in p.targets.items()}
    emulated = [t for t, role in roles.items() if role == "emulated"]
    metrics = tables.build_metrics(indexes, bench, emulated,
                                   [t for t, role in roles.items() if role in ("remote", "mcu")])
    mcus = {t: p.targets[t] for t, role in roles.items() if role == "mcu"}
    calibration = mcu.complete(metrics, mcus)  # the estimates of TFLite variants, labelled as such

    host = tables.host_rows(metrics)
    targets = {t: (p.targets[t].model_dump(), tables.target_rows(metrics, t)) for t in emulated}
    na = tables.not_applicable_rows(metrics)
    history = pio.read_csv(cat.KERAS_HISTORY.path())

    pio.write_csv(cat.SIZE_ACCURACY_PLOT.path(),
                  [{"variant": r["variant"], "size_kb": round(r["size_bytes"] / 1024, 3), "accuracy": r["accuracy"]}
                   for r in host], ["variant", "size_kb", "accuracy"])
    pio.write_csv(cat.LATENCY_PLOT.path(), [{"variant": r["variant"], "latency_p50_us": r["latency_p50_us"]}
                                          for r in host], ["variant", "latency_p50_us"])
    pio.write_csv(cat.TARGET_COST_PLOT.path(),
                  [{"target": t, "variant": r["variant"], "instructions_per_inference": r["instructions_per_inference"],
                    "estimated_device_latency_us": r["estimated_device_latency_us"]}
                   for t, (_, rows) in targets.items() for r in rows if r["status"] == "ok"],
                  ["target", "variant", "instructions_per_inference", "estimated_device_latency_us"])
    d = pio.read_npz(cat.FEATURES.path())
    confusion = tables.confusion_rows(metrics, bench["host"], [str(x) for x in d["labels"]], d["y_test"].tolist())
    pio.replace_dir(cat.CONFUSION_PLOTS.path(), {f"{vid}.csv": pio.csv_text(rows, ["actual", "predicted"]).encode()
                                                 for vid, rows in confusion.items()})
    pio.replace_dir(cat.QUANT_ERROR_PLOTS.path(), {  # the per-layer files of the bundles, as DVC plots
        f"{vid}.csv": (cat.level_dir(m["quantization"]) / m["quant_error"]["file"]).read_bytes()
        for vid, m in metrics.items() if "file" in m.get("quant_error", {})})
    hop = p.benchmark.streaming_hop_ms
    parity = tables.parity_rows(metrics)
    e2e = {t: tables.e2e_rows(metrics, t, p.data.clip_seconds, hop) for t in ["host", *emulated]}
    kernels = tables.kernel_deviation_rows(host)
    failed = tables.failed_rows(metrics)
    decisions = decision.decide_all(metrics, {t: s.model_dump() for t, s in p.ship.items()}, roles)
    report = model.build(host, targets, na, p.benchmark.threads, parity=parity, e2e=e2e, hop_ms=hop, kernels=kernels,
                         history=history, failed=failed, class_loss=tables.class_loss_rows(metrics),
                         lead=ship.ship_section(decisions, metrics), quant_error=tables.quant_error_rows(metrics),
                         remote=(*remote.remote_sections(metrics, decisions, roles),
                                 *mcu.mcu_sections(metrics, mcus, calibration)))
    pio.atomic_write_text(cat.REPORT_MD.path(), markdown.render(report))
    pio.atomic_write_text(cat.REPORT_HTML.path(), html.render(report))
    pio.write_json(cat.METRICS.path(), {**metrics, decision.METRICS_KEY: decisions})
    pio.replace_dir(cat.SUMMARY.path(), {name: pio.to_json(figures).encode()
                                         for name, figures in summary.summary(metrics, decisions).items()})
    counts = {s: sum(m["status"] == s for m in metrics.values()) for s in ("ok", "not_applicable", "failed")}
    info(f"report: {len(metrics)} variants {counts} -> {cat.METRICS.template}, {cat.SUMMARY.template}, "
         f"{cat.REPORT_MD.template}, {cat.REPORT_HTML.template}")
