"""End-to-end artefacts: raw clip in, class probabilities out, the MFCC front end inside the graph.

Both builders put the float32 front end of `pipeline.audio.mfcc_graph` in front of an (already
quantized, for ONNX) classifier over the (1, n_mfcc, frames) MFCC matrix, and expose the in-graph
MFCCs as a second output named "mfcc" so the pipeline can measure feature parity per artefact:

    outputs[0]  probabilities   (1, n_classes)
    outputs[1]  "mfcc"          (1, n_mfcc, frames) float32

The front end is never quantized (quantizing it rounds the log-mel energies to a few levels: garbage): it stays
float32 at every level, in both formats.

TFLite: the front end and the classifier are converted SEPARATELY and joined afterwards into one
flatbuffer (one subgraph; `pipeline.export.tflite_stitch`). The front end is `tflite_mfcc_model_bytes` (plain
float32 conversion, builtin ops only); the classifier is the Keras model converted exactly like the
feature-input variant (`TFLITE_LEVELS[level]` on its SavedModel), so the classifier part of the
e2e artefact IS the feature-input variant's graph. Why not one conversion of the whole graph:
fp16 turns every float constant (mel and DCT matrices, window) into float16 + DEQUANTIZE (MFCC
error 4.5e-3 against librosa, measured), and dynamic-range int8 quantizes the mel FULLY_CONNECTED
(>= 1024 weights) into a hybrid kernel that also quantizes the power spectrum on the fly (MFCC
error 0.18); the converter has no per-node opt-out for these two modes (the denylists of
QuantizationDebugOptions only reach the calibrated `mlir_quantize` call, which produces int8
activations; int16x8 goes through the legacy calibrator, which has no denylist). Joining two
conversions works for all five levels with one mechanism, and the classifier part is
bit-identical to the feature-input variant. (Also seen: a Keras 3 model called inside a tf.Module
and converted with from_concrete_functions keeps its weights as resource variables, VAR_HANDLE /
READ_VARIABLE, and int8 calibration of that graph fails; going through the SavedModel freezes them.)

ONNX: `prepend_to_onnx_classifier` merges the float ONNX front end before the quantized classifier
(onnxruntime's quantizers never see the front end), plus the extra "mfcc" output.

TensorFlow and onnx are imported lazily.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio.mfcc import MfccConfig
from pipeline.export.common import NotApplicable
from pipeline.export.levels import QUANTIZATION_LEVELS
from pipeline.export.tflite import TFLITE_LEVELS, keras_classifier
from pipeline.export.tflite_stitch import INPUT_NAME, MFCC_NAME, stitch_tflite


# ----------------------------------------------------------------------------- TFLite


@lru_cache(maxsize=8)
def _front_end_bytes(cfg: MfccConfig, n_samples: int, dft: str = "fft") -> bytes:
    from pipeline.audio.mfcc_graph import tflite_mfcc_model_bytes

    return tflite_mfcc_model_bytes(cfg, n_samples, batch_size=1, dft=dft)


def front_end_features(audio: np.ndarray, cfg: MfccConfig, dft: str = "fft") -> np.ndarray:
    """MFCCs of (n, n_samples) clips computed by the float TFLite front end that the e2e artefact
    embeds (the features its classifier part sees). Returns (n, n_mfcc, frames) float32."""
    from ai_edge_litert.interpreter import Interpreter

    audio = _check_audio(audio)
    interp = Interpreter(model_content=_front_end_bytes(cfg, audio.shape[1], dft))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    out = interp.get_output_details()[0]["index"]
    feats = []
    for clip in audio:
        interp.set_tensor(inp, clip[None])
        interp.invoke()
        feats.append(interp.get_tensor(out)[0].copy())
    return np.stack(feats).astype(np.float32)


def _check_audio(audio: Any) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[0] == 0 or audio.shape[1] == 0:
        raise ValueError(f"audio must be a non-empty (n, n_samples) array, got shape {audio.shape}")
    if audio.dtype.kind != "f":
        raise ValueError(f"audio must be float, got {audio.dtype}")
    return np.ascontiguousarray(audio, dtype=np.float32)


def classifier_tflite(keras_model: Any, level: str, calibration_mfcc: np.ndarray | None,
                      saved_model_dir: str | Path | None = None, options=None) -> bytes:
    """The feature-input classifier at `level`, converted as `pipeline.export.tflite` does
    (SavedModel with the fixed (1, n_mfcc, frames) "mfcc" signature, then TFLITE_LEVELS[level]).
    calibration_mfcc: (n, n_mfcc, frames) float32, needed by int8 and int16x8 only."""
    from pipeline.models.keras_models import export_saved_model

    if level not in TFLITE_LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {sorted(TFLITE_LEVELS)}")
    if QUANTIZATION_LEVELS[level].calibrated and (calibration_mfcc is None or len(calibration_mfcc) == 0):
        raise ValueError(f"level {level} needs calibration data")
    with tempfile.TemporaryDirectory() as tmp:
        if saved_model_dir is None:
            saved_model_dir = Path(tmp) / "saved_model"
            export_saved_model(keras_model, str(saved_model_dir))
        return keras_classifier(keras_model, saved_model_dir, level, calibration_mfcc, options)


def e2e_tflite(keras_model: Any, cfg: MfccConfig, n_samples: int, level: str,
               calibration_audio: np.ndarray | None, *,
               saved_model_dir: str | Path | None = None, dft: str = "fft", options=None) -> bytes:
    """A TFLite flatbuffer: raw clip -> (probabilities, mfcc), front end float32 at every level
    (dft: the front's spectrum, `pipeline.audio.mfcc_graph.DFTS`; "matmul" for TFLite Micro).

    Input "waveform": float32 [1, n_samples] at cfg.sample_rate, raw samples, at EVERY level
    (the int8 artefact quantizes the in-graph MFCCs itself with a QUANTIZE op carrying the
    classifier's input scale/zero point).

    Outputs, in this order:
      "probabilities" [1, n_classes]: float32 for fp32, fp16, dynamic_int8 and int16x8 (int16x8
          keeps float I/O with QUANTIZE/DEQUANTIZE inside); int8 for int8, exactly as the
          feature-input int8 variant (dequantize with the output details' scale/zero point,
          1/256 and -128 for a softmax; argmax works on the raw int8 values).
      "mfcc" [1, n_mfcc, frames]: float32 at every level (the front end's own output).

    Levels: fp32 / fp16 (float16 classifier weights) / dynamic_int8 (int8 classifier weights,
    hybrid kernels) / int8 (full integer classifier) / int16x8 (int16 activations, int8 weights).
    The classifier part is exactly the feature-input TFLite variant of that level; for int8 and
    int16x8 it is calibrated on `calibration_audio` ((n, n_samples) raw training clips) passed
    through the float front end. Only builtin operators (checked; RuntimeError otherwise).

    saved_model_dir: an existing `export_saved_model(keras_model, ...)` folder to reuse (saves an
    export per call); otherwise a temporary one is written.
    """
    from pipeline.audio.mfcc_graph import non_builtin_ops, tflite_op_names

    if level not in TFLITE_LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {list(TFLITE_LEVELS)}")
    if n_samples <= 0:
        raise ValueError(f"n_samples must be positive, got {n_samples}")
    calibration_mfcc = None
    if QUANTIZATION_LEVELS[level].calibrated:
        if calibration_audio is None:
            raise ValueError(f"level {level} needs calibration_audio (raw training clips)")
        calibration_audio = _check_audio(calibration_audio)
        if calibration_audio.shape[1] != n_samples:
            raise ValueError(f"calibration_audio clips have {calibration_audio.shape[1]} samples, "
                             f"expected n_samples={n_samples}")
        calibration_mfcc = front_end_features(calibration_audio, cfg, dft)
    expected = (1, *cfg.output_shape(n_samples))
    got = tuple(int(d) for d in keras_model.input_shape[1:])
    if (1, *got) != expected:
        raise ValueError(f"the Keras model takes {got}; this front end gives {expected[1:]}")

    classifier = classifier_tflite(keras_model, level, calibration_mfcc, saved_model_dir, options)
    data = stitch_tflite(_front_end_bytes(cfg, n_samples, dft), classifier)
    bad = non_builtin_ops(tflite_op_names(data))
    if bad:
        raise RuntimeError(f"e2e {level} TFLite model holds non-builtin operators: {sorted(set(bad))}")
    return data


# ----------------------------------------------------------------------------- ONNX


def e2e_onnx(classifier_onnx: Any, cfg: MfccConfig, n_samples: int) -> Any:
    """The classifier (float or already quantized by ONNX_LEVELS, input = the MFCC matrix) with
    the float32 ONNX front end in front of it: an onnx.ModelProto.

    Input "waveform" float32 [b, n_samples] (b = the classifier's batch dimension, 1 for the Keras
    export). Outputs: the classifier's outputs first (probabilities, float32 at every ONNX level:
    fp16 keeps float32 I/O, static QDQ dequantizes), then "mfcc" float32 [b, n_mfcc, frames], the
    front end's own output. The front end (Cast to double, STFT, mel/DCT MatMuls in float32) is
    added after quantization, so no level touches it.
    """
    import onnx
    from onnx import TensorProto, helper

    from pipeline.audio.mfcc_graph import prepend_to_onnx_classifier

    inits = {i.name for i in classifier_onnx.graph.initializer}
    inputs = [i for i in classifier_onnx.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ValueError(f"classifier has {len(inputs)} inputs; expected 1")
    c_input = inputs[0]
    rank = len(c_input.type.tensor_type.shape.dim)
    batch_dim = c_input.type.tensor_type.shape.dim[0]
    merged = prepend_to_onnx_classifier(classifier_onnx, cfg, n_samples)
    g = merged.graph

    # the (b, n_mfcc, frames) tensor: what feeds the classifier when its input has rank 3, the
    # front end's pre-reshape tensor otherwise
    # (merge_models renames the classifier's input to the front end's output name, "mfcc")
    source = MFCC_NAME if rank == 3 else "mfcc_fe/mfcc_ncf"
    produced = {o for n in g.node for o in n.output}
    if source not in produced:
        raise RuntimeError(f"front end tensor {source!r} not found in the merged graph")
    if source != MFCC_NAME:
        if MFCC_NAME in produced or MFCC_NAME in {i.name for i in g.input}:
            raise NotApplicable(f"the merged graph already uses the name {MFCC_NAME!r} for another "
                                "tensor; cannot expose the front end's features under that name")
        g.node.append(helper.make_node("Identity", [source], [MFCC_NAME], name="mfcc_fe/expose"))
    if any(o.name == MFCC_NAME for o in g.output):
        raise RuntimeError("the classifier already has an output named 'mfcc'")
    b = batch_dim.dim_value if batch_dim.HasField("dim_value") else (batch_dim.dim_param or "batch")
    n_mfcc, frames = cfg.output_shape(n_samples)
    g.output.append(helper.make_tensor_value_info(MFCC_NAME, TensorProto.FLOAT, [b, n_mfcc, frames]))
    if batch_dim.HasField("dim_value"):   # a fixed-batch classifier: say so on the waveform too
        wave = next(i for i in g.input if i.name == INPUT_NAME)
        d0 = wave.type.tensor_type.shape.dim[0]
        d0.Clear()
        d0.dim_value = batch_dim.dim_value
    merged.doc_string = (f"End-to-end: waveform [{b}, {n_samples}] -> float32 MFCC front end "
                         f"({cfg}) -> classifier; extra output 'mfcc'")
    onnx.checker.check_model(merged)
    return merged
