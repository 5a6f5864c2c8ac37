"""MFCC features: the numpy batch version, the TFLite and ONNX front ends, all against librosa.

Every check compares numbers with `mfcc_reference` (per-clip librosa, the training definition).
TensorFlow is imported once (module-scoped fixture); the whole file runs in ~20 s.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import MFCC_16K
from pipeline.audio.mfcc import dct_matrix, mel_matrix, mfcc_batch, mfcc_reference

CFG = MFCC_16K
SR = CFG.sample_rate
N = SR  # 1 s clips


def _clips() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    t = np.arange(N) / SR
    tones = sum(np.sin(2 * np.pi * f * t + ph) for f, ph in ((300, 0.1), (1200, 1.0), (5000, 2.0)))
    clips = {
        "noise": 0.1 * rng.standard_normal(N),
        "tone_440_loud": 0.9 * np.sin(2 * np.pi * 440 * t),
        "tone_7900_full_scale": np.sin(2 * np.pi * 7900 * t),
        "multi_tone": 0.3 * tones,
        "square_clipping": np.clip(3 * np.sin(2 * np.pi * 110 * t), -1, 1),
        "very_quiet_noise": 1e-7 * rng.standard_normal(N),
        "very_quiet_tone": 1e-6 * np.sin(2 * np.pi * 3000 * t),
        "digital_silence": np.zeros(N),
        "half_silence_then_chirp": np.r_[np.zeros(N // 2),
                                         0.5 * np.sin(2 * np.pi * (200 + 3000 * t[: N // 2]) * t[: N // 2])],
        "decaying_tone_in_noise": np.exp(-8 * t) * np.sin(2 * np.pi * 2500 * t) + 1e-4 * rng.standard_normal(N),
    }
    return {k: v.astype(np.float32) for k, v in clips.items()}


CLIPS = _clips()
NAMES = list(CLIPS)
X = np.stack([CLIPS[k] for k in NAMES])


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return np.stack([mfcc_reference(c, CFG) for c in X])


def _max_abs_per_clip(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {name: float(np.abs(a[i] - b[i]).max()) for i, name in enumerate(NAMES)}


# ----------------------------------------------------------------------------- config and constants


def test_config_shapes_and_validation():
    assert CFG.n_frames(N) == 51
    assert mfcc_reference(X[0], CFG).shape == (20, 51) == CFG.output_shape(N)
    assert replace(CFG, n_fft=400, hop_length=160).n_frames(N) == 1 + N // 160
    with pytest.raises(ValueError, match="n_mfcc"):
        replace(CFG, n_mfcc=50, n_mels=40)
    with pytest.raises(ValueError, match="fmax"):
        replace(CFG, fmax=9000.0)
    with pytest.raises(ValueError, match="hop_length"):
        replace(CFG, hop_length=0)


def test_constants_are_librosa_and_scipy():
    import librosa
    import scipy.fft

    np.testing.assert_array_equal(
        mel_matrix(CFG), librosa.filters.mel(sr=SR, n_fft=512, n_mels=40, fmin=20.0, fmax=8000.0))
    x = np.random.default_rng(0).standard_normal((40, 7))
    np.testing.assert_allclose(dct_matrix(CFG) @ x,
                               scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:20], atol=1e-12)
    d = dct_matrix(CFG)
    np.testing.assert_allclose(d @ d.T, np.eye(20), atol=1e-12)   # orthonormal rows


# ----------------------------------------------------------------------------- numpy batch


def test_batch_matches_reference_every_clip(reference):
    out = mfcc_batch(X, CFG)
    assert out.shape == (len(NAMES), 20, 51) and out.dtype == np.float32
    errs = _max_abs_per_clip(out, reference)
    assert max(errs.values()) < 1e-4, errs
    # the same float32 operations and BLAS calls as librosa: not just close, the same numbers
    assert np.array_equal(out, reference), {k: v for k, v in errs.items() if v}


def test_batch_in_forked_workers_gives_the_same_numbers(reference):
    many = np.concatenate([X] * 4)                       # enough rows for two workers
    serial = mfcc_batch(many, CFG, workers=1)
    assert np.array_equal(mfcc_batch(many, CFG, workers=2), serial)
    assert np.array_equal(mfcc_batch(many, CFG, workers=None), serial)
    assert np.array_equal(serial, np.concatenate([reference] * 4))


def test_batch_float64_input_and_chunking(reference):
    # float64 clips: librosa then computes in float64, and so does mfcc_batch.
    x64 = X.astype(np.float64)
    out64 = mfcc_batch(x64, CFG, chunk=3)
    assert out64.dtype == np.float32
    assert np.abs(out64 - np.stack([mfcc_reference(c, CFG) for c in x64])).max() < 1e-4
    full = mfcc_batch(X, CFG, chunk=len(X))
    for chunk in (1, 4):
        np.testing.assert_allclose(mfcc_batch(X, CFG, chunk=chunk), full, rtol=0, atol=2e-5)


def test_top_db_is_per_clip_not_per_batch(reference):
    """A loud and a quiet clip in one batch: a batch-global top_db would floor the quiet one."""
    import librosa

    idx = [NAMES.index("tone_7900_full_scale"), NAMES.index("very_quiet_noise"),
           NAMES.index("noise"), NAMES.index("very_quiet_tone")]
    mixed = X[idx]
    out = mfcc_batch(mixed, CFG)
    assert np.abs(out - reference[idx]).max() < 1e-4
    # The pitfall this guards against: librosa on the stacked batch uses the loudest clip's max.
    S = librosa.feature.melspectrogram(y=mixed, sr=SR, n_fft=512, hop_length=320, n_mels=40,
                                       fmin=20.0, fmax=8000.0, center=True, pad_mode="constant")
    wrong = librosa.feature.mfcc(S=librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0),
                                 n_mfcc=20, dct_type=2, norm="ortho")
    assert np.abs(wrong[1] - reference[idx[1]]).max() > 10.0   # quiet clip: grossly different
    assert np.abs(wrong[1] - out[1]).max() > 10.0


@pytest.mark.parametrize("bad, match", [
    (np.zeros(N, np.float32), "2-D"),
    (np.zeros((2, 3, N), np.float32), "2-D"),
    (np.zeros((0, N), np.float32), "non-empty"),
    (np.zeros((2, 0), np.float32), "non-empty"),
    (np.zeros((2, N), np.int16), "float32 or float64"),
    (np.zeros((2, N), np.float16), "float32 or float64"),
    ([[0.0] * N], "numpy array"),
    (np.r_[np.zeros(N - 1), np.nan].astype(np.float32)[None].repeat(2, 0), "NaN"),
])
def test_batch_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        mfcc_batch(bad, CFG)


def test_bad_chunk_and_reference_input():
    with pytest.raises(ValueError, match="chunk"):
        mfcc_batch(X[:2], CFG, chunk=0)
    with pytest.raises(ValueError, match="workers"):
        mfcc_batch(X[:2], CFG, workers=0)
    with pytest.raises(ValueError, match="1-D"):
        mfcc_reference(X[:2], CFG)
    with pytest.raises(ValueError, match="float32 or float64"):
        mfcc_reference(np.zeros(N, np.int32), CFG)


# ----------------------------------------------------------------------------- TFLite front end


@pytest.fixture(scope="module")
def tflite_model() -> bytes:
    from pipeline.audio.mfcc_graph import tflite_mfcc_model_bytes

    return tflite_mfcc_model_bytes(CFG, N)          # batch 1, the on-device shape


def test_tflite_front_end_builtin_ops_only(tflite_model):
    from pipeline.audio.mfcc_graph import non_builtin_ops, tflite_op_names

    ops = tflite_op_names(tflite_model)
    assert non_builtin_ops(ops) == [], ops
    assert "RFFT2D" in ops
    assert not any("FLEX" in o.upper() or "CUSTOM" in o.upper() for o in ops), ops


def test_non_builtin_ops_detects_flex_and_custom():
    from pipeline.audio.mfcc_graph import non_builtin_ops

    assert non_builtin_ops(["PAD", "RFFT2D", "FULLY_CONNECTED"]) == []
    assert non_builtin_ops(["PAD", "FlexRFFT", "Mfcc", "DELEGATE"]) == ["FlexRFFT", "Mfcc", "DELEGATE"]


def test_tflite_front_end_dynamic_batch(reference):
    from ai_edge_litert.interpreter import Interpreter

    from pipeline.audio.mfcc_graph import non_builtin_ops, tflite_mfcc_model_bytes, tflite_op_names

    model = tflite_mfcc_model_bytes(CFG, N, batch_size=None)
    assert non_builtin_ops(tflite_op_names(model)) == []
    interp = Interpreter(model_content=model, num_threads=1)
    inp, = interp.get_input_details()
    assert list(inp["shape_signature"]) == [-1, N]
    interp.resize_tensor_input(inp["index"], [len(X), N])
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], X)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert got.shape == (len(X), 20, 51)
    assert np.abs(got - reference).max() < 1e-3   # top_db stays per clip inside a batch
    assert interp.get_signature_list() == {"serving_default": {"inputs": ["waveform"],
                                                               "outputs": ["mfcc"]}}


def test_tflite_front_end_matches_reference(tflite_model, reference):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite_model, num_threads=1)
    interp.allocate_tensors()
    inp, = interp.get_input_details()
    out, = interp.get_output_details()
    assert list(inp["shape"]) == [1, N] and list(out["shape"]) == [1, 20, 51]
    got = []
    for clip in X:
        interp.set_tensor(inp["index"], clip[None])
        interp.invoke()
        got.append(interp.get_tensor(out["index"])[0].copy())
    errs = _max_abs_per_clip(np.stack(got), reference)
    assert max(errs.values()) < 1e-3, errs


# ----------------------------------------------------------------------------- ONNX front end


def _ort_session(model):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("opset", [17, 18])
def test_onnx_front_end_matches_reference(reference, opset):
    from pipeline.audio.mfcc_graph import ORT_MAX_IR_VERSION, onnx_mfcc_model

    model = onnx_mfcc_model(CFG, N, opset=opset)
    assert model.ir_version <= ORT_MAX_IR_VERSION
    assert [o.name for o in model.graph.output] == ["mfcc"]
    assert [i.name for i in model.graph.input] == ["waveform"]
    assert "STFT" in {n.op_type for n in model.graph.node}
    got = _ort_session(model).run(None, {"waveform": X})[0]      # whole batch at once
    assert got.shape == (len(X), 20, 51)
    errs = _max_abs_per_clip(got, reference)
    assert max(errs.values()) < 1e-3, errs


def test_onnx_float32_stft_variant_and_layouts(reference):
    from pipeline.audio.mfcc_graph import onnx_mfcc_model

    # float32 STFT: no double in the graph; measured up to 8e-4 on the full-scale 7900 Hz tone.
    f32 = onnx_mfcc_model(CFG, N, stft_dtype="float32")
    assert "Cast" not in {n.op_type for n in f32.graph.node}
    got = _ort_session(f32).run(None, {"waveform": X})[0]
    assert np.abs(got - reference).max() < 2e-3
    chan = _ort_session(onnx_mfcc_model(CFG, N, add_channel_dim=True)).run(None, {"waveform": X[:2]})[0]
    assert chan.shape == (2, 20, 51, 1)
    assert np.abs(chan[..., 0] - reference[:2]).max() < 1e-3
    flat = _ort_session(onnx_mfcc_model(CFG, N, flatten=True)).run(None, {"waveform": X[:2]})[0]
    assert flat.shape == (2, 20 * 51)
    assert np.abs(flat - reference[:2].reshape(2, -1)).max() < 1e-3
    with pytest.raises(ValueError, match="opset"):
        onnx_mfcc_model(CFG, N, opset=16)


def test_onnx_prepend_to_classifier(reference):
    """merge_models in front of a tiny opset-13 classifier taking (batch, 20, 51, 1)."""
    from onnx import TensorProto, helper, numpy_helper

    from pipeline.audio.mfcc_graph import ORT_MAX_IR_VERSION, prepend_to_onnx_classifier

    rng = np.random.default_rng(7)
    W = (rng.standard_normal((20 * 51, 3)) * 0.01).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["features"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "W"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "clf", [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", 20, 51, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", 3])],
        initializer=[numpy_helper.from_array(W, "W")])
    clf = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    clf.ir_version = 7
    merged = prepend_to_onnx_classifier(clf, CFG, N)
    assert [i.name for i in merged.graph.input] == ["waveform"]
    assert merged.ir_version <= ORT_MAX_IR_VERSION
    got = _ort_session(merged).run(None, {"waveform": X})[0]
    logits = reference.reshape(len(X), -1) @ W
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(got, expected, atol=1e-4)


# ----------------------------------------------------------------------------- the mel filter bank in blocks


@pytest.mark.parametrize("groups", [1, 3, 8, 40])
def test_mel_blocks_hold_every_non_zero_of_the_matrix(groups):
    from pipeline.audio.mfcc import mel_matrix
    from pipeline.audio.mfcc_graph import mel_blocks

    m = np.asarray(mel_matrix(CFG))
    blocks = mel_blocks(CFG, groups)
    assert [b[0] for b in blocks] == sorted(b[0] for b in blocks) and blocks[0][0] == 0 and blocks[-1][1] == len(m)
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))           # consecutive filters, each once
    kept = np.zeros_like(m, dtype=bool)
    for a, b, lo, hi in blocks:
        kept[a:b, lo:hi] = True
    assert not (m[~kept] != 0).any()                                      # nothing non-zero left out
    if groups > 1:
        assert kept.sum() < m.size / 2                                     # and far fewer terms


def test_the_banded_mel_gives_the_dense_one_s_mfccs_in_both_graphs(reference):
    from ai_edge_litert.interpreter import Interpreter

    from pipeline.audio.mfcc_graph import onnx_mfcc_model, tflite_mfcc_model_bytes

    outs = {}
    for groups in (1, 8):
        interp = Interpreter(model_content=tflite_mfcc_model_bytes(CFG, N, mel_groups=groups), num_threads=1)
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
        got = []
        for clip in X:
            interp.set_tensor(inp, clip[None])
            interp.invoke()
            got.append(interp.get_tensor(out)[0].copy())
        outs["tflite", groups] = np.stack(got)
        outs["onnx", groups] = _ort_session(onnx_mfcc_model(CFG, N, mel_groups=groups)).run(None, {"waveform": X})[0]
    for fmt in ("tflite", "onnx"):
        assert np.abs(outs[fmt, 8] - outs[fmt, 1]).max() < 1e-4, fmt
        assert np.abs(outs[fmt, 8] - reference).max() < 1e-3, fmt
