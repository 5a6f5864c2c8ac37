"""The MFCC front end as graph ops, for artefacts that take raw audio.

Three builders, all computing `pipeline.audio.mfcc.mfcc_reference` (librosa) per clip:

* `tf_mfcc(waveform, cfg)`: TensorFlow ops, (batch, samples) float32 -> (batch, n_mfcc, frames).
  Lowers to TFLite BUILTIN ops only; with batch 1 the converted list is PAD, RESHAPE, GATHER
  (framing), MUL (window), RFFT2D, REAL, IMAG, SQUARE, ADD, STRIDED_SLICE + FULLY_CONNECTED per block of the
  mel filter bank + CONCATENATION, FULLY_CONNECTED (DCT), MAXIMUM,
  LOG, REDUCE_MAX, SUB, TRANSPOSE (a dynamic batch adds SHAPE/STRIDED_SLICE/PACK-style shape ops):
  no SELECT_TF_OPS, no custom ops. Call it inside your own tf.function, before the classifier,
  to build an end-to-end model.
  With dft="matmul" the spectrum is two FULLY_CONNECTED layers with the DFT's cosine and sine
  matrices instead of RFFT2D/REAL/IMAG, which TensorFlow Lite for Microcontrollers does not register:
  every op of that graph is one TFLM has (its float32 kernels), at 2 x n_fft x (n_fft/2 + 1) weights.
* `tflite_mfcc_model_bytes(cfg, n_samples)`: just that front end as a TFLite flatbuffer.
* `onnx_mfcc_model(cfg, n_samples)`: an ONNX graph "waveform" -> "mfcc" (opset >= 17 STFT), and
  `prepend_to_onnx_classifier(classifier, cfg, n_samples)` which merges it in front of a classifier.

What matching librosa takes (each item was a measured mismatch when left out): explicit zero padding
of n_fft//2 on both sides (center=True, pad_mode="constant"), librosa's periodic Hann window,
power 2, librosa's Slaney mel matrix as a constant (TF's and ONNX's built-in mel matrices are HTK
style and differ), 10*log10(max(S, 1e-10)), top_db against the max of each clip's own frames (never
the batch), and DCT-II ortho as a constant matmul. The constants come from `pipeline.audio.mfcc`
(`window`, `mel_matrix`, `dct_matrix`), the single definition.

Both graphs compute in float32 (float32 FFT), so they agree with the float64-FFT reference to a few
1e-4, not bit for bit. Do not quantize this front end (int8 destroys it); quantize the classifier.

TensorFlow and onnx are imported lazily inside the functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipeline.audio.mfcc import AMIN, MfccConfig, dct_matrix, mel_matrix, window

#: The highest ONNX IR version onnxruntime 1.31 loads (onnx 1.23 writes 14 by default).
ORT_MAX_IR_VERSION = 13
#: The first ai.onnx opset with STFT.
MIN_OPSET = 17

_DB_SCALE = 10.0 / math.log(10.0)  # 10*log10(x) = _DB_SCALE * ln(x)


# ----------------------------------------------------------------------------- TensorFlow / TFLite


DFTS = ("fft", "matmul")  # how the front computes the spectrum (see the module docstring)
# The mel filter bank as 8 banded blocks (`mel_blocks`): the same non-zero terms, 7x fewer products and 31 KB
# fewer constants than the dense 257 x 40 matrix; on an emulated Cortex-A53 the TFLite front takes 3.17 M
# instructions instead of 3.36 M (20 blocks: 3.21 M). The FFT is most of the rest (docs/measurements.md).
MEL_GROUPS = 8


def dft_matrices(cfg: MfccConfig) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin), each (n_fft, n_fft/2 + 1) float32: the real DFT as two matrix products."""
    ang = 2.0 * np.pi * np.outer(np.arange(cfg.n_fft), np.arange(cfg.n_fft // 2 + 1)) / cfg.n_fft
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def _power(x: Any, cfg: MfccConfig, win: Any, dft: str) -> Any:
    """|STFT|^2 of the padded signal: (batch, frames, n_fft/2 + 1)."""
    import tensorflow as tf

    if dft == "fft":
        spec = tf.signal.stft(x, frame_length=cfg.n_fft, frame_step=cfg.hop_length,
                              fft_length=cfg.n_fft, window_fn=lambda length, dtype: win,
                              pad_end=False)                  # (batch, frames, n_freqs) complex64
        return tf.math.square(tf.math.real(spec)) + tf.math.square(tf.math.imag(spec))
    if dft != "matmul":
        raise ValueError(f"dft {dft!r}: allowed {list(DFTS)}")
    frames = tf.signal.frame(x, cfg.n_fft, cfg.hop_length) * win
    cos, sin = (tf.constant(m, name=n) for m, n in zip(dft_matrices(cfg), ("dft_cos", "dft_sin")))
    return tf.math.square(tf.matmul(frames, cos)) + tf.math.square(tf.matmul(frames, sin))


def mel_blocks(cfg: MfccConfig, groups: int) -> list[tuple[int, int, int, int]]:
    """The Slaney mel matrix cut into `groups` runs of consecutive filters, each with the one band of FFT
    bins where any of its filters is non-zero: (first filter, end filter, first bin, end bin). Every other
    entry of the matrix is zero, so the blocks give the same sums with a fraction of the multiplications
    (40 filters over 257 bins: 10,280 per frame dense, 1,465 in 8 blocks)."""
    m = mel_matrix(cfg)
    nz = m != 0
    starts, ends = nz.argmax(1), m.shape[1] - nz[:, ::-1].argmax(1)
    cuts = np.linspace(0, m.shape[0], min(groups, m.shape[0]) + 1).round().astype(int)
    return [(int(a), int(b), int(starts[a:b].min()), int(ends[a:b].max())) for a, b in zip(cuts, cuts[1:]) if b > a]


def _tf_mel(power: Any, cfg: MfccConfig, groups: int) -> Any:
    """power (batch, frames, n_freqs) x the mel matrix; groups > 1: one small product per block of
    `mel_blocks`, concatenated (the same terms that are non-zero, summed in the same order per filter)."""
    import tensorflow as tf

    m = np.asarray(mel_matrix(cfg), dtype=np.float32)
    if groups <= 1:
        return tf.matmul(power, tf.constant(np.ascontiguousarray(m.T), name="mel_t"))
    parts = [tf.matmul(power[:, :, lo:hi], tf.constant(np.ascontiguousarray(m[a:b, lo:hi].T), name=f"mel_t_{a}"))
             for a, b, lo, hi in mel_blocks(cfg, groups)]
    return tf.concat(parts, axis=-1)


def tf_mfcc(waveform: Any, cfg: MfccConfig, dft: str = "fft", mel_groups: int = MEL_GROUPS) -> Any:
    """MFCCs of a float32 tensor (batch, samples) -> (batch, n_mfcc, frames), as TF ops.

    The samples dimension must be static for the TFLite conversion; the batch may be dynamic.
    mel_groups > 1 computes the mel filter bank as that many banded blocks (`mel_blocks()`); 1: one dense product.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(waveform, dtype=tf.float32)
    if x.shape.rank != 2:
        raise ValueError(f"waveform must be rank 2 (batch, samples), got shape {x.shape}")
    pad = cfg.pad
    x = tf.pad(x, [[0, 0], [pad, pad]])                       # center=True, zeros
    win = tf.constant(window(cfg).astype(np.float32), name="hann_periodic")
    power = _power(x, cfg, win, dft)
    mel = _tf_mel(power, cfg, mel_groups)                     # (batch, frames, n_mels)
    db = tf.math.log(tf.maximum(mel, AMIN)) * _DB_SCALE
    floor = tf.reduce_max(db, axis=[1, 2], keepdims=True) - float(cfg.top_db)   # per clip
    db = tf.maximum(db, floor)
    dct_t = tf.constant(np.ascontiguousarray(dct_matrix(cfg).T, dtype=np.float32), name="dct_t")
    c = tf.matmul(db, dct_t)                                  # (batch, frames, n_mfcc)
    return tf.transpose(c, [0, 2, 1], name="mfcc")


def tflite_mfcc_model_bytes(cfg: MfccConfig, n_samples: int, batch_size: int | None = 1,
                            dft: str = "fft", mel_groups: int = MEL_GROUPS) -> bytes:
    """The tf_mfcc front end alone as a float32 TFLite flatbuffer, BUILTIN ops only.

    Input "waveform" float32 (batch_size, n_samples); output (batch_size, n_mfcc, frames).
    batch_size=None makes the batch dynamic (resize the input before allocate_tensors()).
    Conversion fails (rather than falling back to Flex/custom ops) if any op cannot be lowered.
    """
    import tensorflow as tf

    if n_samples <= 0:
        raise ValueError(f"n_samples must be positive, got {n_samples}")

    class _FrontEnd(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([batch_size, n_samples], tf.float32,
                                                    name="waveform")])
        def __call__(self, waveform):
            return {"mfcc": tf_mfcc(waveform, cfg, dft, mel_groups)}

    module = _FrontEnd()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = False
    return converter.convert()


def tflite_op_names(model_bytes: bytes) -> list[str]:
    """Operator names of a TFLite model, via ai_edge_litert's interpreter (e.g. "RFFT2D").

    Default delegates (XNNPACK) are disabled so the list shows the model's own operators rather
    than DELEGATE nodes. A model with Flex ops fails to load here (no Flex delegate is linked), a
    custom op shows under its custom name.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=model_bytes,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return [d["op_name"] for d in interp._get_ops_details()]


def non_builtin_ops(op_names: list[str]) -> list[str]:
    """The names that are not TFLite builtins: Flex (SELECT_TF_OPS), custom and delegate nodes.

    Builtin operator names are upper case with underscores/digits (RFFT2D, FULLY_CONNECTED);
    Flex ops are "Flex..." and custom ops carry their registered (usually CamelCase) name.
    """
    return [n for n in op_names
            if not n.replace("_", "").isalnum() or n != n.upper()
            or n.upper().startswith(("FLEX", "CUSTOM", "DELEGATE")) or n.upper() == "UNKNOWN"]


# ----------------------------------------------------------------------------- ONNX


def onnx_mfcc_model(cfg: MfccConfig, n_samples: int, opset: int = 17, *,
                    add_channel_dim: bool = False, flatten: bool = False,
                    ir_version: int | None = None, stft_dtype: str = "float64",
                    input_name: str = "waveform", output_name: str = "mfcc",
                    mel_groups: int = MEL_GROUPS) -> Any:
    """The front end as an onnx.ModelProto: "waveform" float32 [batch, n_samples] -> "mfcc".

    Output "mfcc" float32 is [batch, n_mfcc, frames]; [batch, n_mfcc, frames, 1] with
    add_channel_dim=True (CNNs with a trailing channel); [batch, n_mfcc * frames] with flatten=True
    (row-major, i.e. numpy's `mfcc.reshape(n, -1)`, for flat-feature classifiers).

    stft_dtype="float64" (default) casts the waveform to double for Pad, STFT and |X|**2 and casts
    the power back to float32: onnxruntime's float32 STFT is off by up to 8e-4 against librosa on
    loud tones (its FFT rounding swamps bands 80 dB down), its double STFT by ~1e-5, at the same
    latency (~0.65 ms a clip either way on the build machine). "float32" keeps the graph float-only.

    Ops: [Cast], Pad, Unsqueeze, STFT (opset-17 op, periodic Hann window input, onesided), Mul,
    ReduceSum, [Cast], Slice + MatMul per block of the Slaney mel constant + Concat, Max, Log, Mul, ReduceMax over
    (frames, mels) per clip, Sub,
    Max, MatMul with the DCT-II constant, Transpose. Internal names start with "mfcc_fe/" so they do
    not collide with a classifier's names when merged.

    To put it in front of a classifier whose input is the MFCC matrix:

        front = onnx_mfcc_model(cfg, n_samples, opset=<classifier's ai.onnx opset, >= 17>,
                                ir_version=classifier.ir_version, add_channel_dim=<rank 4?>)
        merged = onnx.compose.merge_models(front, classifier,
                                           io_map=[("mfcc", classifier.graph.input[0].name)])

    merge_models requires the same ir_version and the same opset per domain in both models;
    `prepend_to_onnx_classifier` does all of this. ir_version defaults to the lowest IR the opset
    needs (8 for opset 17), which onnxruntime 1.31 loads (it refuses IR > 13).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if opset < MIN_OPSET:
        raise ValueError(f"opset must be >= {MIN_OPSET} (the first with STFT), got {opset}")
    if n_samples <= 0:
        raise ValueError(f"n_samples must be positive, got {n_samples}")
    if add_channel_dim and flatten:
        raise ValueError("add_channel_dim and flatten are exclusive")
    if stft_dtype not in ("float64", "float32"):
        raise ValueError(f"stft_dtype must be 'float64' or 'float32', got {stft_dtype!r}")
    sdt = np.float64 if stft_dtype == "float64" else np.float32
    n_frames = cfg.n_frames(n_samples)
    p = "mfcc_fe/"

    def const(name: str, array: np.ndarray) -> Any:
        return numpy_helper.from_array(np.asarray(array), name=p + name)

    inits = [
        const("pads", np.array([0, cfg.pad, 0, cfg.pad], dtype=np.int64)),
        const("pad_value", np.array(0.0, dtype=sdt)),
        const("axis_2", np.array([2], dtype=np.int64)),
        const("hop", np.array(cfg.hop_length, dtype=np.int64)),
        const("frame_length", np.array(cfg.n_fft, dtype=np.int64)),
        const("window", window(cfg).astype(sdt)),
        const("axis_last", np.array([-1], dtype=np.int64)),
        const("amin", np.array(AMIN, dtype=np.float32)),
        const("db_scale", np.array(_DB_SCALE, dtype=np.float32)),
        const("top_db", np.array(cfg.top_db, dtype=np.float32)),
        const("dct_t", np.ascontiguousarray(dct_matrix(cfg).T, dtype=np.float32)),
    ]
    n = lambda s: p + s  # noqa: E731
    nodes = []
    signal = input_name
    if sdt == np.float64:
        nodes.append(helper.make_node("Cast", [input_name], [n("waveform_f64")],
                                      to=TensorProto.DOUBLE, name=n("to_f64")))
        signal = n("waveform_f64")
    nodes += [
        helper.make_node("Pad", [signal, n("pads"), n("pad_value")], [n("padded")],
                         mode="constant", name=n("pad")),
        helper.make_node("Unsqueeze", [n("padded"), n("axis_2")], [n("signal")], name=n("unsq")),
        # [batch, frames, n_fft//2 + 1, 2] (real, imag)
        helper.make_node("STFT", [n("signal"), n("hop"), n("window"), n("frame_length")],
                         [n("stft")], onesided=1, name=n("stft")),
        helper.make_node("Mul", [n("stft"), n("stft")], [n("sq")], name=n("sq")),
        helper.make_node("ReduceSum", [n("sq"), n("axis_last")], [n("power_s")], keepdims=0,
                         name=n("power")),
    ]
    if sdt == np.float64:
        nodes.append(helper.make_node("Cast", [n("power_s")], [n("power")],
                                      to=TensorProto.FLOAT, name=n("to_f32")))
    else:
        nodes.append(helper.make_node("Identity", [n("power_s")], [n("power")], name=n("f32")))
    mel_inits, mel_nodes = _onnx_mel(cfg, mel_groups, n, const)
    inits += mel_inits
    nodes += [*mel_nodes,
        helper.make_node("Max", [n("mel"), n("amin")], [n("mel_floor")], name=n("amin")),
        helper.make_node("Log", [n("mel_floor")], [n("ln")], name=n("ln")),
        helper.make_node("Mul", [n("ln"), n("db_scale")], [n("db")], name=n("db")),
    ]
    if opset >= 18:   # ReduceMax takes its axes as an input from opset 18 on
        inits.append(const("axes_12", np.array([1, 2], dtype=np.int64)))
        nodes.append(helper.make_node("ReduceMax", [n("db"), n("axes_12")], [n("db_max")],
                                      keepdims=1, name=n("db_max")))
    else:
        nodes.append(helper.make_node("ReduceMax", [n("db")], [n("db_max")], axes=[1, 2],
                                      keepdims=1, name=n("db_max")))
    final = output_name if not (add_channel_dim or flatten) else n("mfcc_ncf")
    nodes += [
        helper.make_node("Sub", [n("db_max"), n("top_db")], [n("db_floor")], name=n("floor")),
        helper.make_node("Max", [n("db"), n("db_floor")], [n("db_clipped")], name=n("top_db")),
        helper.make_node("MatMul", [n("db_clipped"), n("dct_t")], [n("mfcc_nfc")], name=n("dct")),
        helper.make_node("Transpose", [n("mfcc_nfc")], [final], perm=[0, 2, 1], name=n("nfc2ncf")),
    ]
    if add_channel_dim:
        inits.append(const("axis_3", np.array([3], dtype=np.int64)))
        nodes.append(helper.make_node("Unsqueeze", [final, n("axis_3")], [output_name],
                                      name=n("channel")))
        out_shape = ["batch", cfg.n_mfcc, n_frames, 1]
    elif flatten:
        inits.append(const("flat_shape", np.array([0, cfg.n_mfcc * n_frames], dtype=np.int64)))
        nodes.append(helper.make_node("Reshape", [final, n("flat_shape")], [output_name],
                                      name=n("flatten")))
        out_shape = ["batch", cfg.n_mfcc * n_frames]
    else:
        out_shape = ["batch", cfg.n_mfcc, n_frames]

    graph = helper.make_graph(
        nodes, "mfcc_front_end",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", n_samples])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, out_shape)],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="pipeline.audio.mfcc_graph")
    if ir_version is None:
        ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    model.ir_version = int(ir_version)
    model.doc_string = (f"MFCC front end (librosa-equivalent): {cfg}; n_samples={n_samples}; "
                        f"output {out_shape}")
    onnx.checker.check_model(model)
    return model


def _onnx_mel(cfg: MfccConfig, groups: int, n, const) -> tuple[list, list]:
    """power -> mel as ONNX nodes: one MatMul with the mel matrix, or (groups > 1) a Slice and a MatMul per
    banded block of `mel_blocks` and a Concat."""
    from onnx import helper

    m = np.asarray(mel_matrix(cfg), dtype=np.float32)
    if groups <= 1:
        return ([const("mel_t", np.ascontiguousarray(m.T))],
                [helper.make_node("MatMul", [n("power"), n("mel_t")], [n("mel")], name=n("mel"))])
    inits, nodes, parts = [const("mel_axis", np.array([2], dtype=np.int64))], [], []
    for a, b, lo, hi in mel_blocks(cfg, groups):
        inits += [const(f"mel_lo_{a}", np.array([lo], dtype=np.int64)), const(f"mel_hi_{a}", np.array([hi], dtype=np.int64)),
                  const(f"mel_t_{a}", np.ascontiguousarray(m[a:b, lo:hi].T))]
        nodes += [helper.make_node("Slice", [n("power"), n(f"mel_lo_{a}"), n(f"mel_hi_{a}"), n("mel_axis")],
                                   [n(f"power_{a}")], name=n(f"band_{a}")),
                  helper.make_node("MatMul", [n(f"power_{a}"), n(f"mel_t_{a}")], [n(f"mel_{a}")], name=n(f"mel_{a}"))]
        parts.append(n(f"mel_{a}"))
    nodes.append(helper.make_node("Concat", parts, [n("mel")], axis=-1, name=n("mel")))
    return inits, nodes


def _default_opset(model: Any) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise ValueError("classifier has no ai.onnx opset import")


def prepend_to_onnx_classifier(classifier: Any, cfg: MfccConfig, n_samples: int,
                               classifier_input: str | None = None) -> Any:
    """Merge the front end in front of `classifier` (an onnx.ModelProto taking MFCCs).

    The classifier input's rank picks the front end's output: 3 -> [batch, n_mfcc, frames],
    4 -> [..., 1] (channel last), 2 -> flattened [batch, n_mfcc * frames]. A classifier below
    opset 17 is upgraded with onnx.version_converter first. The result's input is "waveform"
    [batch, n_samples]; its outputs are the classifier's. IR version: the classifier's (raised to
    what opset 17 needs if lower).
    """
    import onnx

    inits = {i.name for i in classifier.graph.initializer}
    inputs = [i for i in classifier.graph.input if i.name not in inits]
    if classifier_input is None:
        if len(inputs) != 1:
            raise ValueError(f"classifier has {len(inputs)} inputs "
                             f"({[i.name for i in inputs]}): pass classifier_input")
        target = inputs[0]
    else:
        matches = [i for i in inputs if i.name == classifier_input]
        if not matches:
            raise ValueError(f"classifier has no input {classifier_input!r}; "
                             f"it has {[i.name for i in inputs]}")
        target = matches[0]
    dims = target.type.tensor_type.shape.dim
    rank = len(dims)
    n_frames = cfg.n_frames(n_samples)
    expected = {3: [cfg.n_mfcc, n_frames], 4: [cfg.n_mfcc, n_frames, 1],
                2: [cfg.n_mfcc * n_frames]}
    if rank not in expected:
        raise ValueError(f"classifier input {target.name!r} has rank {rank}; expected 2 "
                         f"(flat), 3 (batch, n_mfcc, frames) or 4 (..., 1)")
    static = [d.dim_value if d.HasField("dim_value") else None for d in dims[1:]]
    if any(s is not None and s != e for s, e in zip(static, expected[rank])):
        raise ValueError(f"classifier input {target.name!r} has shape [batch, "
                         f"{', '.join(str(s) for s in static)}]; this front end gives "
                         f"[batch, {', '.join(str(e) for e in expected[rank])}]")

    opset = _default_opset(classifier)
    if opset < MIN_OPSET:
        try:
            classifier = onnx.version_converter.convert_version(classifier, MIN_OPSET)
        except Exception as exc:   # the converter raises a variety of types
            raise ValueError(f"classifier uses ai.onnx opset {opset}; upgrading it to "
                             f"{MIN_OPSET} for STFT failed: {exc}") from exc
        opset = MIN_OPSET
    need_ir = onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", opset)])
    ir_version = max(int(classifier.ir_version), need_ir)
    if classifier.ir_version != ir_version:
        classifier = onnx.ModelProto.FromString(classifier.SerializeToString())
        classifier.ir_version = ir_version
    front = onnx_mfcc_model(cfg, n_samples, opset=opset, add_channel_dim=rank == 4,
                            flatten=rank == 2, ir_version=ir_version)
    merged = onnx.compose.merge_models(front, classifier, io_map=[("mfcc", target.name)])
    onnx.checker.check_model(merged)
    return merged
