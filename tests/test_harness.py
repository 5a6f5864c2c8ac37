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
