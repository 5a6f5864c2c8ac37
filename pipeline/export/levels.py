"""The quantization levels: one entry each, with the options it takes in params.yaml
(`quantization.<level>`). Converters per format live in export/onnx.py and export/tflite.py,
keyed by these names."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.schema import PositiveInt, Strict


class NoOptions(Strict):
    """A level that needs nothing but the fp32 model: `quantization.<level>: {}`."""


class CalibratedOptions(Strict):
    calibration_samples: PositiveInt  # training inputs that fix the activation ranges (a seeded subset)


@dataclass(frozen=True)
class Level:
    name: str
    description: str
    options: type[Strict]

    @property
    def calibrated(self) -> bool:
        """Needs representative (training) data to fix activation ranges."""
        return self.options is CalibratedOptions


QUANTIZATION_LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        Level("fp32", "float32 weights and activations: the reference every other level is compared with", NoOptions),
        Level("fp16", "float16 weights (TFLite dequantizes them on a CPU; ONNX computes in float16)", NoOptions),
        Level("dynamic_int8", "int8 weights; activations quantized on the fly at run time", NoOptions),
        Level("int8", "int8 weights and activations, static, calibrated on training data; the float front "
                      "(standardisation, summary statistics, MFCC) stays float32 ahead of the quantized input",
              CalibratedOptions),
        Level("int16x8", "int16 activations with int8 weights, static, calibrated on training data",
              CalibratedOptions),
    )
}
