"""The page `python -m pipeline serve BUNDLE` answers at GET /, driven in headless Chromium as a person would
(tests/page_driver.js): a picked WAV and a fake microphone fed from the same WAV give the label `classify` gives,
and the in-browser run (onnxruntime-web, the model from the server) gives the server's; a screenshot is kept
beside the test's files. The page is self-contained: everything it loads comes from the server."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from pipeline.targets.app_run import pcm16, write_wav

pytestmark = pytest.mark.e2e

PY = str(ROOT / ".venv" / "bin" / "python")
BUNDLE = "models/variants/fp32/svc_e2e.onnx.fp32"  # the tiny build's 2-epoch CNN answers near uniform


def steady_recording(project: Path) -> tuple[np.ndarray, str]:
    """Three copies of the test clip whose label holds under every shift of the loop (the fake microphone starts
    anywhere in it and resamples it twice): a recording whose label does not hang on where it starts."""
    from pipeline import io as pio
    from pipeline.runtime.bundle import open_bundle
    from pipeline.runtime.stream import load_runner, scores_of

    bundle = open_bundle(project / BUNDLE)
    run, runs, _ = load_runner(bundle)
    best = None
    for clip in pio.read_npz(project / "data/audio_splits.npz")["test"]:
        clip = pcm16(clip).astype(np.float32) / 32768
        scores = np.array([scores_of(runs, run(np.roll(clip, s)[None])) for s in range(0, len(clip), 1000)])
        labels = set(scores.argmax(1))
        margin = float(np.min(np.sort(scores, 1)[:, -1] - np.sort(scores, 1)[:, -2]))
        if len(labels) == 1 and (best is None or margin > best[0]):
            best = (margin, clip, bundle.meta["labels"][labels.pop()])
    assert best is not None and best[0] > 0.2, "no test clip keeps its label under every shift"
    return np.tile(best[1], 3), best[2]


def test_the_page_answers_as_classify_does_from_a_file_and_a_microphone(built_project: Path, tmp_path: Path):
    from pipeline.runtime.classify import classify

    samples, steady = steady_recording(built_project)
    wav = tmp_path / "recording.wav"
    write_wav(wav, pcm16(samples), 16000)
    expected = classify(built_project / BUNDLE, pcm16(samples).astype(np.float32) / 32768, 16000)
    assert expected["label"] == steady

    server = subprocess.Popen([PY, "-m", "pipeline", "serve", str(built_project / BUNDLE), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=built_project,
                              env={**os.environ, "PIPELINE_APPS_CACHE": str(ROOT / ".cache" / "apps")})
    try:
        url = server.stdout.readline().strip().removeprefix("listening on ")
        assert url.startswith("http://127.0.0.1:"), server.stderr.read()
        page = subprocess.run(["node", str(ROOT / "tests/page_driver.js"), url + "/", str(wav),
                               str(tmp_path / "page.png")], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "NODE_PATH": str(ROOT / ".cache/apps/node_modules")})
    finally:
        server.terminate()
        server.communicate(timeout=60)
    assert page.returncode == 0, page.stderr[-3000:]
    shown = json.loads(page.stdout)
    assert shown["errors"] == []
    for source in ("file", "microphone"):
        got = shown[source]
        assert got["state"] == "done", (source, got)
        assert got["server"] == expected["label"] and got["browser"] == got["server"], (source, got)
        assert got["segments"] >= 1 and "same label" in got["browserTime"], (source, got)
    assert shown["file"]["status"].startswith(f"recording.wav: {expected['duration_s']:g} s")
    assert shown["microphone"]["status"].startswith("microphone: 3 s"), shown["microphone"]
    png = (tmp_path / "page.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000  # kept with the test's files


def test_the_page_loads_nothing_from_elsewhere():
    """No CDN: every script the page names is one of the server's own routes."""
    html = (ROOT / "pipeline/runtime/page.html").read_text()
    sources = re.findall(r"""(?:src=["']|loadScript\(['"])([^"']+)""", html)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "http://" not in html and "https://" not in html
