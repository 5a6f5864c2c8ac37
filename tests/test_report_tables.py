from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from pipeline.errors import PipelineError
from pipeline.report import html, markdown, model, tables
from pipeline.report.target_context import ReportContext
from pipeline.targets import qemu, qemu_report
from pipeline.targets.kinds import TARGET_KINDS

A53 = qemu.Target(cpu="cortex-a53", runs=1, agreement_clips=4, required=True)
A53_DEVICE = qemu.Device(board="a test board", clock_mhz=1200, cpi=1.0)
KINDS = {"host": TARGET_KINDS["host"], "a53": TARGET_KINDS["qemu"]}


def build_metrics(indexes: dict, bench: dict, emulated=("a53",)) -> dict:
    """As the report stage builds them: the host scores, each emulated core's entry, its estimates."""
    metrics = tables.build_metrics(indexes, bench, "host", {t: KINDS[t].report.entry for t in ("host", *emulated)})
    for t in emulated:
        qemu_report.complete(metrics, t, A53, A53_DEVICE)
    return metrics


def context(metrics: dict) -> ReportContext:
    return ReportContext(metrics, KINDS, 1.0, 20.0)


def host_bench(acc, agree, p50, preds):
    return {"accuracy": acc, "agreement": agree, "status": "ok", "per_class_accuracy": {"a": acc, "b": acc},
            "record": {"latency_p50_us": p50, "latency_p90_us": p50 * 1.1, "latency_p99_us": p50 * 1.5,
                       "latency_mean_us": p50, "latency_std_us": 1.0, "load_ms": 2.0, "peak_rss_mb": 50.0,
                       "predictions": preds}}


def arm_bench(instr, preds):
    return {"status": "ok", "instructions_per_inference": instr,
            "record": {"latency_p50_us": 900.0, "predictions": preds}}


def sample_metrics():
    indexes = {
        "fp32": {"m.onnx.fp32": {"status": "ok", "size_bytes": 1000},
                 "rf.onnx.fp32": {"status": "ok", "size_bytes": 50}},
        "int8": {"m.onnx.int8": {"status": "ok", "size_bytes": 250},
                 "rf.onnx.int8": {"status": "not_applicable", "reason": "TreeEnsembleClassifier is ..."}},
    }
    bench = {
        "host": {"fp32": {"m.onnx.fp32": host_bench(0.9, 1.0, 100.0, [0, 1, 2, 1]),
                          "rf.onnx.fp32": host_bench(0.8, 1.0, 10.0, [0, 0, 0, 0])},
                 "int8": {"m.onnx.int8": host_bench(0.85, 0.95, 50.0, [0, 1, 2, 2])}},
        "a53": {"fp32": {"m.onnx.fp32": arm_bench(120000, [0, 1, 2, 1]), "rf.onnx.fp32": arm_bench(3000, [0, 0, 0, 0])},
                "int8": {"m.onnx.int8": arm_bench(30000, [0, 1, 2, 1])}},
    }
    return build_metrics(indexes, bench)


@pytest.fixture
def metrics():
    return sample_metrics()


def test_metrics_shape(metrics):
    assert set(metrics) == {"m.onnx.fp32", "m.onnx.int8", "rf.onnx.fp32", "rf.onnx.int8"}
    m = metrics["m.onnx.int8"]
    assert (m["model"], m["format"], m["quantization"], m["size_bytes"]) == ("m", "onnx", "int8", 250)
    assert m["host"]["latency_p50_us"] == 50.0 and m["host"]["peak_rss_mb"] == 50.0
    assert m["a53"]["instructions_per_inference"] == 30000
    assert m["a53"]["host_agreement"] == 0.75 and m["a53"]["host_mismatches"] == 1
    assert metrics["rf.onnx.int8"] == {"model": "rf", "format": "onnx", "quantization": "int8",
                                       "status": "not_applicable", "reason": "TreeEnsembleClassifier is ..."}


def test_ratios_against_fp32_of_same_model(metrics):
    rows = {r["variant"]: r for r in tables.host_rows(metrics, "host")}
    assert rows["m.onnx.int8"]["size_vs_fp32"] == 0.25
    assert rows["m.onnx.int8"]["speedup_vs_fp32"] == 2.0
    assert rows["m.onnx.int8"]["accuracy_change_vs_fp32"] == pytest.approx(-0.05)
    arm = {r["variant"]: r for r in qemu_report.rows(metrics, "a53")}
    assert arm["m.onnx.int8"]["instructions_vs_fp32"] == 0.25
    md = markdown.render(model.build(tables.host_rows(metrics, "host"), tables.not_applicable_rows(metrics), 1,
                                     targets=tuple(qemu_report.sections(context(metrics), {"a53": (A53, A53_DEVICE)}))))
    assert "| m.onnx.int8 | 0.2 | 0.25× | 85.0% | -5.0 pts | 95.0% | 50.0 | 2.00× |" in md
    assert "estimate" in md and "not** device time" in md
    assert "m.onnx.int8 (1 clips)" in md


