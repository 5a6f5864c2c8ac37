"""The artefact formats: one entry each, with what the stages, the bundles and the report need to know of it
(its converters are the model families', pipeline/models/families.py; its runtime's adapter is in
pipeline/bench/runtimes.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    runtime: str  # key of pipeline.bench.runtimes.RUNTIMES
    runs_with: str  # the bundle README's "Run it with ..."
    marker: str     # its points in the report's plots (matplotlib marker)

    @property
    def is_tflite(self) -> bool:
        """A TFLite flatbuffer (TFLite Micro's kind of file too)."""
        return self.runtime == "litert"


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("onnx", ".onnx", "onnxruntime", "onnxruntime (CPU execution provider)", "o"),
        Format("tflite", ".tflite", "litert", "LiteRT / TensorFlow Lite interpreter (builtin operators only)", "s"),
        # a TFLite file with only the operators TensorFlow Lite for Microcontrollers registers (LiteRT runs it too)
        # (an end-to-end tflm file's classifier part is the tflite one: pipeline.variants.TWIN_FORMAT)
        Format("tflm", ".tflite", "litert",
               "TensorFlow Lite for Microcontrollers (its builtin operators: no RFFT2D), or LiteRT", "D"),
    )
}
