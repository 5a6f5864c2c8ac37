"""End-to-end artefacts (raw clip in, MFCC front end inside): every level, TFLite and ONNX.

A tiny DS-CNN trained for two epochs on synthetic tones/noise (correctness, not accuracy, is the
point). For each (format, level): the artefact loads in its runtime, takes the float waveform,
holds builtin operators only (TFLite), keeps its front end float32, its "mfcc" output matches
librosa within 1e-3 on every clip, and its top-1 agrees with librosa features -> the Keras model
(fp32/fp16: >= 99.5%; quantized levels: the same agreement, within two clips, as the matching
feature-input variant fed librosa features).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from conftest import MFCC_16K
from pipeline.audio.mfcc import mfcc_reference

CFG = MFCC_16K
N_SAMPLES = CFG.sample_rate  # 1 s
N_CLIPS = 60
N_CLASSES = 5
LEVELS = ("fp32", "fp16", "dynamic_int8", "int8", "int16x8")
MFCC_TOL = 1e-3
QUANTIZED_SLACK = 2  # clips


def _clips(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class k: a tone in band k (with a harmonic), plus noise, at a random level (-40..0 dB)."""
    t = np.arange(N_SAMPLES) / CFG.sample_rate
    y = np.arange(N_CLIPS) % N_CLASSES
    clips = np.empty((N_CLIPS, N_SAMPLES), dtype=np.float32)
    for i, k in enumerate(y):
        f = 150.0 * 2 ** (k * 0.9) * rng.uniform(0.9, 1.1)
        x = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) + 0.3 * np.sin(4 * np.pi * f * t)
        x = x + rng.uniform(0.0, 0.5) * rng.standard_normal(N_SAMPLES)
        clips[i] = (10 ** rng.uniform(-2, 0)) * x / np.abs(x).max()
    return clips, y


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from pipeline.models.keras_models import build, configure_determinism, export_saved_model, train

    clips, y = _clips(np.random.default_rng(0))
    X = np.stack([mfcc_reference(c, CFG) for c in clips])
    configure_determinism(0)
    spec = SimpleNamespace(type="dscnn", filters=8, blocks=1, stem_kernel=(3, 3), stem_stride=(2, 2), dropout=0.0)
    model = build(X.shape[1:], N_CLASSES, spec, X)
    train(model, X, y, X, y, epochs=2, batch_size=4, learning_rate=1e-2)  # top-1 margins >= 2e-3
    ref = model.predict(X, verbose=0)
    saved = tmp_path_factory.mktemp("e2e_export") / "saved_model"
    export_saved_model(model, str(saved))
    return {"clips": clips, "X": X, "model": model, "ref_probs": ref, "ref": ref.argmax(1),
            "saved": saved, "calibration": clips[:20]}


def _agreement(pred: np.ndarray, ref: np.ndarray) -> float:
    return float(np.mean(pred == ref))


def _check_parity(fmt: str, level: str, setup, mfcc: np.ndarray, e2e_pred: np.ndarray,
                  feature_pred: np.ndarray) -> None:
    diff = np.abs(mfcc - setup["X"]).max(axis=(1, 2))
    assert diff.max() <= MFCC_TOL, (fmt, level, float(diff.max()), int(diff.argmax()))
    agree = _agreement(e2e_pred, setup["ref"])
    feature_agree = _agreement(feature_pred, setup["ref"])
    print(f"{fmt} {level}: mfcc max abs diff {diff.max():.2e}, top-1 agreement e2e {agree:.3f}, "
          f"feature-input variant {feature_agree:.3f}")
    if level in ("fp32", "fp16"):
        assert agree >= 0.995, (fmt, level, agree)
    else:
        assert abs(agree - feature_agree) * N_CLIPS <= QUANTIZED_SLACK, (fmt, level, agree, feature_agree)


# ----------------------------------------------------------------------------- TFLite


def _tflite_run(data: bytes, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Top-1 of every input (quantizing it if the model's input is integer) and the second output."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=data)
    it.allocate_tensors()
    inp, outs = it.get_input_details()[0], it.get_output_details()
    preds, second = [], []
    for x in inputs:
        if np.dtype(inp["dtype"]).kind in "iu":
            scale, zp = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale) + zp, info.min, info.max).astype(inp["dtype"])
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        preds.append(it.get_tensor(outs[0]["index"])[0].argmax())
        if len(outs) > 1:
            second.append(it.get_tensor(outs[1]["index"])[0].copy())
    return np.array(preds), (np.stack(second) if second else None)


