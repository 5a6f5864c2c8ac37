"""TensorFlow Lite for Microcontrollers on the host (PyPI tflite-micro: TFLM's reference kernels and its
recording allocator): does a .tflite file load, how large a tensor arena it needs, and its top-1 on the
test split, to compare with LiteRT's reference kernels. Also the MACs of a .tflite, counted from the
flatbuffer (the Cortex-M estimate's workload).

    python -m pipeline.bench.tflm JOB.json OUT.json   (one harness job; a process of its own: TFLM prints
                                                        its reasons and allocations on the C stderr)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PROBE_ARENA = 16 * 1024 * 1024  # large enough for every model here; the arena needed is what the recorder reports
_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


def _captured_stderr(fn):
    """fn()'s result (or exception) and what the C++ side wrote on file descriptor 2 meanwhile."""
    with tempfile.TemporaryFile() as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            result, error = fn(), None
        except Exception as err:  # TFLM raises RuntimeError; the reason is on stderr
            result, error = None, err
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        return result, error, f.read().decode(errors="replace")


def _reason(said: str, error: Exception) -> str:
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    return "; ".join(dict.fromkeys(lines[:3])) or f"{type(error).__name__}: {error}"


def deployability(job: dict) -> dict:
    """{loads, reason, arena_bytes, predictions}: the file on TFLM, every input of the job."""
    from ai_edge_litert.interpreter import Interpreter
    from tflite_micro.python.tflite_micro import runtime

    from pipeline.bench.harness import prepare_inputs
    from pipeline.bench.runtimes import probabilities_index

    data = Path(job["artefact"]).read_bytes()

    def probe():
        it = runtime.Interpreter.from_bytes(data, arena_size=PROBE_ARENA)
        it.set_input(np.zeros(it.get_input_details(0)["shape"], it.get_input_details(0)["dtype"]), 0)
        it.invoke()
        it.print_allocations()
        return it

    _, error, said = _captured_stderr(probe)
    if error is not None:
        return {"loads": False, "reason": _reason(said, error), "arena_bytes": None}
    total = _TOTAL.search(said)
    if total is None:  # the recording allocator's report changed: a defect here, not TFLM's verdict
        raise RuntimeError(f"tflite-micro printed no arena total for {job['artefact']}: {said[-300:]!r}")
    arena = int(total.group(1))
    # the reported size is enough: the agreement run uses exactly that arena
    it, error, said = _captured_stderr(lambda: runtime.Interpreter.from_bytes(data, arena_size=arena))
    if error is not None:
        return {"loads": False, "reason": f"loads with a {PROBE_ARENA} B arena but not with the {arena} B it "
                                          f"reports: {_reason(said, error)}", "arena_bytes": arena}
    out = probabilities_index(Interpreter(model_content=data).get_output_details())  # TFLM's has no names
    predictions = []
    for x in prepare_inputs(np.load(job["inputs"]), job["input"]):
        it.set_input(x, 0)
        it.invoke()
        predictions.append(int(np.argmax(it.get_output(out))))
    return {"loads": True, "reason": None, "arena_bytes": arena, "predictions": predictions}


def count_macs(path: str | Path) -> int:
    """Multiply-accumulates of one inference from the tensor shapes in the flatbuffer: convolutions and fully
    connected layers, plus one per element of the arithmetic and reductions between them (a statistics model's
    means, differences and square roots: work of the same order as its few thousand MACs). Data movement
    (reshape, slice, concatenation, padding) counts 0."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(Path(path).read_bytes(), 0)
    ops = {i: c.builtinCode if c.builtinCode else c.deprecatedBuiltinCode for i, c in enumerate(model.operatorCodes)}
    B = schema.BuiltinOperator
    per_output = {B.ADD, B.SUB, B.MUL, B.DIV, B.SQRT, B.RSQRT, B.SQUARE, B.SQUARED_DIFFERENCE}
    per_input = {B.MEAN, B.SUM, B.REDUCE_MAX, B.REDUCE_MIN}
    macs = 0
    for graph in model.subgraphs:
        shape = lambda i: [int(d) for d in graph.tensors[i].shape]  # noqa: E731
        for op in graph.operators:
            code = ops[op.opcodeIndex]
            if code in per_output:
                macs += int(np.prod(shape(op.outputs[0])))
            elif code in per_input:
                macs += int(np.prod(shape(op.inputs[0])))
            elif code in (B.CONV_2D, B.DEPTHWISE_CONV_2D, B.FULLY_CONNECTED):
                out, weights = shape(op.outputs[0]), shape(op.inputs[1])
                if code == B.CONV_2D:          # out [n, h, w, c_out], weights [c_out, kh, kw, c_in]
                    macs += int(np.prod(out)) * int(np.prod(weights[1:]))
                elif code == B.DEPTHWISE_CONV_2D:  # weights [1, kh, kw, c_out]
                    macs += int(np.prod(out)) * weights[1] * weights[2]
                else:                          # out [..., units], weights [units, in]
                    macs += int(np.prod(out)) * weights[1]
    return macs


def run_tflm(job: dict, workdir: Path, env: dict[str, str]) -> dict:
    """deployability() in a process of its own (TFLM dying on a file is its verdict; a Python error is not)."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        jobs, out = Path(tmp) / "job.json", Path(tmp) / "out.json"
        jobs.write_text(json.dumps(job))
        res = subprocess.run([sys.executable, "-m", "pipeline.bench.tflm", str(jobs), str(out)],
                             capture_output=True, text=True, env=env)
        if res.returncode < 0:  # TFLM itself died on the file (a signal): it does not load, and this is why
            last = [line for line in res.stderr.splitlines() if line.strip()][-1:] or [""]
            return {"loads": False, "reason": f"tflite-micro died with signal {-res.returncode} on the file: "
                                              f"{last[0][:300]}", "arena_bytes": None}
        if res.returncode != 0:  # a Python error in the check: ours, not the file's
            raise RuntimeError(f"the TFLite Micro check of {job['id']} failed:\n{res.stderr[-2000:]}")
        return json.loads(out.read_text())


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    result = deployability(json.loads(Path(argv[0]).read_text()))
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