def test_missing_benchmark_is_an_error():
    with pytest.raises(tables.StaleResults, match="m.onnx.fp32"):
        build_metrics({"fp32": {"m.onnx.fp32": {"status": "ok", "size_bytes": 1}}}, {"host": {}}, ())
    assert issubclass(tables.StaleResults, PipelineError)  # `python -m pipeline` reports it as a message


def kernel_metrics():
    indexes = {"int8": {"m.onnx.int8": {"status": "ok", "size_bytes": 250},
                        "k.tflite.int8": {"status": "ok", "size_bytes": 200}}}
    saturated = {**host_bench(0.44, 0.45, 50.0, [0, 0, 0, 0]),
                 "reference_kernel_agreement": 0.45, "reference_kernel_accuracy": 0.97}
    fine = {**host_bench(0.9, 0.99, 40.0, [0, 1, 2, 1]),
            "reference_kernel_agreement": 1.0, "reference_kernel_accuracy": 0.9}
    return build_metrics(indexes, {"host": {"int8": {"m.onnx.int8": saturated, "k.tflite.int8": fine}}}, ())


def test_host_kernels_that_change_answers_are_named():
    metrics = kernel_metrics()
    assert metrics["m.onnx.int8"]["host"]["reference_kernel_accuracy"] == 0.97
    host = tables.host_rows(metrics, "host")
    assert [r["variant"] for r in tables.kernel_deviation_rows(host)] == ["m.onnx.int8"]
    md = markdown.render(model.build(host, [], 1, kernels=tables.kernel_deviation_rows(host)))
    assert "| m.onnx.int8 | 44.0% | 97.0% | 45.0% |" in md and "VNNI" in md
    assert "kernels that change" not in markdown.render(model.build(host, [], 1))


def e2e_metrics(e2e_p50: float):
    indexes = {"fp32": {"k.onnx.fp32": {"status": "ok", "size_bytes": 1000},
                        "k_e2e.onnx.fp32": {"status": "ok", "size_bytes": 1200}}}
    bench = {"host": {"fp32": {"k.onnx.fp32": host_bench(0.9, 1.0, 100.0, [0, 1]),
                               "k_e2e.onnx.fp32": host_bench(0.9, 1.0, e2e_p50, [0, 1])}},
             "a53": {"fp32": {"k.onnx.fp32": arm_bench(120000, [0, 1]), "k_e2e.onnx.fp32": arm_bench(480000, [0, 1])}}}
    return build_metrics(indexes, bench)


def test_e2e_split_is_the_difference_from_the_feature_input_twin():
    metrics = e2e_metrics(400.0)
    [host] = tables.e2e_rows(context(metrics), "host")
    assert host["classifier"] == "k.onnx.fp32"
    assert (host["total_us"], host["classifier_us"], host["features_us"]) == (400.0, 100.0, 300.0)
    assert host["features_share"] == pytest.approx(0.75)
    assert host["rtf_clip"] == pytest.approx(400e-6) and host["streaming_load"] == pytest.approx(0.02)
    [arm] = tables.e2e_rows(context(metrics), "a53")
    assert (arm["total_instructions"], arm["features_instructions"]) == (480000, 360000)
    assert arm["features_us"] == pytest.approx(300.0)          # from the estimates: 400 - 100 µs


@pytest.mark.parametrize("e2e_p50", [100.0, 95.0])
def test_e2e_split_within_noise_is_not_shown_as_a_cost(e2e_p50):
    [host] = tables.e2e_rows(context(e2e_metrics(e2e_p50)), "host")
    assert host["features_us"] is None and host["features_share"] is None
    assert "| – |" in markdown.table(model.Table((host,), model.E2E_COLUMNS))


# --------------------------------------------------------------------------- one model, two renderers

HISTORY = {"keras": [{"epoch": str(e), "accuracy": f"{0.5 + 0.1 * e:.2f}", "val_accuracy": f"{0.45 + 0.1 * e:.2f}"}
                     for e in range(4)]}
