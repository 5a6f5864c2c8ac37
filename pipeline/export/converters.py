"""The converters the model families (pipeline/models/families.py) name: each builds one quantization
level of one model in one format, or raises NotApplicable with the reason that goes into the report.
The families name them (CONVERTERS) rather than hold them, so models never import export."""

from __future__ import annotations

from typing import Callable

from pipeline.export import onnx as onnx_export
from pipeline.export import tflite as tflite_export
from pipeline.export.common import Built, ConversionFailed, NotApplicable
from pipeline.export.levels import QUANTIZATION_LEVELS
from pipeline.export.tflite_strip import strip_internal_names
from pipeline.export.quant_error import (ONNX_NO_MATCH_REASON, ONNX_TOOL, TFLITE_INT16_REASON, onnx_layer_errors,
                                        tflite_layer_errors)
from pipeline.models.families import FAMILIES
from pipeline.models.source import Source
from pipeline.variants import REFERENCE_LEVEL

Converter = Callable[[Source, str], Built]


# The fp32 graph is the input of every level and of both Keras families: built once per model object
# (the value keeps the model alive, so its id is never reused for another one).
_FP32_CACHE: dict[tuple, tuple[object, object]] = {}


def _fp32(builder, source: Source):
    key = (builder.__name__, str(source.saved_model_dir) if source.saved_model_dir else id(source.model))
    if key not in _FP32_CACHE:
        _FP32_CACHE[key] = (source.model, builder(source))
    return _FP32_CACHE[key][1]


def onnx_converter(fp32_builder, wrap=None):
    """fp32 graph -> the level's quantizer -> (optionally) wrap, e.g. prepend the MFCC front end."""

    def convert(source: Source, level: str) -> Built:
        fp32 = _fp32(fp32_builder, source)
        model = _failing_as("onnxruntime's tools raised", level,
                            lambda: onnx_export.ONNX_LEVELS[level](fp32, source.calibration, source.options))
        errors, note = None, None
        if QUANTIZATION_LEVELS[level].calibrated:  # the classifier part, before any front end is prepended
            no_match = ONNX_NO_MATCH_REASON if level == "int16x8" else f"{ONNX_TOOL} matched no activation"
            errors, note = _diagnosed(lambda: onnx_layer_errors(fp32, model, source.calibration), level, no_match)
        if wrap is not None:
            model = wrap(model, source)
        data = model.SerializeToString()
        return Built(data, *_loaded_spec(onnx_export.io_spec, data, "onnxruntime", level), quant_error=errors,
                     quant_error_note=note)

    return convert


def _failing_as(what: str, level: str, build):
    """build(); an exception (other than NotApplicable) is this level's ConversionFailed, except at the
    reference level, whose failure is a bug to see with its traceback."""
    try:
        return build()
    except NotApplicable:
        raise
    except Exception as err:
        if level == REFERENCE_LEVEL:
            raise
        raise ConversionFailed(f"{what}: {_first_line(err)}") from err


def _diagnosed(layer_errors, level: str, no_match: str) -> tuple[list | None, str | None]:
    """(per-layer errors, None) or (None, why there are none): the diagnostics explain a built
    variant, so their own failure is a note in the report, never a lost variant."""
    try:
        errors = layer_errors() or None
    except Exception as err:  # noqa: BLE001 - recorded as the variant's note
        return None, f"the per-layer error could not be computed ({level}): {_first_line(err)}"
    return errors, None if errors else no_match


def _tflite_bytes(build, source: Source, level: str) -> bytes:
    """Every TFLite file as the converter makes it, less the internal names no runtime reads."""
    return _failing_as("the TFLite converter raised", level, lambda: strip_internal_names(build(source, level)))


def _tflite_errors(source: Source, level: str) -> dict:
    if level == "int8":
        errors, note = _diagnosed(lambda: tflite_layer_errors(source.model, level, source.calibration, source.options),
                                  level,
                                  "TensorFlow's QuantizationDebugger reported no layer")
        return {"quant_error": errors, "quant_error_note": note}
    return {"quant_error_note": TFLITE_INT16_REASON} if QUANTIZATION_LEVELS[level].calibrated else {}


def tflite_converter(source: Source, level: str) -> Built:
    data = _tflite_bytes(tflite_export.convert_tflite, source, level)
    return Built(data, *_loaded_spec(tflite_export.io_spec, data, "LiteRT", level), **_tflite_errors(source, level))


def _tflite_e2e(source: Source, level: str, dft: str) -> Built:
    from pipeline.export.e2e import e2e_tflite

    data = _tflite_bytes(lambda s, lvl: e2e_tflite(s.model, s.mfcc, s.n_samples, lvl, s.calibration_audio,
                                                   saved_model_dir=s.saved_model_dir, dft=dft, options=s.options),
                        source, level)
    return Built(data, *_loaded_spec(tflite_export.io_spec, data, "LiteRT", level), **_tflite_errors(source, level))


def tflite_e2e_converter(source: Source, level: str) -> Built:
    return _tflite_e2e(source, level, "fft")


# What TensorFlow Lite for Microcontrollers cannot run, by level (its own refusals, pipeline/bench/tflm.py).
TFLM_REFUSES = {
    "fp16": "TFLite Micro has no float16 DEQUANTIZE: it refuses float16 weights (see keras.tflite.fp16's verdict)",
    "dynamic_int8": "TFLite Micro has no hybrid kernels: it refuses dynamic-range int8 (see keras.tflite.dynamic_int8)",
}


def tflm_e2e_converter(source: Source, level: str) -> Built:
    """The end-to-end TFLite file with the DFT as matrix products (no RFFT2D), for TFLite Micro."""
    if level in TFLM_REFUSES:
        raise NotApplicable(TFLM_REFUSES[level])
    return _tflite_e2e(source, level, "matmul")


def prepend_front_end(classifier, source: Source):
    from pipeline.export.e2e import e2e_onnx

    return onnx_export.finish(e2e_onnx(classifier, source.mfcc, source.n_samples))


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


def _loaded_spec(io_spec, data: bytes, runtime: str, level: str):
    """Read the I/O description back by loading the file: a built file its runtime rejects is not a variant."""
    try:
        return io_spec(data)
    except Exception as err:
        if level == REFERENCE_LEVEL:
            raise
        raise ConversionFailed(f"the {level} file was built but {runtime} cannot load it: {_first_line(err)}") from err


# Every converter a family names (Family.converters), by name.
CONVERTERS: dict[str, Converter] = {
    "sklearn_onnx": onnx_converter(onnx_export.fp32_from_sklearn),
    "sklearn_e2e_onnx": onnx_converter(onnx_export.fp32_from_sklearn, wrap=prepend_front_end),
    "keras_onnx": onnx_converter(onnx_export.fp32_from_keras),
    "keras_e2e_onnx": onnx_converter(onnx_export.fp32_from_keras, wrap=prepend_front_end),
    "keras_tflite": tflite_converter,
    "keras_e2e_tflite": tflite_e2e_converter,
    "keras_e2e_tflm": tflm_e2e_converter,
}


def convert(source: Source, fmt: str, level: str) -> Built:
    """One model in one format at one level, as its family says: built, or NotApplicable with the family's reason."""
    family = FAMILIES[source.family]
    if fmt in family.not_applicable:
        raise NotApplicable(family.not_applicable[fmt])
    return CONVERTERS[family.converters[fmt]](source, level)
