"""Bad params stop every stage before any work, with the key, the value and what is allowed."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import PROFILES, ROOT, run
from pipeline import io as pio
from pipeline.params import ParamsError, load_params, parse_params

GOOD = yaml.safe_load((PROFILES / "tiny.yaml").read_text())


def with_change(path: str, value) -> dict:
    raw = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = raw
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return raw


def test_default_and_tiny_profiles_are_valid():
    assert load_params(ROOT / "params.yaml").data.sample_rate == 16000
    p = parse_params(GOOD)
    assert list(p.quantization) == ["fp32", "fp16", "dynamic_int8", "int8", "int16x8"]


@pytest.mark.parametrize("path,value,expected", [
    ("quantization.int4", {}, ["quantization", "int4", "allowed", "int16x8"]),
    ("quantization.fp32", KeyError, ["quantization", "fp32 is required"]),
    ("data.sample_rate", -16000, ["data.sample_rate", "-16000", "greater than 0"]),
    ("features.n_mfc", 20, ["features.n_mfc", "unknown key"]),
    ("keras.keras.epochs", "ten", ["keras.keras.epochs", "'ten'", "integer"]),
    ("keras.keras.stem_stride", [2], ["keras.keras.stem_stride", "too few items", "2 items"]),
    ("keras.keras.features.n_fft", 64, ["keras.keras.features.n_fft=64", "mel bands"]),
    ("keras.keras.features.n_mfcc", 60, ["keras.keras.features.n_mfcc=60", "keras.keras.features.n_mels=40"]),
    ("keras.keras.features.hop", 60, ["keras.keras.features.hop", "unknown key"]),
    ("keras.svc", {"type": "dscnn", "filters": 8, "blocks": 1, "stem_kernel": [3, 3], "stem_stride": [2, 2], "dropout": 0.0,
                   "epochs": 1, "batch_size": 8, "learning_rate": 0.01, "features": {}},
     ["model names (across sklearn and keras)", "['svc'] more than once"]),
    ("keras", {}, ["keras", "at least one model entry"]),
    ("keras.keras.type", "resnet", ["keras.keras", "resnet", "dscnn", "stats_mlp"]),
    ("keras.keras", {"type": "stats_mlp", "statistics": ["mean", "mean"], "hidden": [8], "dropout": 0.0, "epochs": 1,
                     "batch_size": 8, "learning_rate": 0.01, "features": {}},
     ["keras.keras.statistics", "more than once", "diff_std"]),
    ("keras.keras", {"type": "stats_mlp", "statistics": ["median"], "hidden": [8], "dropout": 0.0, "epochs": 1,
                     "batch_size": 8, "learning_rate": 0.01, "features": {}},
     ["keras.keras.statistics", "median", "'mean'"]),
    ("data.source", "youtube", ["data.source", "youtube", "synthetic", "folder"]),
    ("formats", ["onnx", "coreml"], ["formats", "coreml", "allowed"]),
    ("features.fmax", 12000.0, ["features.fmax", "12000", "Nyquist"]),
    ("data.difficulty.snr_db", [30.0, 10.0], ["data.difficulty.snr_db", "low <= high"]),
    ("sklearn.logreg.type", "svm", ["sklearn.logreg", "svm"]),
    ("features.n_mfcc", 50, ["features.n_mfcc=50", "features.n_mels=40"]),
    ("data.folder", None, ["data.folder", "None", "valid string"]),
    ("features.n_fft", 4, ["features.n_fft=4", "3 FFT bins", "mel bands", "n_fft >= 128"]),
    ("features.hop_length", 1024, ["features.hop_length=1024", "features.n_fft=512", "skip samples"]),
    ("features.n_fft", 32768, ["features.n_fft=32768", "longer than a clip", "16000 samples"]),
    ("formats", ["onnx", "onnx"], ["formats", "['onnx'] more than once"]),
    ("data.labels", ["rock", "rock", "jazz"], ["data.labels", "['rock'] more than once"]),
    ("targets.http", {"r1": {"rates": [10, 10], "requests": 5, "concurrency": 1, "saturation_clients": 2,
                         "saturation_requests": 5, "max_batch": 2, "max_wait_ms": 1.0}},
     ["targets.http.r1", "duplicate offered rates [10.0]"]),
    ("targets.http", {"r1": {"rates": [10], "requests": 5, "concurrency": 1, "saturation_clients": 2,
                         "saturation_requests": 5, "max_batch": 2, "max_wait_ms": 1.0}},
     ["devices", "missing ['r1']"]),
    ("targets.mcu.cortex-m4.core", "cortex-m3", ["targets.mcu.cortex-m4.core", "cortex-m3", "not modelled", "cortex-m55"]),
    ("devices.cortex-m4.clock_mhz", 0, ["devices.cortex-m4.clock_mhz", "greater than 0"]),
    ("devices.cortex-m4", KeyError, ["devices", "missing ['cortex-m4']"]),
    ("devices.host", {"rtt_ms": 1.0}, ["devices", "['host'] not in targets (or their kind takes none)"]),
    ("ship.cortex-m9", {"max_latency_ms": 20.0, "max_size_kb": 512, "max_accuracy_loss": 0.05, "raw_audio": True,
                        "reduction": None}, ["ship", "['cortex-m9'] not in targets"]),
    ("ship.cortex-m4", KeyError, ["ship", "missing ['cortex-m4']"]),
    ("targets.qemu.host", {"cpu": "cortex-a53", "runs": 1, "agreement_clips": 1, "required": True},
     ["target names (across kinds)", "['host'] more than once"]),
    ("targets.host.host", KeyError, ["targets", "exactly one target of kind ['host']"]),
    ("targets.http", KeyError, ["targets.http", "missing"]),
])
def test_bad_values_are_named(path, value, expected):
    with pytest.raises(ParamsError) as err:
        parse_params(with_change(path, value))
    for text in expected:
        assert text in str(err.value), f"{text!r} missing from: {err.value}"


def test_bad_params_stop_the_stage_and_touch_nothing(tmp_path: Path):
    shutil.copytree(ROOT / "pipeline", tmp_path / "pipeline")
    out = tmp_path / "data/manifest.csv"
    pio.atomic_write_text(out, "path,label,split\nkeep,me,train\n")
    before = out.read_bytes()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_change("quantization.int4", {})))
    res = run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "synthesize"], tmp_path, check=False)
    assert res.returncode == 2
    assert "quantization" in res.stderr and "int4" in res.stderr and "allowed" in res.stderr
    assert out.read_bytes() == before
    assert not (tmp_path / "data/audio").exists()


def test_missing_and_malformed_files(tmp_path: Path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("seed: [1,\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "bad.yaml")


def leaf_paths(node, prefix=""):
    """Every key path of a params mapping down to its values (lists are values)."""
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from leaf_paths(value, f"{path}.")
        else:
            yield path


SHIPPED = yaml.safe_load((ROOT / "params.yaml").read_text())
# Keys that name a member of a family (a model, a level, a target): removing one removes the member.
MEMBERS = ("sklearn.", "quantization.", "targets.", "devices.")


# A Keras entry's front-end overrides are optional by design: leaving one out gives the shared value.
OVERRIDES = re.compile(r"^keras\.[a-z0-9_]+\.features\.")


@pytest.mark.parametrize("path", [p for p in leaf_paths(SHIPPED) if not p.startswith(MEMBERS) and not OVERRIDES.match(p)]
                         + ["sklearn.logreg.C", "sklearn.random_forest.max_depth", "quantization.int8.calibration_samples",
                            "targets.qemu.cortex-a53.agreement_clips", "targets.qemu.cortex-a53.required",
                            "devices.cortex-a53.clock_mhz", "devices.cortex-m4.flash_kb", "devices.remote.rtt_ms"])
def test_every_value_lives_in_params_yaml(path):
    """The schema holds no second set of values: leaving any key out is an error naming it."""
    raw = copy.deepcopy(SHIPPED)
    *parents, last = path.split(".")
    node = raw
    for key in parents:
        node = node[key]
    del node[last]
    with pytest.raises(ParamsError) as err:
        parse_params(raw)
    assert path in str(err.value) and "missing" in str(err.value), str(err.value)


def test_validation_keeps_the_values_as_written():
    """parse -> dump gives params.yaml back: validation types the values and never changes one."""
    assert parse_params(SHIPPED).model_dump(mode="json") == SHIPPED


def test_synthesizer_classes_agree_with_the_schema():
    from pipeline.audio.synth import CLASSES
    from pipeline.params import SYNTH_CLASSES

    assert CLASSES == SYNTH_CLASSES


def test_a_key_given_twice_is_refused(tmp_path: Path):
    """PyYAML would keep the last value silently; DVC refuses such a file, and so do we, naming the key."""
    text = (ROOT / "params.yaml").read_text().replace("seed: 42\n", "seed: 42\nseed: 7\n")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError, match=r"key 'seed' is given twice in one mapping \(line \d+\)"):
        load_params(tmp_path / "params.yaml")


def test_empty_mel_bands_agree_with_librosa():
    import warnings

    import librosa
    import numpy as np

    from pipeline.audio.mfcc import empty_mel_bands

    for sr, n_fft, n_mels, fmin, fmax in [(16000, 4, 40, 20.0, 8000.0), (16000, 128, 40, 20.0, 8000.0),
                                          (16000, 512, 40, 20.0, 8000.0), (8000, 64, 80, 0.0, 4000.0),
                                          (22050, 256, 128, 300.0, 3000.0)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        assert empty_mel_bands(sr, n_fft, n_mels, fmin, fmax) == int(np.sum(mel.max(axis=1) == 0))