MISMATCH_LINE = "Outputs differing from the host: m.onnx.int8 (1 clips)"


@pytest.fixture(scope="module")
def full_report() -> model.Report:
    """Every kind of section: host, kernels, e2e, an emulated target with a host mismatch, one that
    was skipped, not applicable (with a `|` in a reason), training."""
    metrics = sample_metrics()
    e2e = e2e_metrics(400.0)
    kernel_host = tables.host_rows(kernel_metrics(), "host")
    skipped = [{"variant": "m.onnx.fp32", "status": "skipped", "reason": "qemu-aarch64 is not installed"}]
    a72 = qemu.Target.model_construct(cpu="cortex`a72", runs=1, agreement_clips=4, required=False)  # a backtick in a code span
    targets = (qemu_report.core_section("a53", A53, A53_DEVICE, qemu_report.rows(metrics, "a53")),
               *model.e2e_section("Host", tables.e2e_rows(context(e2e), "host"), 20.0, estimate=False),
               qemu_report.core_section("a72", a72, qemu.Device(board="b`oard", clock_mhz=1800, cpi=0.5), skipped),
               *model.e2e_section("a53", tables.e2e_rows(context(e2e), "a53"), 20.0, estimate=True))
    na = [*tables.not_applicable_rows(metrics), {"variant": "x.tflite.int8", "reason": "no | kernel"}]
    return model.build(tables.host_rows(metrics, "host"), na, 1, targets=targets,
                       kernels=tables.kernel_deviation_rows(kernel_host), history=HISTORY)


@pytest.fixture(scope="module")
def full_html(full_report) -> str:
    return html.render(full_report)


def md_titles(md: str) -> list[str]:
    """Headings of the Markdown, without the badge the renderer appends in brackets."""
    return [re.sub(r" \((emulated)\)$", "", m) for m in re.findall(r"^#+ (.+)$", md, flags=re.M)]


def html_titles(page: str) -> list[str]:
    return [re.sub(r" <span class=label>.*?</span>", "", m) for m in re.findall(r"<h[1-6]>(.*?)</h[1-6]>", page)]


def test_markdown_and_html_have_the_same_sections_in_the_same_order(full_report, full_html):
    md = markdown.render(full_report)
    titles = [s.title for s in full_report.sections]
    assert titles[0] == "Deployment report" and titles[-1] == "Training"
    assert {"Host", "Host kernels that change the answers", "Host: end-to-end cost split", "a53",
            "a53: end-to-end cost split", "a72", "Not applicable"} <= set(titles)
    assert md_titles(md) == titles
    assert html_titles(full_html) == titles
    for page in (md, full_html):
        assert page.count(MISMATCH_LINE) == 1
        assert page.count("Skipped: qemu-aarch64 is not installed") == 1
        assert "No variant ran on this target." in page


def test_markdown_tables_and_code_spans_are_well_formed(full_report):
    md = markdown.render(full_report)
    lines = md.split("\n")
    assert md.endswith("\n") and not md.endswith("\n\n")
    for i, line in enumerate(lines):
        if line.startswith("|") and not lines[i - 1].startswith("|"):  # a table's header row
            assert lines[i - 1] == "", f"no blank line before the table at line {i}"
            rows = []
            for row in lines[i:]:
                if not row.startswith("|"):
                    assert row == "", f"no blank line after the table at line {i}"
                    break
                rows.append(row)
            cells = {len(re.split(r"(?<!\\)\|", row)) for row in rows}
            assert len(cells) == 1, f"rows of the table at line {i} differ in cell count: {rows}"
    assert "| x.tflite.int8 | no \\| kernel |" in md
    assert "``-cpu cortex`a72``" in md  # a backtick in the text: a longer fence, still one span
    assert "**estimate**" in md and "**not** device time" in md


