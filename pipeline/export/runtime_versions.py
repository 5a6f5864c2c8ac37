"""What runtime version a file asks for, in the file's own words: a TFLite file's `min_runtime_version` (the
converter's, from its operators' versions), an ONNX file's IR version and opsets. The bundle states it beside
the app runtimes that ran the file: operator versions do not record every kernel's fault in an older runtime
(TFLite 2.9's XNNPACK answered a SAME convolution with stride > kernel wrongly, its FULLY_CONNECTED had no
per-channel int8), so the verdict per runtime is the measured one in the report."""

from __future__ import annotations

from typing import Callable


def tflite_requirement(data: bytes) -> dict:
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model = fbu.convert_bytearray_to_object(bytearray(data))
    found = {(m.name.decode() if isinstance(m.name, bytes) else m.name): m.buffer for m in model.metadata or []}
    if "min_runtime_version" not in found:
        return {"min_runtime_version": None, "says": "the file records no min_runtime_version"}
    version = bytes(model.buffers[found["min_runtime_version"]].data).rstrip(b"\0").decode()
    return {"min_runtime_version": version,
            "says": f"TensorFlow Lite {version} or later (the converter's min_runtime_version, from operator versions)"}


def onnx_requirement(data: bytes) -> dict:
    import onnx

    model = onnx.load_model_from_string(data)
    opsets = {o.domain or "ai.onnx": int(o.version) for o in model.opset_import}
    listed = ", ".join(f"{d} {v}" for d, v in sorted(opsets.items()))
    return {"ir_version": int(model.ir_version), "opsets": opsets,
            "says": f"a runtime that reads ONNX IR version {model.ir_version} and the opsets {listed}"}


# By the format's runtime (pipeline.export.formats.Format.runtime): how its files state what they need.
READERS: dict[str, Callable[[bytes], dict]] = {"onnxruntime": onnx_requirement, "litert": tflite_requirement}


def requirement(runtime: str, data: bytes) -> dict:
    """The sidecar's `runtime_requirement`: what the file asks of its runtime, in its own words."""
    return READERS[runtime](data)


def readme_lines(req: dict, checked_by: list[str]) -> list[str]:
    """The bundle README's section: what the file asks for, and where its verdict per app runtime is."""
    lines = ["## Runtime versions", "", f"The file asks for {req['says']}."]
    if checked_by:
        lines.append("That is not proof that an older runtime answers correctly: this pipeline runs this very file "
                     f"on {', '.join(checked_by)} and compares every answer with Python's; the verdict per runtime "
                     "and version is in the report's \"Runs outside Python\" (a variant answered wrongly there "
                     "does not ship for it).")
    return [*lines, ""]
