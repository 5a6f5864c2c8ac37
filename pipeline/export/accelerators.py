"""Which mobile accelerators can take a bundle, in the runtimes' own words: onnxruntime's mobile usability
checker (NNAPI on Android, CoreML on iOS: nodes each can take, the partitions the graph splits into, the
operators it lacks) and TFLite's Analyzer with gpu_compatibility (the GPU delegate). A static check by each
runtime's tool, not a run on a phone: the sidecar and the report say so."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Callable

ONNX_TOOL = "onnxruntime.tools.check_onnx_model_mobile_usability"
TFLITE_TOOL = "tf.lite.experimental.Analyzer.analyze(gpu_compatibility=True)"


def onnx_accelerators(data: bytes) -> dict:
    """NNAPI and CoreML (ML Program) partitioning of the graph after onnxruntime's basic optimisation, as the
    checker does it."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.tools.mobile_helpers import usability_checker as uc

    with tempfile.TemporaryDirectory() as tmp:
        src, optimized = Path(tmp) / "model.onnx", Path(tmp) / "optimized.onnx"
        src.write_bytes(data)
        uc.optimize_model(src, optimized)
        # what the checker's ModelProtoWithShapeInfo does for a model under 2 GB, without its destructor's noise
        # on stderr when strict shape inference refuses the graph
        model = onnx.shape_inference.infer_shapes(onnx.load(str(optimized)), strict_mode=True)
        found = {"NNAPI": uc.check_nnapi_partitions(model, True),
                 "CoreML": uc.check_coreml_partitions(model, True, "coreml_supported_mlprogram_ops.md")}
    return {"checked_by": f"{ONNX_TOOL} (onnxruntime {ort.__version__})", "accelerators": {
        ep: {"verdict": {"YES": "yes", "MAYBE": "partly", "NO": "no"}[info.suitability().name],
             "supported_nodes": info.num_supported_nodes, "nodes": info.num_nodes, "partitions": info.num_partitions,
             "unsupported_ops": sorted(op.split(":")[-1] for op in info.unsupported_ops)}
        for ep, info in found.items()}}


def tflite_accelerators(data: bytes) -> dict:
    """The GPU delegate's compatibility as TFLite's Analyzer states it (its warnings, verbatim)."""
    import tensorflow as tf

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        tf.lite.experimental.Analyzer.analyze(model_content=data, gpu_compatibility=True)
    lines = [line.strip() for line in printed.getvalue().splitlines()]
    warnings = sorted({line.split("GPU COMPATIBILITY WARNING: ", 1)[1] for line in lines
                       if "GPU COMPATIBILITY WARNING: " in line})
    said = next((line for line in lines if "compatible with GPU delegate" in line), "")
    return {"checked_by": f"{TFLITE_TOOL} (TensorFlow {tf.__version__})", "accelerators": {
        "GPU delegate": {"verdict": "no" if warnings or "not compatible" in said else "yes", "said": said,
                         "warnings": warnings}}}


# By the format's runtime (pipeline.export.formats.Format.runtime): the checker of its mobile accelerators.
CHECKERS: dict[str, Callable[[bytes], dict]] = {"onnxruntime": onnx_accelerators, "litert": tflite_accelerators}


def check(runtime: str, data: bytes) -> dict:
    """The sidecar's `mobile_accelerators`: the runtime's checker's verdicts, or why there are none."""
    if runtime not in CHECKERS:
        return {"checked_by": None, "accelerators": {}, "note": f"no mobile accelerator checker for {runtime}"}
    try:
        return CHECKERS[runtime](data)
    except Exception as err:  # noqa: BLE001 - a checker's failure is a note on the bundle, never a lost variant
        said = " ".join(str(err).split())  # onnx's messages span lines
        return {"checked_by": None, "accelerators": {}, "note": f"the checker raised {type(err).__name__}: {said}"[:300]}
