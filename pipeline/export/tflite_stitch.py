"""Joining two single-subgraph TFLite flatbuffers into one: a float front (the MFCC front end of an end-to-end
artefact, or a feature-input model's float standardisation) feeding a classifier. Both pipeline.export.tflite
and pipeline.export.e2e join this way, so it sits below them both."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.bench.runtimes import FEATURE_OUTPUT

INPUT_NAME = "waveform"
PROBABILITIES_NAME = "probabilities"
MFCC_NAME = FEATURE_OUTPUT  # the extra output the pipeline measures parity on
CLASSIFIER_PREFIX = "classifier/"


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
