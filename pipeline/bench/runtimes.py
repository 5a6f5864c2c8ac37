"""One small adapter per runtime: load a file, return a function that runs one input.

Imported by the harness, which also runs inside the emulated aarch64 Python, so
this module needs only numpy and the runtime itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Runner = Callable[[np.ndarray], np.ndarray]


def load_onnxruntime(path: str, threads: int) -> Runner:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = [o for o in sess.get_outputs() if o.type in ("tensor(float)", "tensor(float16)")]
    out_name = (outs[-1] if outs else sess.get_outputs()[0]).name

    def run(x: np.ndarray) -> np.ndarray:
        return sess.run([out_name], {name: x})[0]

    return run


def load_litert(path: str, threads: int) -> Runner:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path, num_threads=threads)
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    out = it.get_output_details()[0]["index"]

    def run(x: np.ndarray) -> np.ndarray:
        it.set_tensor(inp, x)
        it.invoke()
        return it.get_tensor(out)

    return run


@dataclass(frozen=True)
class Runtime:
    load: Callable[[str, int], Runner]
    distribution: str  # the installed package, for the version in each record


RUNTIMES: dict[str, Runtime] = {
    "onnxruntime": Runtime(load_onnxruntime, "onnxruntime"),
    "litert": Runtime(load_litert, "ai-edge-litert"),
}
