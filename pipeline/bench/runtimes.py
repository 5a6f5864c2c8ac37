"""One small adapter per runtime: load a file, return a function that runs one input.

Imported by the harness, which also runs inside the emulated aarch64 Python, so
this module needs only numpy and the runtime itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Runner = Callable[[np.ndarray], np.ndarray]

# End-to-end artefacts expose their in-graph MFCCs as an extra output of this name (for parity checks).
FEATURE_OUTPUT = "mfcc"


def _name(o) -> str:
    return o["name"] if isinstance(o, dict) else o.name


def _holds_scores(o) -> bool:
    """TFLite: any numeric output (int8 for full-integer models); ONNX: float, not skl2onnx's int64 label."""
    if isinstance(o, dict):
        return np.dtype(o["dtype"]).kind in "fiu"
    return o.type in ("tensor(float)", "tensor(float16)")


def probabilities_index(outputs) -> int:
    """The class-probabilities output: the first numeric one that is not the feature output
    (skl2onnx puts an int64 label output first; TFLite int8 probabilities are int8)."""
    for i, o in enumerate(outputs):
        if _holds_scores(o) and _name(o) != FEATURE_OUTPUT:
            return i
    raise ValueError(f"no probabilities output among {[_name(o) for o in outputs]}")


def _output_index(outputs, name: str) -> int:
    for i, o in enumerate(outputs):
        if _name(o) == name:
            return i
    raise ValueError(f"no output named {name!r}; outputs: {[_name(o) for o in outputs]}")


def load_onnxruntime(path: str, threads: int, extra: str | None = None,
                     reference: bool = False) -> tuple[Runner, Runner | None]:
    """(run, run_extra): run(x) -> probabilities; run_extra(x) -> the `extra` output (or None).

    reference: no graph optimisation, so every Q/DQ node runs as written (the graph's semantics)
    instead of the fused integer kernels the CPU's dispatch picks."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if reference:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = sess.get_outputs()
    out_name = outs[probabilities_index(outs)].name

    def run(x: np.ndarray) -> np.ndarray:
        return sess.run([out_name], {name: x})[0]

    if extra is None:
        return run, None
    extra_name = outs[_output_index(outs, extra)].name
    return run, lambda x: sess.run([extra_name], {name: x})[0]


def load_litert(path: str, threads: int, extra: str | None = None,
                reference: bool = False) -> tuple[Runner, Runner | None]:
    """(run, run_extra), as load_onnxruntime. reference: TFLite's reference kernels (no XNNPACK,
    no optimised integer kernels)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    it = Interpreter(model_path=path, num_threads=threads, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    outs = it.get_output_details()
    out = outs[probabilities_index(outs)]["index"]

    def run(x: np.ndarray) -> np.ndarray:
        it.set_tensor(inp, x)
        it.invoke()
        return it.get_tensor(out)

    if extra is None:
        return run, None
    extra_index = outs[_output_index(outs, extra)]["index"]

    def run_extra(x: np.ndarray) -> np.ndarray:
        run(x)
        return it.get_tensor(extra_index)

    return run, run_extra


@dataclass(frozen=True)
class Runtime:
    load: Callable[..., tuple[Runner, Runner | None]]
    distribution: str  # the installed package, for the version in each record


RUNTIMES: dict[str, Runtime] = {
    "onnxruntime": Runtime(load_onnxruntime, "onnxruntime"),
    "litert": Runtime(load_litert, "ai-edge-litert"),
}
