"""The quantization levels: one entry each. Converters per format live in
export/onnx.py and export/tflite.py, keyed by these names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    name: str
    description: str
    calibrated: bool  # needs representative (training) data to fix activation ranges


QUANTIZATION_LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        Level("fp32", "float32 weights and activations: the reference every other level is compared with", False),
        Level("fp16", "float16 weights (TFLite dequantizes them on a CPU; ONNX computes in float16)", False),
        Level("dynamic_int8", "int8 weights; activations quantized on the fly at run time", False),
        Level("int8", "full integer: int8 weights and activations, static, calibrated on training data", True),
        Level("int16x8", "int16 activations with int8 weights, static, calibrated on training data", True),
    )
}
