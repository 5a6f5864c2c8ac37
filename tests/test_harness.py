"""The measuring loop on the host: the record's fields, and the reference-kernel pass."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.bench.harness import benchmark_record


def _matmul_model(path, n=8, classes=4):
    w = np.random.default_rng(0).standard_normal((n, classes)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.save(model, str(path))
    return w


def test_record_with_reference_kernels(tmp_path):
    w = _matmul_model(tmp_path / "m.onnx")
    x = np.random.default_rng(1).standard_normal((12, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    job = {"id": "mm.onnx.fp32", "runtime": "onnxruntime", "artefact": str(tmp_path / "m.onnx"),
           "inputs": str(tmp_path / "x.npy"), "input": {"name": "x", "shape": [1, 8], "dtype": "float32"},
           "reference_kernels": True}
    rec = benchmark_record(job, threads=1, warmup=2, runs=10, load_repeats=2)
    expected = list(np.argmax(x @ w, axis=1))
    assert rec["predictions"] == expected and rec["reference_predictions"] == expected
    assert rec["runs"] == 10 and 0 < rec["latency_p50_us"] <= rec["latency_p99_us"]
    assert rec["load_ms"] > 0 and rec["peak_rss_mb"] > 0 and rec["runtime"] == "onnxruntime"
    assert "reference_predictions" not in benchmark_record({**job, "reference_kernels": False}, 1, 0, 3, 1, 0)


def test_instruction_figure_is_the_mean_over_the_counted_calls():
    import pytest

    from pipeline.targets.qemu_run import instructions_per_inference

    counts = {"regions": 3, "unbalanced": 0, "per_region": [100, 201, 300]}
    assert instructions_per_inference(counts, {"count_inputs": 3}, "v", "cortex-a53") == 200
    with pytest.raises(RuntimeError, match="expected 3"):
        instructions_per_inference({**counts, "regions": 2, "per_region": [1, 2]}, {"count_inputs": 3}, "v", "a53")


def test_emulated_variants_come_back_in_job_order_and_a_failure_stops_the_stage(monkeypatch):
    """The emulated stage over the executor (serial here, so that the stand-in guest below runs in this process;
    tests/test_executor.py and test_dask_cluster.py cover the cluster): results keyed and in job order, each with
    the emulator's wall time, and a failing variant fails the stage naming the variant and the core."""
    from types import SimpleNamespace

    import pytest

    from pipeline import executor
    from pipeline.targets import qemu_run
    from pipeline.targets import qemu_user as qemu

    monkeypatch.setenv(executor.SERIAL_ENV, "1")
    monkeypatch.setattr(qemu, "check_available", lambda: None)

    def run_variant(target, settings, job):
        if job["id"] == "bad":
            raise qemu.GuestError("guest python exited with 1")
        return {"instructions_per_inference": len(job["id"]), "cpu": target.cpu}

    monkeypatch.setattr(qemu_run, "run_variant", run_variant)
    target = SimpleNamespace(cpu="cortex-a53", runs=5, agreement_clips=25)
    jobs = [{"id": f"v{i}", "model": "m", "artefact": f"variants/v{i}/model.tflite"} for i in range(6)]
    entries = qemu_run.measure("a53", target, {"level": "fp32", "warmup": 3, "jobs": jobs}, None)
    assert list(entries) == [f"v{i}" for i in range(6)]
    assert all(e["instructions_per_inference"] == 2 and e["status"] == "ok" and e["record"]["emulation_s"] >= 0
               for e in entries.values())
    bad = [{"id": "bad", "model": "m", "artefact": "variants/bad/model.tflite"}, *jobs]
    with pytest.raises(qemu.GuestError, match=r"bad \(model.tflite\) on cortex-a53: guest python exited with 1"):
        qemu_run.measure("a53", target, {"level": "fp32", "warmup": 3, "jobs": bad}, None)
