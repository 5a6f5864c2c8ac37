"""End-to-end artefacts: raw clip in, class probabilities out, the MFCC front end inside the graph.

Both builders put the float32 front end of `pipeline.audio.mfcc_graph` in front of an (already
quantized, for ONNX) classifier over the (1, n_mfcc, frames) MFCC matrix, and expose the in-graph
MFCCs as a second output named "mfcc" so the pipeline can measure feature parity per artefact:

    outputs[0]  probabilities   (1, n_classes)
    outputs[1]  "mfcc"          (1, n_mfcc, frames) float32

The front end is never quantized (quantizing it rounds the log-mel energies to a few levels: garbage): it stays
float32 at every level, in both formats.

TFLite: the front end and the classifier are converted SEPARATELY and joined afterwards into one
flatbuffer (one subgraph; `stitch_tflite`). The front end is `tflite_mfcc_model_bytes` (plain
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
from pipeline.bench.runtimes import FEATURE_OUTPUT
from pipeline.export.common import NotApplicable
from pipeline.export.levels import QUANTIZATION_LEVELS
from pipeline.export.tflite import TFLITE_LEVELS, keras_classifier


INPUT_NAME = "waveform"
PROBABILITIES_NAME = "probabilities"
MFCC_NAME = FEATURE_OUTPUT  # the extra output the pipeline measures parity on
CLASSIFIER_PREFIX = "classifier/"


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
                      saved_model_dir: str | Path | None = None) -> bytes:
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
        return keras_classifier(keras_model, saved_model_dir, level, calibration_mfcc)


def e2e_tflite(keras_model: Any, cfg: MfccConfig, n_samples: int, level: str,
               calibration_audio: np.ndarray | None, *,
               saved_model_dir: str | Path | None = None, dft: str = "fft") -> bytes:
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

    classifier = classifier_tflite(keras_model, level, calibration_mfcc, saved_model_dir)
    data = stitch_tflite(_front_end_bytes(cfg, n_samples, dft), classifier)
    bad = non_builtin_ops(tflite_op_names(data))
    if bad:
        raise RuntimeError(f"e2e {level} TFLite model holds non-builtin operators: {sorted(set(bad))}")
    return data


# --- joining two flatbuffers


def _version_tuple(raw: Any) -> tuple[int, ...]:
    text = bytes(np.asarray(raw, dtype=np.uint8)).split(b"\x00")[0].decode("ascii", "replace")
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        return (0,)


def _quantize_opcode_version(out_type: int, schema: Any) -> int:
    # tensorflow/lite/tools/versioning/op_version.cc: QUANTIZE is v1 for uint8, v2 for int8,
    # v3 for int16 outputs.
    T = schema.TensorType
    return {T.UINT8: 1, T.INT8: 2, T.INT16: 3}[out_type]


def stitch_tflite(front_end: bytes, classifier: bytes, feature_input: bool = False) -> bytes:
    """Join two single-subgraph TFLite models into one: front_end (float32 input -> float32
    features) feeding classifier (features -> probabilities).

    The classifier's input tensor is replaced by the front end's output when it is float32; a
    quantized (int8/uint8/int16) classifier input gets a QUANTIZE op from the float features with
    the classifier's input scale/zero point. Result: input "waveform" (the front end's input),
    outputs ["probabilities" (the classifier's output), "mfcc" (the front end's output)], one
    signature "serving_default" with the same names. Operator codes are merged, buffers and
    tensors of the classifier are appended (its tensor names prefixed "classifier/"), and the
    classifier's metadata is kept (it records the quantization), with min_runtime_version the
    higher of the two.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    F = fbu.convert_bytearray_to_object(bytearray(front_end))
    C = fbu.convert_bytearray_to_object(bytearray(classifier))
    for name, m in (("front end", F), ("classifier", C)):
        if len(m.subgraphs) != 1:
            raise ValueError(f"{name} has {len(m.subgraphs)} subgraphs; expected 1")
        sg = m.subgraphs[0]
        if len(sg.inputs) != 1 or len(sg.outputs) != 1:
            raise ValueError(f"{name} has {len(sg.inputs)} inputs and {len(sg.outputs)} outputs; "
                             "expected one of each")
        if any(b.offset for b in m.buffers if b is not None):
            raise ValueError(f"{name} stores buffers by offset (> 2 GB model); not supported")
    fs, cs = F.subgraphs[0], C.subgraphs[0]
    f_in, f_out = int(fs.inputs[0]), int(fs.outputs[0])
    c_in, c_out = int(cs.inputs[0]), int(cs.outputs[0])
    f_out_t, c_in_t = fs.tensors[f_out], cs.tensors[c_in]
    if f_out_t.type != schema.TensorType.FLOAT32:
        raise ValueError("front end output is not float32")
    if list(f_out_t.shape) != list(c_in_t.shape):
        raise ValueError(f"front end gives {list(f_out_t.shape)}, classifier takes {list(c_in_t.shape)}")

    # operator codes: reuse identical entries
    def key(oc):
        return (oc.builtinCode, oc.deprecatedBuiltinCode, oc.version, oc.customCode)

    codes = {key(oc): i for i, oc in enumerate(F.operatorCodes)}

    def opcode_index(oc) -> int:
        k = key(oc)
        if k not in codes:
            codes[k] = len(F.operatorCodes)
            F.operatorCodes.append(oc)
        return codes[k]

    c_codes = [opcode_index(oc) for oc in C.operatorCodes]

    # buffers: the classifier's (minus its empty sentinel 0) go after the front end's
    base = len(F.buffers)
    F.buffers.extend(C.buffers[1:])

    def buf(i: int) -> int:
        return 0 if i == 0 else base + i - 1

    # tensors
    float_link = c_in_t.type == schema.TensorType.FLOAT32
    tmap: dict[int, int] = {}
    for i, t in enumerate(cs.tensors):
        if i == c_in and float_link:
            tmap[i] = f_out
            continue
        t.buffer = buf(int(t.buffer))
        name = t.name.decode() if isinstance(t.name, bytes) else (t.name or f"t{i}")
        t.name = CLASSIFIER_PREFIX + name
        tmap[i] = len(fs.tensors)
        fs.tensors.append(t)

    def remap(indices) -> list[int]:
        return [] if indices is None else [-1 if int(i) < 0 else tmap[int(i)] for i in indices]

    ops = list(fs.operators)
    if not float_link:
        if c_in_t.type not in (schema.TensorType.INT8, schema.TensorType.UINT8,
                               schema.TensorType.INT16):
            raise ValueError(f"classifier input type {c_in_t.type} is neither float32 nor quantized")
        oc = schema.OperatorCodeT()
        oc.builtinCode = schema.BuiltinOperator.QUANTIZE
        oc.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
        oc.version = _quantize_opcode_version(c_in_t.type, schema)
        q = schema.OperatorT()
        q.opcodeIndex = opcode_index(oc)
        q.inputs = [f_out]
        q.outputs = [tmap[c_in]]
        q.builtinOptionsType = schema.BuiltinOptions.QuantizeOptions
        q.builtinOptions = schema.QuantizeOptionsT()
        ops.append(q)
    for op in cs.operators:
        op.opcodeIndex = c_codes[op.opcodeIndex]
        op.inputs = remap(op.inputs)
        op.outputs = remap(op.outputs)
        if op.intermediates is not None:
            op.intermediates = remap(op.intermediates)
        if op.mutatingVariableInputs is not None and len(op.mutatingVariableInputs) == 0:
            op.mutatingVariableInputs = None
        ops.append(op)
    fs.operators = ops

    p_out = tmap[c_out]
    # feature_input: the front is the float standardisation of a feature-input model: its input is the MFCC
    # matrix ("mfcc") and its output an internal tensor, not an output of the model
    input_name = MFCC_NAME if feature_input else INPUT_NAME
    fs.tensors[f_in].name = input_name
    fs.tensors[f_out].name = "standardised" if feature_input else MFCC_NAME
    fs.tensors[p_out].name = PROBABILITIES_NAME
    fs.inputs = [f_in]
    fs.outputs = [p_out] if feature_input else [p_out, f_out]
    fs.name = "main"

    sig = schema.SignatureDefT()
    sig.signatureKey = "serving_default"
    sig.subgraphIndex = 0
    sig.inputs = [_tensor_map(schema, input_name, f_in)]
    sig.outputs = [_tensor_map(schema, PROBABILITIES_NAME, p_out)] + (
        [] if feature_input else [_tensor_map(schema, MFCC_NAME, f_out)])
    F.signatureDefs = [sig]

    # metadata: the classifier's entries (they describe its quantization); the front end's
    # metadata buffers are emptied. min_runtime_version: the higher of the two.
    f_meta = {(m.name.decode() if isinstance(m.name, bytes) else m.name): int(m.buffer)
              for m in (F.metadata or [])}
    front_ver = F.buffers[f_meta["min_runtime_version"]].data if "min_runtime_version" in f_meta else None
    for idx in f_meta.values():
        F.buffers[idx].data = None
    metadata = []
    for m in C.metadata or []:
        m.buffer = buf(int(m.buffer))
        name = m.name.decode() if isinstance(m.name, bytes) else m.name
        c_ver = F.buffers[m.buffer].data
        if name == "min_runtime_version" and front_ver is not None and c_ver is not None \
                and _version_tuple(front_ver) > _version_tuple(c_ver):
            ver = np.zeros(max(len(front_ver), len(c_ver)), dtype=np.uint8)  # NUL-padded string
            ver[:len(front_ver)] = np.asarray(front_ver, dtype=np.uint8)
            F.buffers[m.buffer].data = ver
        metadata.append(m)
    F.metadata = metadata
    F.metadataBuffer = None
    F.description = ("pipeline.export: float32 standardisation + quantized classifier" if feature_input
                     else "pipeline.export.e2e: float32 MFCC front end + classifier")
    return bytes(fbu.convert_object_to_bytearray(F))


def _tensor_map(schema: Any, name: str, index: int) -> Any:
    tm = schema.TensorMapT()
    tm.name = name
    tm.tensorIndex = index
    return tm


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
