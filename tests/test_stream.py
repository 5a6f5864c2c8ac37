"""The streaming detector and `classify` on real recordings, on the tiny profile's end-to-end bundles: each hop
equals the batch artefact on the same window, whatever the frame size; another rate only with --resample;
stereo mixed down; a missing runtime falls back to the twin in the other format, in the stated order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, run

pytestmark = pytest.mark.e2e

PY = str(ROOT / ".venv" / "bin" / "python")


def _bundle(project: Path, fmt: str = "tflite", level: str = "fp32") -> Path:
    return project / "models/variants" / level / f"keras_e2e.{fmt}.{level}"


def _recording(project: Path, clips: int = 3) -> np.ndarray:
    from pipeline import io as pio

    return pio.read_npz(project / "data/audio_splits.npz")["test"][:clips].reshape(-1).astype(np.float32)


def test_every_hop_equals_the_batch_artefact_on_its_window(built_project: Path):
    from pipeline.bench.runtimes import RUNTIMES
    from pipeline.runtime.bundle import open_bundle
    from pipeline.runtime.stream import Detector, scores_of

    for fmt, runtime in (("tflite", "litert"), ("onnx", "onnxruntime")):
        bundle = open_bundle(_bundle(built_project, fmt, "int8"))
        audio = _recording(built_project)
        run_batch, _ = RUNTIMES[runtime].load(str(bundle.artefact), 1)
        hop = 4000
        windows = [audio[s:s + 16000] for s in range(0, len(audio) - 16000 + 1, hop)]
        expected = [tuple(scores_of(bundle, run_batch(w.reshape(1, -1)))) for w in windows]
        for frame in (960, 333, 16000):
            det = Detector(bundle, hop_s=hop / 16000)
            hops = [h for i in range(0, len(audio), frame) for h in det.push(audio[i:i + frame])] + det.finish()
            assert [h.scores for h in hops] == expected, (fmt, frame)
            assert [h.start_s for h in hops] == [i * hop / 16000 for i in range(len(windows))]
            assert all(h.latency_ms > 0 and not h.padded for h in hops)


def test_resampling_only_when_asked_and_a_short_clip_padded(built_project: Path):
    from pipeline.runtime.bundle import open_bundle
    from pipeline.runtime.stream import Detector, StreamError

    bundle = open_bundle(_bundle(built_project))
    with pytest.raises(StreamError, match="expected 16000 Hz, got 48000 Hz .*--resample"):
        Detector(bundle, 0.02, rate=48000)
    with pytest.raises(StreamError, match="allowed: 1..16000 samples"):
        Detector(bundle, 2.0)
    det = Detector(bundle, 0.02, rate=48000, resample=True)
    frames = np.zeros(48000 * 2, np.float32).reshape(-1, 960)  # 20 ms frames at 48 kHz
    hops = [h for f in frames for h in det.push(f)] + det.finish()
    assert len(hops) >= 50 and "soxr" in " ".join(det.notes)
    short = Detector(bundle, 0.5)
    assert short.push(np.zeros(4000, np.float32)) == []
    padded = short.finish()
    assert len(padded) == 1 and padded[0].padded and "zero-padded" in short.notes[-1]


def test_a_missing_runtime_falls_back_to_the_twin_then_fails_clearly(built_project: Path, monkeypatch):
    from pipeline.runtime import stream
    from pipeline.runtime.bundle import open_bundle

    bundle = open_bundle(_bundle(built_project))
    monkeypatch.setitem(stream.RUNTIME_MODULES, "litert", "not_installed_litert")
    det = stream.Detector(bundle, 0.25)
    assert det.runs_bundle.variant == "keras_e2e.onnx.fp32" and "running its twin" in det.notes[0]
    monkeypatch.setitem(stream.RUNTIME_MODULES, "onnxruntime", "not_installed_ort")
    with pytest.raises(stream.StreamError, match="no runtime installed .*ai-edge-litert.*onnxruntime"):
        stream.Detector(bundle, 0.25)


def test_classify_a_stereo_44k_recording(built_project: Path, tmp_path: Path):
    import soundfile as sf
    import soxr

    audio = _recording(built_project)
    stereo = np.stack([soxr.resample(audio, 16000, 44100)] * 2, axis=1) * 0.5
    wav = tmp_path / "rec.wav"
    sf.write(wav, stereo, 44100, subtype="PCM_16")
    bundle = _bundle(built_project, "tflite", "int8")
    bad = run([PY, "-m", "pipeline", "classify", str(bundle), str(wav)], built_project, check=False)
    assert bad.returncode == 1 and f"{wav}: sample rate: expected 16000 Hz, got 44100 Hz" in bad.stderr
    ok = run([PY, "-m", "pipeline", "classify", str(bundle), str(wav), "--resample", "--json"], built_project)
    result = json.loads(ok.stdout)
    assert result["duration_s"] == 3.0 and result["hop_s"] == 0.25 and len(result["hops"]) == 9
    assert result["timeline"][0]["start_s"] == 0.0 and result["timeline"][-1]["end_s"] == 3.0
    assert result["label"] in result["scores"] and "2 channels mixed down to mono" in ok.stderr
    assert "PCM_16" in ok.stderr and "soxr" in ok.stderr
    text = run([PY, "-m", "pipeline", "classify", str(bundle), str(wav), "--resample"], built_project).stdout
    assert text.splitlines()[0] == result["label"] and "timeline (keras_e2e.tflite.int8" in text


def test_a_window_below_the_validation_threshold_is_marked_uncertain(built_project: Path, tmp_path: Path):
    """The bundle's threshold is its own runtime's on the validation split (computed again here), and classify
    marks exactly the hops, segments and overall answer below it: the two least and two most confident
    validation clips, one hop each."""
    import soundfile as sf

    from pipeline import io as pio
    from pipeline.bench.runtimes import RUNTIMES
    from pipeline.export.uncertainty import threshold
    from pipeline.runtime.bundle import open_bundle
    from pipeline.runtime.stream import scores_of

    bundle = open_bundle(_bundle(built_project, "tflite", "int8"))
    u = bundle.meta["uncertainty"]
    val = pio.read_npz(built_project / "data/audio_splits.npz")["val"]
    y = pio.read_npz(built_project / "data/features.npz")["y_val"]
    run_, _ = RUNTIMES["litert"].load(str(bundle.artefact), 1)
    probs = np.stack([scores_of(bundle, run_(c.reshape(1, -1).astype(np.float32))) for c in val])
    assert threshold(probs.max(1), probs.argmax(1) == y) == u and u["validation_clips"] == len(val)

    order = np.argsort(probs.max(1), kind="stable")
    chosen = [*order[:2], *order[-2:]]
    wav = tmp_path / "val.wav"
    sf.write(wav, np.concatenate([val[i] for i in chosen]).astype(np.float32), 16000, subtype="FLOAT")
    res = run([PY, "-m", "pipeline", "classify", str(bundle.folder), str(wav), "--hop-ms", "1000", "--json"],
              built_project)
    result = json.loads(res.stdout)
    cut = u["uncertain_below"]
    assert result["uncertain_below"] == cut and len(result["hops"]) == 4
    assert [h["uncertain"] for h in result["hops"]] == [bool(probs[i].max() < cut) for i in chosen]
    assert [s["uncertain"] for s in result["timeline"]] == [s["confidence"] < cut for s in result["timeline"]]
    assert result["uncertain"] == (max(result["scores"].values()) < cut)
    assert (u["clips_below"] > 0) == result["hops"][0]["uncertain"]  # the least confident clip is below any cut
