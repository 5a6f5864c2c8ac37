"""The artefact formats: one entry each, naming the runtime that benchmarks it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    runtime: str  # key of pipeline.bench.runtimes.RUNTIMES

    @property
    def is_tflite(self) -> bool:
        """A TFLite flatbuffer (TFLite Micro's kind of file too)."""
        return self.runtime == "litert"


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("onnx", ".onnx", "onnxruntime"),
        Format("tflite", ".tflite", "litert"),
        # a TFLite file with only the operators TensorFlow Lite for Microcontrollers registers (LiteRT runs it too)
        # (an end-to-end tflm file's classifier part is the tflite one: pipeline.variants.TWIN_FORMAT)
        Format("tflm", ".tflite", "litert"),
    )
}
