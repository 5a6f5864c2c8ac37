"""Stage report: convert indexes + benchmark results -> reports/metrics.json (the detail), summary/ (DVC's
metrics), report.md, report.html, plot data.

Every estimate is computed here, once, from the report-only params (`devices`, `ship`): each target's kind
completes its entries (pipeline/targets/<kind>_report.py), decides by its own cost figure and adds its
sections, in the registry's order."""

from __future__ import annotations

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline import machine
from pipeline.audio.mfcc import MfccConfig
from pipeline.log import info
from pipeline.params import Params
from pipeline.report import decision, html, markdown, model, paired, ship, summary, tables
from pipeline.report.target_context import ReportContext


def data_note(p: Params, made_on: dict) -> str:
    d = p.data
    here = f"Made on {machine.describe(made_on)}. "
    if d.source == "synthetic":
        return (f"Data: synthetic audio, {d.clips_per_class} generated clips per class ({', '.join(d.labels)}; "
                "pipeline/audio/synth): every accuracy here is on that data, not on real recordings. Set "
                "`data.source: folder` to train and test on your own. " + here)
    return f"Data: your recordings in {d.folder} ({', '.join(d.labels)}). " + here


def run(p: Params) -> None:
    # Only the configured levels and targets: files left by removed ones are ignored, not reported.
    levels = list(p.quantization)
    made_on = machine.identity()  # the report's header and reports/machine.json
    kinds = p.target_kinds()
    indexes = {lvl: pio.read_json(cat.level_index(lvl)) for lvl in levels}
    bench = {t: {lvl: pio.read_json(cat.bench_path(t, lvl)) for lvl in levels} for t in kinds}
    scoring = p.scoring_target()
    metrics = tables.build_metrics(indexes, bench, scoring, {t: k.report.entry for t, k in kinds.items()})
    by_kind = {k: {t: (p.target(t)[1], p.devices.get(t)) for t, tk in kinds.items() if tk is k}
               for k in dict.fromkeys(kinds.values())}
    for kind, targets in by_kind.items():
        for name, (target, device) in targets.items():
            kind.report.complete(metrics, name, target, device)  # the estimates, from nominal figures

    ctx = ReportContext(metrics, kinds, p.data.clip_seconds, p.benchmark.streaming_hop_ms)
    costs = {t: (k.report.COST_LABEL, lambda m, t=t: ctx.cost_us(m, t), lambda m, t=t: ctx.judge(m, t))
             for t, k in kinds.items()}
    d = pio.read_npz(cat.FEATURES.path())
    answers = {vid: e["record"]["predictions"] for lvl in bench[scoring].values() for vid, e in lvl.items()
               if e.get("status") == "ok"}  # the scoring target's answers on every test clip
    ctx.decisions.update(decision.decide_all(metrics, {t: s.model_dump() for t, s in p.ship.items()}, costs,
                                             paired.tests_over(answers, d["y_test"].tolist())))
    host = tables.host_rows(metrics, scoring)
    history = {name: pio.read_csv(cat.KERAS_HISTORY.path(model=name)) for name in p.keras}
    candidates = [tables.keras_candidate_row(name, spec, pio.read_json(cat.keras_model_dir(name) / cat.MODEL_SUMMARY_FILE),
                                             MfccConfig.from_params(p, name), p.data)
                  for name, spec in p.keras.items()]

    pio.write_csv(cat.SIZE_ACCURACY_PLOT.path(),
                  [{"variant": r["variant"], "size_kb": round(r["size_bytes"] / 1024, 3), "accuracy": r["accuracy"]}
                   for r in host], ["variant", "size_kb", "accuracy"])
    pio.write_csv(cat.LATENCY_PLOT.path(), [{"variant": r["variant"], "latency_p50_us": r["latency_p50_us"]}
                                          for r in host], ["variant", "latency_p50_us"])
    pio.write_csv(cat.TARGET_COST_PLOT.path(), tables.target_cost_rows(metrics, kinds),
                  ["target", "variant", "instructions_per_inference", "estimated_device_latency_us"])
    confusion = tables.confusion_rows(metrics, bench[scoring], [str(x) for x in d["labels"]], d["y_test"].tolist())
    pio.replace_dir(cat.CONFUSION_PLOTS.path(), {f"{vid}.csv": pio.csv_text(rows, ["actual", "predicted"]).encode()
                                                 for vid, rows in confusion.items()})
    pio.replace_dir(cat.QUANT_ERROR_PLOTS.path(), {  # the per-layer files of the bundles, as DVC plots
        f"{vid}.csv": (cat.level_dir(m["quantization"]) / m["quant_error"]["file"]).read_bytes()
        for vid, m in metrics.items() if "file" in m.get("quant_error", {})})
    report = model.build(host, tables.not_applicable_rows(metrics), p.benchmark.threads,
                         parity=tables.parity_rows(metrics), kernels=tables.kernel_deviation_rows(host),
                         history=history, candidates=candidates, failed=tables.failed_rows(metrics),
                         class_loss=tables.class_loss_rows(metrics), lead=ship.ship_section(ctx),
                         quant_error=tables.quant_error_rows(metrics),
                         targets=tuple(s for kind, targets in by_kind.items()
                                       for s in kind.report.sections(ctx, targets)), data_note=data_note(p, made_on))
    pio.atomic_write_text(cat.REPORT_MD.path(), markdown.render(report))
    pio.atomic_write_text(cat.REPORT_HTML.path(), html.render(report))
    pio.write_json(cat.METRICS.path(), {**metrics, decision.METRICS_KEY: ctx.decisions})
    pio.write_json(cat.MACHINE.path(), made_on)  # compare: figures of two machines, said so
    pio.replace_dir(cat.SUMMARY.path(), {name: pio.to_json(figures).encode()
                                         for name, figures in summary.summary(metrics, ctx.decisions).items()})
    counts = {s: sum(m["status"] == s for m in metrics.values()) for s in ("ok", "not_applicable", "failed")}
    info(f"report: {len(metrics)} variants {counts} -> {cat.METRICS.template}, {cat.SUMMARY.template}, "
         f"{cat.REPORT_MD.template}, {cat.REPORT_HTML.template}")
