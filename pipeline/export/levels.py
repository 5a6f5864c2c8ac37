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


class Int8Options(CalibratedOptions):
    # false: one scale and zero point per weight tensor, not one per output channel: a smaller file (TFLite
    # stores a float32 scale and an int64 zero point per channel), possibly less accurate: the report says
    per_channel: bool


@dataclass(frozen=True)
class Level:
    name: str
    description: str
    options: type[Strict]

    @property
    def calibrated(self) -> bool:
        """Needs representative (training) data to fix activation ranges."""
        return issubclass(self.options, CalibratedOptions)


QUANTIZATION_LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        Level("fp32", "float32 weights and activations: the reference every other level is compared with", NoOptions),
        Level("fp16", "float16 weights (TFLite dequantizes them on a CPU; ONNX computes in float16)", NoOptions),
        Level("dynamic_int8", "int8 weights; activations quantized on the fly at run time", NoOptions),
        Level("int8", "int8 weights and activations, static, calibrated on training data; the float front "
                      "(standardisation, summary statistics, MFCC) stays float32 ahead of the quantized input; "
                      "weights per channel or per tensor (`per_channel`)",
              Int8Options),
        Level("int16x8", "int16 activations with int8 weights, static, calibrated on training data",
              CalibratedOptions),
    )
}
