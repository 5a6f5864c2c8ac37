"""ONNX converters: a float32 graph from each source, then one function per quantization level."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.bench.runtimes import probabilities_index
from pipeline.export.common import NotApplicable
from pipeline.models.source import Source

OPSET = 17
# onnx 1.23 writes IR 14 by default, above what onnxruntime loads (ORT_MAX_IR_VERSION); the variants are
# written at IR 10 (opset 17 needs 8), so raising it changes every ONNX file's bytes for nothing.
MAX_IR_VERSION = 10
# Operators onnxruntime's quantizer rewrites; a graph with none of them has nothing to quantize.
QUANTIZABLE_OPS = {"MatMul", "Gemm", "Conv", "ConvTranspose", "Gather", "Attention", "LSTM", "GRU"}


def finish(model):
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    # The quantizer lists opsets in hash order: sort them so the same graph gives the same bytes. One entry
    # per domain (merging a front end can list the default domain twice, which the quantizer refuses).
    versions: dict[str, int] = {}
    for o in model.opset_import:
        versions[o.domain] = max(versions.get(o.domain, 0), o.version)
    from onnx import helper

    opsets = [helper.make_opsetid(domain, versions[domain]) for domain in sorted(versions)]
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    return model


def contract_outputs(model):
    """The bundles' one I/O contract on a classifier graph: its float output named "probabilities" (tf2onnx
    calls it output_0) and skl2onnx's int64 label output dropped with the nodes only it needed (an app takes
    the argmax), so every bundle of a task has the same outputs and an app swaps them by changing the file."""
    from onnx import TensorProto

    from pipeline.export.tflite_stitch import PROBABILITIES_NAME

    g = model.graph
    scores = [o for o in g.output if o.type.tensor_type.elem_type in (TensorProto.FLOAT, TensorProto.FLOAT16)]
    if len(scores) != 1:
        raise RuntimeError(f"expected one float output (the probabilities), found {[o.name for o in g.output]}")
    old = scores[0].name
    for node in g.node:
        node.input[:] = [PROBABILITIES_NAME if n == old else n for n in node.input]
        node.output[:] = [PROBABILITIES_NAME if n == old else n for n in node.output]
    scores[0].name = PROBABILITIES_NAME
    del g.output[:]
    g.output.append(scores[0])
    needed, kept = {PROBABILITIES_NAME}, []
    for node in reversed(g.node):  # the nodes the kept output depends on (the graph is in topological order)
        if needed & set(node.output):
            kept.append(node)
            needed |= set(node.input)
    del g.node[:]
    g.node.extend(reversed(kept))
    inits = [i for i in g.initializer if i.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    return model


def fp32_from_keras(source: Source):
    """SavedModel -> ONNX with tf2onnx's command line (tf2onnx's from_keras fails on Keras 3 models)."""
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.onnx"
        cmd = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(source.saved_model_dir),
               "--output", str(out), "--opset", str(OPSET)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=_quiet_env())
        if res.returncode != 0:
            raise RuntimeError(f"tf2onnx failed ({res.returncode}):\n{res.stderr[-3000:]}")
        model = onnx.load(out)
    return finish(canonical_names(contract_outputs(model)))


def canonical_names(model):
    """tf2onnx numbers the nodes and constants it creates in an order that varies between runs (same
    graph, other names). Name constants, nodes and intermediate tensors by position in the node order,
    so the same graph gives the same bytes. Graph inputs and outputs keep their names."""
    inits = {i.name: i for i in model.graph.initializer}
    mapping: dict[str, str] = {}
    for node in model.graph.node:
        for name in node.input:
            if name in inits and name not in mapping:
                mapping[name] = f"const_{len(mapping)}"
    for name in sorted(set(inits) - set(mapping)):
        mapping[name] = f"const_{len(mapping)}"
    keep = {i.name for i in model.graph.input} | {o.name for o in model.graph.output}
    for i, node in enumerate(model.graph.node):
        node.name = f"{node.op_type}_{i}"
        for j, out in enumerate(node.output):
            if out and out not in keep:
                mapping[out] = f"{node.name}:{j}"
    for node in model.graph.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    del model.graph.value_info[:]  # optional shape hints keyed by the old names
    ordered = sorted(inits.values(), key=lambda i: int(mapping[i.name].split("_")[1]))
    for init in ordered:
        init.name = mapping[init.name]
    del model.graph.initializer[:]
    model.graph.initializer.extend(ordered)
    model.graph.doc_string = ""  # tf2onnx writes its command line here, with the temporary folder
    return model


def _quiet_env() -> dict[str, str]:
    import os

    # PYTHONHASHSEED: tf2onnx walks sets of names, so node names depend on the hash seed
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONHASHSEED": "0"}


def fp32_from_sklearn(source: Source):
    from skl2onnx import to_onnx

    from pipeline.models.summary_stats import prepend_summary, summary_stats

    clf = source.model.steps[-1][1]
    X = source.calibration[:1]  # (1, n_mfcc, frames): the artefact's input; the estimator sees its statistics
    model = to_onnx(source.model, summary_stats(X), target_opset={"": OPSET, "ai.onnx.ml": 3},
                    options={id(clf): {"zipmap": False}})
    return finish(contract_outputs(prepend_summary(model, X.shape[1], X.shape[2], OPSET)))


def _ml_operators(model) -> list[str]:
    return sorted({n.op_type for n in model.graph.node if n.domain == "ai.onnx.ml" and n.op_type != "Scaler"})


def _ml_phrase(model) -> str:
    ml = _ml_operators(model)
    return f"{', '.join(ml)} {'is an ai.onnx.ml operator' if len(ml) == 1 else 'are ai.onnx.ml operators'}"


def ml_operator_reason(model) -> str | None:
    """Why onnxruntime cannot quantize this graph, or None if it has operators it can quantize."""
    if any(n.op_type in QUANTIZABLE_OPS for n in model.graph.node):
        return None
    return f"{_ml_phrase(model)}; onnxruntime does not quantize them, so this level would be the fp32 graph renamed"


def _calibration_reader(model, data: np.ndarray):
    from onnxruntime.quantization import CalibrationDataReader

    name = model.graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(data)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {name: x[None].astype(np.float32)}

    return Reader()


def _through_files(model, fn: Callable[[str, str], None]):
    """onnxruntime's quantizer works on paths: round-trip through a temporary folder."""
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = str(Path(tmp) / "in.onnx"), str(Path(tmp) / "out.onnx")
        onnx.save(model, src)
        with _single_threaded_sessions():
            fn(src, dst)
        return finish(onnx.load(dst))


