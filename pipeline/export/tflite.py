"""TFLite converters: one function per quantization level, each configuring the TF converter."""

from __future__ import annotations

import numpy as np

from pipeline.bench.runtimes import probabilities_index
from pipeline.export.tflite_stitch import stitch_tflite
from pipeline.models.source import Source


def _representative(calibration: np.ndarray):
    def gen():
        for x in calibration:
            yield [x[None].astype(np.float32)]

    return gen


def per_channel(options) -> bool:
    """The level's `per_channel` option (levels without it: the converters' default, per channel)."""
    return getattr(options, "per_channel", True)


def level_fp32(conv, tf, calibration, options=None):
    pass


def level_fp16(conv, tf, calibration, options=None):
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]


def level_dynamic_int8(conv, tf, calibration, options=None):
    conv.optimizations = [tf.lite.Optimize.DEFAULT]


def level_int8(conv, tf, calibration, options=None):
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(calibration)
    # per tensor: one scale and zero point per weight tensor instead of one per output channel (a float32
    # scale and an int64 zero point each: about 14 KB of the DS-CNN's 47 KB int8 file)
    conv._experimental_disable_per_channel = not per_channel(options)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # int8 at the quantized body's edge; keras_classifier then puts the float standardisation ahead of it,
    # so the built file takes float32 MFCCs (its output stays int8: the sidecar has scale and zero point)
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8


def level_int16x8(conv, tf, calibration, options=None):
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(calibration)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    # dense layers per tensor: a per-channel 16x8 FULLY_CONNECTED keeps its op version, and TFLite runtimes
    # before per-channel dense kernels (2.9's C library, as apps bundle) load it and answer a constant
    conv._experimental_disable_per_channel_quantization_for_dense_layers = True


# One function per quantization level (keys of pipeline.export.levels.QUANTIZATION_LEVELS).
TFLITE_LEVELS = {
    "fp32": level_fp32,
    "fp16": level_fp16,
    "dynamic_int8": level_dynamic_int8,
    "int8": level_int8,
    "int16x8": level_int16x8,
}


def from_saved_model(saved_model_dir, level: str, calibration: np.ndarray | None, options=None) -> bytes:
    """A SavedModel converted at one level (calibration: representative inputs, int8 and int16x8 only;
    options: the level's params)."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    TFLITE_LEVELS[level](conv, tf, calibration, options)
    return bytes(conv.convert())


def keras_classifier(keras_model, saved_model_dir, level: str, calibration: np.ndarray | None,
                     options=None) -> bytes:
    """The Keras model at one level, MFCC matrix in. Calibrated levels (int8, int16x8) keep the model's
    standardisation in float32 ahead of the quantized input: converted whole, the raw matrix would be quantized
    with one scale for every coefficient (c0 spans about -380..-50, c10 -27..26). The float front and the
    quantized body are converted apart and joined (pipeline.export.tflite_stitch)."""
    from pipeline.export.levels import QUANTIZATION_LEVELS

    if not QUANTIZATION_LEVELS[level].calibrated:
        return from_saved_model(saved_model_dir, level, calibration, options)
    import tempfile
    from pathlib import Path

    from pipeline.models.keras_models import export_saved_model, split_standardisation

    front, body = split_standardisation(keras_model)
    standardised = np.asarray(front([calibration.astype(np.float32)], training=False), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        export_saved_model(front, str(Path(tmp) / "front"))
        export_saved_model(body, str(Path(tmp) / "body"))
        return stitch_tflite(from_saved_model(Path(tmp) / "front", "fp32", None),
                             from_saved_model(Path(tmp) / "body", level, standardised, options), feature_input=True)


def convert_tflite(source: Source, level: str) -> bytes:
    return keras_classifier(source.model, source.saved_model_dir, level, source.calibration, source.options)


def io_spec(model_bytes: bytes) -> tuple[dict, dict]:
    """Input and output tensor descriptions, read back from the built flatbuffer with LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model_bytes)
    outs = it.get_output_details()
    return _describe(it.get_input_details()[0]), _describe(outs[probabilities_index(outs)])


def _describe(d: dict) -> dict:
    scale, zero_point = d["quantization"]
    quantized = np.dtype(d["dtype"]).kind in "iu" and scale != 0
    return {"name": d["name"], "shape": [int(s) for s in d["shape"]], "dtype": np.dtype(d["dtype"]).name,
            "scale": float(scale) if quantized else None, "zero_point": int(zero_point) if quantized else None}