class _Balance(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_html_is_balanced_self_contained_and_deterministic(full_report, full_html):
    parser = _Balance()
    parser.feed(full_html)
    assert parser.errors == [] and parser.stack == []
    assert "<script" not in full_html and "http://" not in full_html.split("<svg")[0]
    assert full_html.count("<svg") == 6  # size vs accuracy, host latency, 2 streaming loads, a53, training
    assert "<code>-cpu cortex`a72</code>" in full_html and "no | kernel" in full_html
    assert html.render(full_report) == full_html


def test_failed_variants_have_their_own_table_and_reasons_are_grouped():
    indexes = {"fp32": {"a.tflite.fp32": {"status": "not_applicable", "reason": "no TFLite converter"},
                        "b.tflite.fp32": {"status": "not_applicable", "reason": "no TFLite converter"},
                        "c.onnx.fp32": {"status": "failed", "error": "KeyError: 'x'"}}}
    metrics = build_metrics(indexes, {"host": {}}, ())
    assert tables.not_applicable_rows(metrics) == [
        {"variant": "a.tflite.fp32, b.tflite.fp32", "reason": "no TFLite converter",
         "variants": ["a.tflite.fp32", "b.tflite.fp32"]}]
    assert tables.failed_rows(metrics) == [{"variant": "c.onnx.fp32", "error": "KeyError: 'x'"}]
    md = markdown.render(model.build([], tables.not_applicable_rows(metrics), 1,
                                      failed=tables.failed_rows(metrics)))
    assert "## Failed" in md and "KeyError: 'x'" in md and md.count("no TFLite converter") == 1


def test_the_class_a_quantized_variant_loses_is_named():
    indexes = {"fp32": {"m.onnx.fp32": {"status": "ok", "size_bytes": 100}},
               "int8": {"m.onnx.int8": {"status": "ok", "size_bytes": 40}}}
    ref = {**host_bench(0.9, 1.0, 10.0, [0, 1]), "per_class_accuracy": {"a": 0.9, "b": 0.9}}
    lossy = {**host_bench(0.85, 0.95, 5.0, [0, 0]), "per_class_accuracy": {"a": 0.95, "b": 0.75}}
    metrics = build_metrics(indexes, {"host": {"fp32": {"m.onnx.fp32": ref}, "int8": {"m.onnx.int8": lossy}}}, ())
    assert metrics["m.onnx.int8"]["per_class_accuracy"] == {"a": 0.95, "b": 0.75}
    [row] = tables.class_loss_rows(metrics)
    assert (row["variant"], row["class"]) == ("m.onnx.int8", "b") and row["change"] == pytest.approx(-0.15)
    confusion = tables.confusion_rows(metrics, {"fp32": {"m.onnx.fp32": ref}, "int8": {"m.onnx.int8": lossy}},
                                      ["a", "b"], [0, 1])
    assert confusion["m.onnx.int8"] == [{"actual": "a", "predicted": "a"}, {"actual": "b", "predicted": "a"}]


def test_every_accuracy_carries_its_95_percent_interval_and_the_split_its_size(metrics):
    assert tables.wilson_interval(0.5, 100) == [0.403832, 0.596168]  # the textbook value
    assert tables.wilson_interval(1.0, 15) == [0.796117, 1.0]         # 15 of 15 does not mean 100%
    m = metrics["m.onnx.int8"]
    assert m["test_clips"] == 4 and m["accuracy_ci95"] == tables.wilson_interval(0.85, 4)
    md = markdown.render(model.build(tables.host_rows(metrics, "host"), [], 1))
    assert "test split's 4 clips: one clip is 25.00 points" in md
    lo, hi = m["accuracy_ci95"]
    assert f"| {100 * lo:.1f}–{100 * hi:.1f}% |" in md


def test_every_keras_candidate_is_listed_with_its_front_end_and_work():
    from types import SimpleNamespace

    from pipeline.audio.mfcc import MfccConfig

    spec = SimpleNamespace(type="dscnn", filters=24, blocks=3, stem_kernel=(3, 3), stem_stride=(2, 4))
    front = MfccConfig(16000, n_fft=512, hop_length=512, n_mels=40, n_mfcc=20, fmin=20.0, fmax=8000.0, top_db=80.0)
    row = tables.keras_candidate_row("xs", spec, {"parameters": 3430, "macs": 207480, "val_accuracy": 0.9,
                                                  "test_accuracy": 0.876}, front,
                                     SimpleNamespace(sample_rate=16000, clip_seconds=1.0))
    assert row["frames"] == 32 and row["architecture"] == "DS-CNN: 24 filters, 3 blocks, stem 3x3 stride 2x4"
    section = model.training_section(HISTORY, [row])
    assert section.table.body() == [["xs", "DS-CNN: 24 filters, 3 blocks, stem 3x3 stride 2x4",
                                     "n_fft 512, hop 512, 40 mels, 20 MFCCs", "32", "3,430", "207,480", "90.0%", "87.6%"]]
    md = markdown.render(model.Report((section,)))
    assert "| xs |" in md and "the classifier's multiply-accumulates per inference" in md