def _tflite_front_end_types(data: bytes, output_name: str) -> set[str]:
    """dtypes of every tensor the named output depends on (walking the operators backwards)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=data,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    producer = {o: op for op in it._get_ops_details() for o in op["outputs"]}
    target = next(t["index"] for t in tensors.values() if t["name"] == output_name)
    seen, stack, types = set(), [target], set()
    while stack:
        idx = stack.pop()
        if idx < 0 or idx in seen:
            continue
        seen.add(idx)
        types.add(np.dtype(tensors[idx]["dtype"]).name)
        if idx in producer:
            stack.extend(producer[idx]["inputs"])
    return types


@pytest.mark.parametrize("level", LEVELS)
def test_tflite_e2e(level, setup):
    from ai_edge_litert.interpreter import Interpreter

    from pipeline.audio.mfcc_graph import non_builtin_ops, tflite_op_names
    from pipeline.export.e2e import classifier_tflite, e2e_tflite, front_end_features

    data = e2e_tflite(setup["model"], CFG, N_SAMPLES, level, setup["calibration"],
                      saved_model_dir=setup["saved"])
    print(f"tflite {level}: {len(data)} bytes")
    assert non_builtin_ops(tflite_op_names(data)) == []

    it = Interpreter(model_content=data)
    (inp,), outs = it.get_input_details(), it.get_output_details()
    assert inp["name"] == "waveform" and inp["dtype"] == np.float32
    assert list(inp["shape"]) == [1, N_SAMPLES]
    assert [o["name"] for o in outs] == ["probabilities", "mfcc"]
    assert list(outs[0]["shape"]) == [1, N_CLASSES]
    assert outs[0]["dtype"] == (np.int8 if level == "int8" else np.float32)
    assert list(outs[1]["shape"]) == [1, *CFG.output_shape(N_SAMPLES)] and outs[1]["dtype"] == np.float32
    # the front end is float all the way (complex64 RFFT output, int32 shapes/gather indices)
    assert _tflite_front_end_types(data, "mfcc") <= {"float32", "complex64", "int32"}

    pred, mfcc = _tflite_run(data, setup["clips"])
    calibration = front_end_features(setup["calibration"], CFG) if level in ("int8", "int16x8") else None
    feature_variant = classifier_tflite(setup["model"], level, calibration, setup["saved"])
    feature_pred, _ = _tflite_run(feature_variant, setup["X"])
    _check_parity("tflite", level, setup, mfcc, pred, feature_pred)


def test_tflite_fp32_probabilities_match_keras(setup):
    from ai_edge_litert.interpreter import Interpreter

    from pipeline.export.e2e import e2e_tflite

    it = Interpreter(model_content=e2e_tflite(setup["model"], CFG, N_SAMPLES, "fp32", None,
                                              saved_model_dir=setup["saved"]))
    it.allocate_tensors()
    runner = it.get_signature_runner("serving_default")
    for clip, ref in zip(setup["clips"][:10], setup["ref_probs"][:10]):
        out = runner(waveform=clip[None])
        assert set(out) == {"probabilities", "mfcc"}
        np.testing.assert_allclose(out["probabilities"][0], ref, atol=1e-4)


def test_tflite_rejects_bad_inputs(setup):
    from pipeline.export.e2e import e2e_tflite

    with pytest.raises(ValueError, match="unknown level"):
        e2e_tflite(setup["model"], CFG, N_SAMPLES, "int4", None)
    with pytest.raises(ValueError, match="calibration"):
        e2e_tflite(setup["model"], CFG, N_SAMPLES, "int8", None)
    with pytest.raises(ValueError, match="front end gives"):
        e2e_tflite(setup["model"], CFG, N_SAMPLES // 2, "fp32", None)


# ----------------------------------------------------------------------------- ONNX


@pytest.fixture(scope="module")
def onnx_fp32(setup):
    from pipeline.models.source import Source
    from pipeline.export.onnx import fp32_from_keras

    return fp32_from_keras(Source("dscnn", "keras", setup["X"][:20], saved_model_dir=setup["saved"]))


def _onnx_front_end_ops(model, output: str) -> set[str]:
    producer = {o: n for n in model.graph.node for o in n.output}
    seen, stack, ops = set(), [output], set()
    while stack:
        name = stack.pop()
        if name in seen or name not in producer:
            continue
        seen.add(name)
        node = producer[name]
        ops.add(node.op_type + (f"->{node.attribute[0].i}" if node.op_type == "Cast" else ""))
        stack.extend(node.input)
    return ops


@pytest.mark.parametrize("level", LEVELS)
def test_onnx_e2e(level, setup, onnx_fp32):
    import onnx
    import onnxruntime as ort

    from pipeline.export.e2e import e2e_onnx
    from pipeline.export.onnx import ONNX_LEVELS

    classifier = ONNX_LEVELS[level](onnx_fp32, setup["X"][:20])
    model = e2e_onnx(classifier, CFG, N_SAMPLES)
    data = model.SerializeToString()
    print(f"onnx {level}: {len(data)} bytes")
    # float front end: no quantize/dequantize/integer or float16 ops before "mfcc"
    ops = _onnx_front_end_ops(model, "mfcc")
    assert not {o for o in ops if "Quantize" in o or "Integer" in o}, ops
    assert ops & {f"Cast->{onnx.TensorProto.FLOAT16}"} == set(), ops

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (inp,), outs = sess.get_inputs(), sess.get_outputs()
    assert inp.name == "waveform" and inp.type == "tensor(float)" and inp.shape == [1, N_SAMPLES]
    assert outs[1].name == "mfcc" and outs[1].shape == [1, *CFG.output_shape(N_SAMPLES)]
    assert outs[0].shape == [1, N_CLASSES]

    results = [sess.run(None, {"waveform": c[None]}) for c in setup["clips"]]
    pred = np.array([r[0][0].argmax() for r in results])
    mfcc = np.stack([r[1][0] for r in results])

    fsess = ort.InferenceSession(classifier.SerializeToString(), providers=["CPUExecutionProvider"])
    fname = fsess.get_inputs()[0].name
    feature_pred = np.array([fsess.run(None, {fname: x[None]})[0][0].argmax() for x in setup["X"]])
    _check_parity("onnx", level, setup, mfcc, pred, feature_pred)


def test_tflite_per_layer_quantization_error(setup):
    """QuantizationDebugger on the quantized classifier (after the float standardisation): a figure per layer."""
    from pipeline.export.quant_error import TFLITE_UNIT, tflite_layer_errors, worst

    rows = tflite_layer_errors(setup["model"], "int8", setup["X"][:16])
    assert len(rows) >= 5 and {r["unit"] for r in rows} == {TFLITE_UNIT}
    assert all(np.isfinite(r["error"]) and r["error"] >= 0 for r in rows)
    assert worst(rows)["error"] == pytest.approx(max(r["error"] for r in rows))


def test_int8_per_tensor_is_smaller_and_every_file_keeps_only_its_io_names(setup):
    """`quantization.int8.per_channel: false` gives one scale per weight tensor (a smaller file); every TFLite
    file leaves the converter without internal tensor names, its inputs', outputs' and signature's kept."""
    from ai_edge_litert.interpreter import Interpreter

    from pipeline.export.e2e import classifier_tflite
    from pipeline.export.levels import Int8Options
    from pipeline.export.tflite_strip import strip_internal_names

    files = {pc: classifier_tflite(setup["model"], "int8", setup["X"][:20], setup["saved"],
                                   Int8Options(calibration_samples=20, per_channel=pc)) for pc in (True, False)}
    channels = {}
    for pc, data in files.items():
        it = Interpreter(model_content=data)
        weights = [t for t in it.get_tensor_details() if t["dtype"] == np.int8 and len(t["shape"]) == 4]
        channels[pc] = max(len(t["quantization_parameters"]["scales"]) for t in weights)
    assert channels[True] > 1 and channels[False] == 1
    assert len(files[False]) < len(files[True])

    stripped = strip_internal_names(files[False])
    assert len(stripped) < len(files[False])
    it = Interpreter(model_content=stripped)
    it.allocate_tensors()
    io = {d["index"] for d in (*it.get_input_details(), *it.get_output_details())}
    assert [d["name"] for d in it.get_input_details()] == ["mfcc"]
    assert [d["name"] for d in it.get_output_details()] == ["probabilities"]
    assert not [t["name"] for t in it.get_tensor_details() if t["index"] not in io and t["name"]]
    assert it.get_signature_list() == {"serving_default": {"inputs": ["mfcc"], "outputs": ["probabilities"]}}
    runner = it.get_signature_runner()
    before = Interpreter(model_content=files[False]).get_signature_runner()
    x = setup["X"][:1].astype(np.float32)
    assert np.array_equal(runner(mfcc=x)["probabilities"], before(mfcc=x)["probabilities"])  # the same math
