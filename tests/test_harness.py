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


def test_emulated_variants_share_the_host_cpus_and_a_failure_stops_the_stage(monkeypatch):
    """The scheduling of variants over host CPUs: every variant gets a CPU no other running variant
    holds, results come back keyed and in job order, and a failing variant ends the stage without
    the variants still queued being run first."""
    import threading
    import time
    from types import SimpleNamespace

    import pytest

    from pipeline.targets import qemu_run
    from pipeline.targets import qemu_user as qemu

    monkeypatch.setattr(qemu, "check_available", lambda: None)
    monkeypatch.setattr(qemu, "board_cpus", lambda: [0, 1])
    held, ran, lock = set(), [], threading.Lock()

    def run_variant(target, settings, job, host_cpu):
        with lock:
            assert host_cpu not in held, f"host CPU {host_cpu} given to two variants at once"
            held.add(host_cpu)
            ran.append(job["id"])
        time.sleep(0.02)
        with lock:
            held.discard(host_cpu)
        if job["id"] == "bad":
            raise RuntimeError("guest python exited with 1")
        return {"instructions_per_inference": len(job["id"]), "cpu": host_cpu}

    monkeypatch.setattr(qemu_run, "run_variant", run_variant)
    target = SimpleNamespace(cpu="cortex-a53", runs=5, agreement_clips=25)
    spec = {"warmup": 3, "jobs": [{"id": f"v{i}", "model": "m"} for i in range(6)]}
    entries = qemu_run.measure("a53", target, spec, None)
    assert list(entries) == [f"v{i}" for i in range(6)]
    assert {e["record"]["cpu"] for e in entries.values()} == {0, 1}
    assert all(e["instructions_per_inference"] == 2 and e["status"] == "ok" for e in entries.values())

    ran.clear()
    spec = {"warmup": 3, "jobs": [{"id": "bad", "model": "m"}] + [{"id": f"v{i}", "model": "m"} for i in range(20)]}
    with pytest.raises(RuntimeError, match="exited with 1"):
        qemu_run.measure("a53", target, spec, None)
    assert len(ran) < 5, f"variants kept running after one failed: {ran}"