WEIGHTED_OPS = {"MatMul", "Gemm", "Conv"}  # a classifier's layers: where its quantized part begins


def _front_nodes(model) -> list[str]:
    """The float front of a graph, kept in float32 at every level so that quantization sees what the
    classifier sees, not the raw MFCC matrix (c0 spans about -380..-50, c10 -27..26: one int8 scale for
    both leaves the higher coefficients a few levels): a scikit-learn graph's summary statistics (named by
    summary_graph), and in a Keras graph everything ahead of its first weighted layer (the standardisation,
    the statistics MLP's statistics: the part pipeline.models.keras_models.split_standardisation keeps float)."""
    from pipeline.models.summary_stats import NODE_PREFIX

    named = [n.name for n in model.graph.node if n.name.startswith(NODE_PREFIX)]
    if named:
        return named
    constants = {i.name for i in model.graph.initializer}
    first = next((n for n in model.graph.node if n.op_type in WEIGHTED_OPS and any(i in constants for i in n.input)),
                 None)
    if first is None:
        return []
    producer = {o: n for n in model.graph.node for o in n.output}
    front, todo = set(), [i for i in first.input if i not in constants]
    while todo:
        node = producer.get(todo.pop())
        if node is not None and node.name not in front:
            front.add(node.name)
            todo += [i for i in node.input if i not in constants]
    return [n.name for n in model.graph.node if n.name in front]


def _require_quantizable(model) -> None:
    reason = ml_operator_reason(model)
    if reason:
        raise NotApplicable(reason)


