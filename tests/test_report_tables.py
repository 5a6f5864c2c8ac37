from __future__ import annotations

import pytest

from pipeline.report import markdown, tables


def host_bench(acc, agree, p50, preds):
    return {"accuracy": acc, "agreement": agree, "status": "ok",
            "record": {"latency_p50_us": p50, "latency_p90_us": p50 * 1.1, "latency_p99_us": p50 * 1.5,
                       "latency_mean_us": p50, "latency_std_us": 1.0, "load_ms": 2.0, "peak_rss_mb": 50.0,
                       "predictions": preds}}


def arm_bench(instr, preds):
    return {"status": "ok", "accuracy": 0.5, "instructions_per_inference": instr,
            "estimated_device_latency_us": instr / 1200.0, "record": {"latency_p50_us": 900.0, "predictions": preds}}


@pytest.fixture
def metrics():
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
    return tables.build_metrics(indexes, bench, ["a53"])


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
    rows = {r["variant"]: r for r in tables.host_rows(metrics)}
    assert rows["m.onnx.int8"]["size_vs_fp32"] == 0.25
    assert rows["m.onnx.int8"]["speedup_vs_fp32"] == 2.0
    assert rows["m.onnx.int8"]["accuracy_change_vs_fp32"] == pytest.approx(-0.05)
    arm = {r["variant"]: r for r in tables.target_rows(metrics, "a53")}
    assert arm["m.onnx.int8"]["instructions_vs_fp32"] == 0.25
    md = markdown.render(tables.host_rows(metrics), {"a53": ({"cpu": "cortex-a53", "ipc": 1.0, "clock_ghz": 1.2},
                                                            tables.target_rows(metrics, "a53"))},
                         tables.not_applicable_rows(metrics), 1)
    assert "| m.onnx.int8 | 0.2 | 0.25× | 85.0% | -5.0 pts | 95.0% | 50.0 | 2.00× |" in md
    assert "estimate" in md and "not** device time" in md
    assert "m.onnx.int8 (1 clips)" in md


def test_missing_benchmark_is_an_error():
    with pytest.raises(tables.StaleResults, match="m.onnx.fp32"):
        tables.build_metrics({"fp32": {"m.onnx.fp32": {"status": "ok", "size_bytes": 1}}}, {"host": {}}, [])


def test_host_kernels_that_change_answers_are_named():
    indexes = {"int8": {"m.onnx.int8": {"status": "ok", "size_bytes": 250},
                        "k.tflite.int8": {"status": "ok", "size_bytes": 200}}}
    saturated = {**host_bench(0.44, 0.45, 50.0, [0, 0, 0, 0]),
                 "reference_kernel_agreement": 0.45, "reference_kernel_accuracy": 0.97}
    fine = {**host_bench(0.9, 0.99, 40.0, [0, 1, 2, 1]),
            "reference_kernel_agreement": 1.0, "reference_kernel_accuracy": 0.9}
    metrics = tables.build_metrics(indexes, {"host": {"int8": {"m.onnx.int8": saturated, "k.tflite.int8": fine}}}, [])
    assert metrics["m.onnx.int8"]["host"]["reference_kernel_accuracy"] == 0.97
    host = tables.host_rows(metrics)
    assert [r["variant"] for r in tables.kernel_deviation_rows(host)] == ["m.onnx.int8"]
    md = markdown.render(host, {}, [], 1, kernels=tables.kernel_deviation_rows(host))
    assert "| m.onnx.int8 | 44.0% | 97.0% | 45.0% |" in md and "VNNI" in md
    assert "kernels that change" not in markdown.render(host, {}, [], 1)


def e2e_metrics(e2e_p50: float):
    indexes = {"fp32": {"k.onnx.fp32": {"status": "ok", "size_bytes": 1000},
                        "k_e2e.onnx.fp32": {"status": "ok", "size_bytes": 1200}}}
    bench = {"host": {"fp32": {"k.onnx.fp32": host_bench(0.9, 1.0, 100.0, [0, 1]),
                               "k_e2e.onnx.fp32": host_bench(0.9, 1.0, e2e_p50, [0, 1])}},
             "a53": {"fp32": {"k.onnx.fp32": arm_bench(120000, [0, 1]), "k_e2e.onnx.fp32": arm_bench(480000, [0, 1])}}}
    return tables.build_metrics(indexes, bench, ["a53"])


def test_e2e_split_is_the_difference_from_the_feature_input_twin():
    metrics = e2e_metrics(400.0)
    [host] = tables.e2e_rows(metrics, "host", clip_seconds=1.0, hop_ms=20.0)
    assert host["classifier"] == "k.onnx.fp32"
    assert (host["total_us"], host["classifier_us"], host["features_us"]) == (400.0, 100.0, 300.0)
    assert host["features_share"] == pytest.approx(0.75)
    assert host["rtf_clip"] == pytest.approx(400e-6) and host["streaming_load"] == pytest.approx(0.02)
    [arm] = tables.e2e_rows(metrics, "a53", clip_seconds=1.0, hop_ms=20.0)
    assert (arm["total_instructions"], arm["features_instructions"]) == (480000, 360000)
    assert arm["features_us"] == pytest.approx(300.0)          # from the estimates: 400 - 100 µs


@pytest.mark.parametrize("e2e_p50", [100.0, 95.0])
def test_e2e_split_within_noise_is_not_shown_as_a_cost(e2e_p50):
    [host] = tables.e2e_rows(e2e_metrics(e2e_p50), "host", clip_seconds=1.0, hop_ms=20.0)
    assert host["features_us"] is None and host["features_share"] is None
    assert "| – |" in markdown.table([host], markdown.E2E_COLUMNS)
