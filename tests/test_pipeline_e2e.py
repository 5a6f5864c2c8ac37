"""End to end: `dvc repro` on the tiny profile in a fresh git repo, then every artefact and metric is checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import make_project, run
from pipeline import io as pio
from pipeline.audio.mfcc import MfccConfig, mfcc_reference
from pipeline.export.formats import FORMATS as FORMAT_REGISTRY

pytestmark = pytest.mark.e2e

SKLEARN = ["logreg", "mlp", "random_forest", "svc"]
KERAS = ["keras", "small"]  # small: its own front end (hop 512, 32 mel bands: 32 frames)
MODELS = [*KERAS, *(f"{m}_e2e" for m in KERAS), *SKLEARN, *(f"{m}_e2e" for m in SKLEARN)]
LEVELS = ["fp32", "fp16", "dynamic_int8", "int8", "int16x8"]
FORMATS = ["onnx", "tflite", "tflm"]
FORMAT_SUFFIX = {f: FORMAT_REGISTRY[f].suffix for f in FORMATS}
HOST_FIELDS = ["latency_p50_us", "latency_p90_us", "latency_p99_us", "load_ms", "peak_rss_mb"]
# Built on every machine with the pinned stack; everything else must be not_applicable with a reason.
EXPECTED_BUILT = ({f"{m}{e}.{f}.{q}" for m in KERAS for e in ("", "_e2e") for f in ("onnx", "tflite") for q in LEVELS}
                  | {f"{m}_e2e.tflm.{q}" for m in KERAS for q in ("fp32", "int8", "int16x8")}  # what TFLite Micro runs
                  | {f"{m}{e}.onnx.fp32" for m in SKLEARN for e in ("", "_e2e")}
                  | {f"mlp{e}.onnx.{q}" for q in ("fp16", "dynamic_int8", "int8", "int16x8") for e in ("", "_e2e")})


def variant_metrics(project: Path) -> dict[str, dict]:
    """reports/metrics.json without the decisions per target (its `ship` key)."""
    metrics = json.loads((project / "reports/metrics.json").read_text())
    metrics.pop("ship", None)
    return metrics


def tracked_outputs(project: Path) -> dict[str, str]:
    files = {}
    for top in ("data", "models"):
        for p in sorted((project / top).rglob("*")):
            if p.is_file() and p.name != ".gitignore":
                files[str(p.relative_to(project))] = pio.sha256_file(p)
    return files


def test_data_and_features(built_project: Path):
    manifest = pio.read_csv(built_project / "data/manifest.csv")
    assert len(manifest) == 5 * 12
    assert {r["split"] for r in manifest} == {"train", "val", "test"}
    for label in ["speech", "rock", "jazz", "electronic", "classical"]:
        splits = [r["split"] for r in manifest if r["label"] == label]
        assert splits.count("test") == 3 and splits.count("val") == 2
    assert all((built_project / "data/audio" / r["path"]).is_file() for r in manifest)
    f = pio.read_npz(built_project / "data/features.npz")
    assert f["X_train"].shape == (35, 20, 51) and f["X_test"].shape == (15, 20, 51)
    assert f["X_train"].dtype == np.float32 and np.isfinite(f["X_train"]).all()
    assert list(f["labels"]) == ["speech", "rock", "jazz", "electronic", "classical"]


@pytest.mark.smoke
def test_the_first_stages_run_for_real_and_a_second_repro_has_nothing_to_do(tmp_path: Path):
    """`make check`'s one integration, without the whole tiny build: DVC runs the real stages up to the Keras
    model from a fresh repo, each output is what its stage says, and the dependencies DVC recorded hold."""
    project = make_project(tmp_path / "repo")
    out = run(["dvc", "repro", "train_keras"], project, timeout=600).stdout
    assert set(re.findall(r"Running stage '([^']+)'", out)) == {"check", "synthesize", "features", "train_keras@keras",
                                                                 "train_keras@small"}
    assert len(pio.read_csv(project / "data/manifest.csv")) == 5 * 12
    f = pio.read_npz(project / "data/features.npz")
    assert f["X_train"].shape == (35, 20, 51) and np.isfinite(f["X_train"]).all()
    for name, frames in (("keras", 51), ("small", 32)):  # each entry's MFCCs through its own front end
        history = pio.read_csv(project / f"reports/plots/keras_history/{name}.csv")
        assert [int(r["epoch"]) for r in history] == [1, 2]
        own = pio.read_npz(project / f"models/keras/{name}/features.npz")
        assert own["X_train"].shape == (35, 20, frames) and own["X_test"].shape == (15, 20, frames)
    assert np.array_equal(pio.read_npz(project / "models/keras/keras/features.npz")["X_test"], f["X_test"])
    small = pio.read_npz(project / "models/keras/small/features.npz")["X_test"]
    audio = pio.read_npz(project / "data/audio_splits.npz")["test"]
    cfg = MfccConfig(16000, n_fft=512, hop_length=512, n_mels=32, n_mfcc=20, fmin=20.0, fmax=8000.0, top_db=80.0)
    assert np.allclose(small[0], mfcc_reference(audio[0], cfg), atol=1e-4)  # librosa on the same clip
    assert "Running stage" not in run(["dvc", "repro", "train_keras"], project).stdout


def test_models_saved_without_pickle(built_project: Path):
    from pipeline.models import sklearn_models as skm

    for name in ("logreg", "random_forest", "mlp"):
        data = (built_project / "models/sklearn" / name / "model.skops").read_bytes()
        model = skm.loads(data)
        X = pio.read_npz(built_project / "data/features.npz")["X_test"]
        ref = pio.read_npz(built_project / "models/sklearn" / name / "reference.npz")["pred_test"]
        assert np.array_equal(model.predict(skm.features(X)), ref)
    for name in KERAS:
        assert (built_project / f"models/keras/{name}/weights.npz").is_file()
        history = pio.read_csv(built_project / f"reports/plots/keras_history/{name}.csv")
        assert [int(r["epoch"]) for r in history] == [1, 2]


TARGETS = {"host", "cortex-a53", "cortex-m4", "node-onnxruntime", "chromium-onnxruntime-web", "c-tflite"}  # tiny.yaml


def test_every_variant_built_or_explained(built_project: Path):
    metrics = json.loads((built_project / "reports/metrics.json").read_text())
    decisions = metrics.pop("ship")
    assert set(decisions) == TARGETS and all(d["pick"] or d["why"] for d in decisions.values())
    assert set(metrics) == {f"{m}.{f}.{q}" for m in MODELS for f in FORMATS for q in LEVELS}
    built = {vid for vid, m in metrics.items() if m["status"] == "ok"}
    assert built == EXPECTED_BUILT
    for vid, m in metrics.items():
        model, fmt, level = vid.split(".")
        assert (m["model"], m["format"], m["quantization"]) == (model, fmt, level)
        if m["status"] != "ok":  # never failed: a built file that cannot load is a defect, not a limit
            assert m["status"] == "not_applicable" and len(m["reason"]) > 20, (vid, m)
            assert "cannot load" not in m["reason"] and "raised" not in m["reason"], (vid, m)
            continue
        folder = built_project / "models/variants" / level / vid
        artefact = folder / f"{vid}{FORMAT_SUFFIX[fmt]}"
        sidecar = json.loads((folder / f"{vid}.json").read_text())
        assert m["size_bytes"] == artefact.stat().st_size == sidecar["size_bytes"]
        assert sidecar["sha256"] == pio.sha256_file(artefact)
        assert sidecar["labels"] == ["speech", "rock", "jazz", "electronic", "classical"]
        assert sidecar["features"]["n_mfcc"] == 20 and sidecar["input"]["name"]
        assert 0 <= m["accuracy"] <= 1 and 0 <= m["agreement"] <= 1
        assert all(m["host"][k] > 0 for k in HOST_FIELDS)
        assert m["host"]["latency_p50_us"] <= m["host"]["latency_p99_us"]
        if level == "fp32":
            assert m["agreement"] == 1.0, f"{vid}: fp32 must match its source model"
        arm = m["cortex-a53"]
        assert arm["status"] == "ok", arm
        assert isinstance(arm["instructions_per_inference"], int) and arm["instructions_per_inference"] > 1000
        assert arm["estimated_device_latency_us"] == pytest.approx(
            arm["instructions_per_inference"] / (0.8 * 1.2e3), rel=1e-3)
        assert arm["emulated_latency_p50_us"] > 0 and 0 <= arm["host_agreement"] <= 1
    for vid in (v for v in EXPECTED_BUILT if v.split(".")[0].endswith("_e2e")):
        m = metrics[vid]
        assert m["mfcc_max_abs_diff"] < 1e-3, f"{vid}: in-graph MFCC drifted from librosa"
        twin = metrics[vid.replace("_e2e.", ".").replace(".tflm.", ".tflite.")]  # tflm: the same classifier
        if m["quantization"] in ("fp32", "fp16"):
            assert m["agreement"] >= 0.995, vid
        else:  # quantized: the same loss as the feature-input variant, within one clip of 15
            assert abs(m["accuracy"] - twin["accuracy"]) <= 1 / 15 + 1e-9, vid
        readme = (built_project / "models/variants" / m["quantization"] / vid / "README.md").read_text()
        assert "16000 mono float32 samples" in readme and "0 = speech" in readme
        assert "## Trained on" in readme and "Synthetic audio" in readme and "12 clips per class" in readme
    int8 = json.loads((built_project / "models/variants/int8/keras.tflite.int8/keras.tflite.int8.json").read_text())
    assert int8["training_data"] == {"source": "synthetic", "generator": "pipeline/audio/synth", "seed": 7,
                                     "clips_per_class": 12, "test_clips": metrics["keras.tflite.int8"]["test_clips"],
                                     "difficulty": {"overlap": 0.3, "snr_db": [15.0, 30.0], "gain_db": [-6.0, 0.0]}}
    # the app feeds the MFCC matrix as written; standardisation and input quantization are inside the graph
    assert int8["input"]["dtype"] == "float32" and int8["input"]["scale"] is None
    assert int8["output"]["dtype"] == "int8" and int8["output"]["scale"] > 0
    assert "TreeEnsembleClassifier" in metrics["random_forest.onnx.int8"]["reason"]
    # int8 without loss: the standardisation runs in float ahead of the quantized input (tiny: 15 test clips,
    # one clip is 6.7 points), and the per-class figures say where a variant loses
    for vid in ("keras.tflite.int8", "keras_e2e.tflite.int8", "keras.onnx.int8", "keras_e2e.onnx.int8"):
        fp32 = metrics[vid.rsplit(".", 1)[0] + ".fp32"]
        assert metrics[vid]["accuracy"] >= fp32["accuracy"] - 1 / 15 - 1e-9, vid
        assert metrics[vid]["agreement"] >= 14 / 15 - 1e-9, vid
    for vid, m in metrics.items():
        if m["status"] == "ok":
            assert set(m["per_class_accuracy"]) == {"speech", "rock", "jazz", "electronic", "classical"}, vid


def test_reports(built_project: Path):
    md = (built_project / "reports/report.md").read_text()
    metrics = variant_metrics(built_project)
    for vid, m in metrics.items():  # built ones in their rows; not-applicable ones grouped by reason
        assert (f"| {vid} |" if m["status"] == "ok" else vid) in md, vid
    assert md.splitlines()[2:3] == ["## What to ship"] or "## What to ship" in md.split("## Host")[0]
    html = (built_project / "reports/report.html").read_text()
    assert html.count("<svg") >= 3 and "<script" not in html and "http://" not in html.split("<svg")[0]
    sizes = pio.read_csv(built_project / "reports/plots/size_accuracy.csv")
    assert {r["variant"] for r in sizes} == EXPECTED_BUILT
    summary = {p.stem: json.loads(p.read_text()) for p in (built_project / "reports/summary").glob("*.json")}
    assert set(summary) == EXPECTED_BUILT | {f"ship.{t}" for t in TARGETS}  # built ones only
    assert all(summary[vid]["accuracy"] == metrics[vid]["accuracy"] for vid in EXPECTED_BUILT)
    from pipeline.machine import describe, identity

    assert json.loads((built_project / "reports/machine.json").read_text()) == identity()  # made here, said so
    assert f"Made on {describe(identity())}." in md


def test_same_params_give_identical_artefacts(built_copy: Path):
    before = tracked_outputs(built_copy)
    counts = {k: m["cortex-a53"]["instructions_per_inference"]
              for k, m in variant_metrics(built_copy).items() if m["status"] == "ok"}
    assert any(k.endswith(".tflite") for k in before) and any(k.endswith(".onnx") for k in before)
    run(["dvc", "repro", "--force"], built_copy, timeout=1800)
    after = tracked_outputs(built_copy)
    differing = sorted(k for k in before if before[k] != after.get(k))
    assert not differing, f"not byte-identical after dvc repro --force: {differing}"
    again = {k: m["cortex-a53"]["instructions_per_inference"]
             for k, m in variant_metrics(built_copy).items() if m["status"] == "ok"}
    assert again == counts, "instruction counts must not change between runs"


def test_noop_repro_then_one_level_change_reruns_only_that_level(built_copy: Path):
    assert "up to date" in run(["dvc", "status"], built_copy).stdout
    assert "Running stage" not in run(["dvc", "repro"], built_copy).stdout
    # convert@int8, then every target's benchmark stage, which measures the int8 cells and recalls the rest
    benchmarks = {s for s in run(["dvc", "stage", "list", "--name-only"], built_copy).stdout.split()
                  if s.startswith("benchmark")}
    assert len(benchmarks) == len(TARGETS)  # one per target
    params = yaml.safe_load((built_copy / "params.yaml").read_text())
    params["quantization"]["int8"]["calibration_samples"] = 8
    (built_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    res = run(["dvc", "repro"], built_copy, timeout=1800)
    ran = set(re.findall(r"Running stage '([^']+)'", res.stdout))
    # the check runs on every params change (a second; its marker does not change), then only what uses the key
    assert ran == {"check", "convert@int8", *benchmarks, "report"}
    levels = "|".join(params["quantization"])
    cells = re.findall(rf"benchmark@(.+?)-({levels}): (\d+) variants, (\d+) from the measurement cache", res.stderr)
    assert len(cells) == len(TARGETS) * len(params["quantization"]), cells
    assert all(n == cached for _, level, n, cached in cells if level != "int8"), cells  # recalled, not measured
    assert sum(int(n) - int(c) for _, level, n, c in cells if level == "int8") > 0, cells  # the changed cells


def test_classify_an_end_to_end_bundle_and_refuse_wrong_clips(built_project: Path, tmp_path: Path):
    import soundfile as sf

    from pipeline.runtime.bundle import open_bundle
    from pipeline.runtime.stream import Detector, StreamError

    bundle = built_project / "models/variants/int8/keras_e2e.tflite.int8"
    manifest = pio.read_csv(built_project / "data/manifest.csv")
    clip_path = built_project / "data/audio" / next(r["path"] for r in manifest if r["split"] == "test")
    py = str(Path(__file__).resolve().parents[1] / ".venv/bin/python")
    ok = run([py, "-m", "pipeline", "classify", str(bundle), str(clip_path)], built_project)
    assert ok.stdout.split()[0] in ["speech", "rock", "jazz", "electronic", "classical"]

    clip, _ = sf.read(clip_path, dtype="float32")
    sf.write(tmp_path / "8k.wav", clip[::2], 8000, subtype="FLOAT")
    bad = run([py, "-m", "pipeline", "classify", str(bundle), str(tmp_path / "8k.wav")], built_project, check=False)
    assert bad.returncode == 1 and "expected 16000 Hz, got 8000 Hz" in bad.stderr

    detector = Detector(open_bundle(bundle), 0.25)
    with pytest.raises(StreamError, match="expected 1-D float32 .* got int16"):
        detector.push((clip * 32767).astype(np.int16))


def test_harness_refuses_inputs_of_the_wrong_shape_or_dtype():
    from pipeline.bench.harness import InputMismatch, prepare_inputs

    spec = {"name": "waveform", "shape": [1, 16000], "dtype": "float32"}
    assert prepare_inputs(np.zeros((2, 16000), np.float32), spec)[0].shape == (1, 16000)
    with pytest.raises(InputMismatch, match="takes 16000 values per sample .* got samples of shape \\[8000\\]"):
        prepare_inputs(np.zeros((2, 8000), np.float32), spec)
    with pytest.raises(InputMismatch, match="got dtype int16"):
        prepare_inputs(np.zeros((2, 16000), np.int16), spec)


def test_the_repro_log_is_quiet(built_project: Path):
    """No library chatter from training, converting and measuring, one not-applicable line per convert stage."""
    log = (built_project.parent / "repro.log").read_text()
    for chatter in ("WARNING:root:", "absl::InitializeLog", "oneDNN custom operations", "fully_quantize:",
                    "tf.lite.Interpreter is deprecated", "FutureWarning", "pre-processing before quantization",
                    "Created TensorFlow Lite XNNPACK delegate"):
        assert chatter not in log, chatter
    summaries = re.findall(r"convert@(\w+): (\d+) combinations not applicable", log)
    assert sorted(level for level, _ in summaries) == sorted(LEVELS) and all(int(n) > 0 for _, n in summaries)
    assert "not applicable:" not in log  # no line per combination