def level_fp32(model, calibration, options=None):
    return model


def level_fp16(model, calibration, options=None):
    if ml_operator_reason(model):
        raise NotApplicable(f"{_ml_phrase(model)} with no float16 kernels in onnxruntime; "
                            "a float16 graph would only wrap them in casts")
    from onnxconverter_common import float16

    # skl2onnx graphs (an ai.onnx.ml Scaler ahead of the MLP) hold Cast nodes the pass retypes to float16
    # while their consumers stay float32: the file then fails to load. Keeping those Casts in float32
    # (the pass adds the casts around them) gives a graph onnxruntime loads; Keras graphs have no ml ops.
    blocked = [n.name for n in model.graph.node if n.op_type == "Cast"] \
        if any(n.domain == "ai.onnx.ml" for n in model.graph.node) else []
    blocked += _front_nodes(model)  # the statistics see raw MFCCs (c0 near -400): float16 would round them
    return finish(float16.convert_float_to_float16(model, keep_io_types=True, node_block_list=blocked))


def level_dynamic_int8(model, calibration, options=None):
    _require_quantizable(model)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    return _through_files(model, lambda s, d: quantize_dynamic(s, d, weight_type=QuantType.QInt8))


@contextmanager
def _single_threaded_sessions():
    """onnxruntime's quantizer opens sessions (graph optimisation, calibration) with default threading.
    Under load a multi-threaded run can round a value one ulp differently, which changes scales and so
    the file (seen in the reproducibility test, for dynamic and static levels). One thread makes the
    quantized file the same in every run."""
    import onnxruntime
    from onnxruntime.quantization import quant_utils

    original = onnxruntime.SessionOptions

    class OneThread(original):
        def __init__(self):
            super().__init__()
            self.intra_op_num_threads = 1
            self.inter_op_num_threads = 1

    onnxruntime.SessionOptions = quant_utils.SessionOptions = OneThread
    try:
        yield
    finally:
        onnxruntime.SessionOptions = quant_utils.SessionOptions = original


def _static(activation_type_name: str, extra: dict, reduce_range: bool = False):
    def level(model, calibration, options=None):
        _require_quantizable(model)
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

        def run(src, dst):
            quantize_static(src, dst, _calibration_reader(model, calibration), quant_format=QuantFormat.QDQ,
                            activation_type=getattr(QuantType, activation_type_name),
                            weight_type=QuantType.QInt8, per_channel=getattr(options, "per_channel", True),
                            reduce_range=reduce_range,
                            calibrate_method=CalibrationMethod.MinMax, extra_options=extra,
                            nodes_to_exclude=_front_nodes(model))

        return _through_files(model, run)

    return level


# One function per quantization level (keys of pipeline.export.levels.QUANTIZATION_LEVELS).
ONNX_LEVELS = {
    "fp32": level_fp32,
    "fp16": level_fp16,
    "dynamic_int8": level_dynamic_int8,
    # 7-bit weights: without VNNI, onnxruntime's x86 u8s8 kernels sum pairs of products in int16 and
    # saturate; with full-range weights keras.onnx.int8 agreed with fp32 on 96.4% of the test clips, with
    # 7-bit weights 98.2% (2-vCPU AVX2 EPYC, docs/measurements.md); onnxruntime's docs advise it off VNNI.
    "int8": _static("QInt8", {}, reduce_range=True),
    # int16 activations need the com.microsoft Q/DQ operators below opset 21
    "int16x8": _static("QInt16", {"UseQDQContribOps": True}),
}


def io_spec(model_bytes: bytes) -> tuple[dict, dict]:
    """Input and output tensor descriptions, read back from the built file with onnxruntime."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return _describe(sess.get_inputs()[0]), _describe(_probabilities_output(sess))


def _probabilities_output(sess):
    return sess.get_outputs()[probabilities_index(sess.get_outputs())]


def _describe(node) -> dict:
    dtype = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64"}.get(node.type, node.type)
    return {"name": node.name, "shape": [d if isinstance(d, int) else 1 for d in node.shape], "dtype": dtype,
            "scale": None, "zero_point": None}
