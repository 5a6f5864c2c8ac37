"""`python -m pipeline serve` on the tiny profile's end-to-end bundles, on loopback: its answers are classify's,
every class of bad input gets its 4xx with classify's message while good requests keep succeeding, a SIGTERM
finishes every accepted request before the process exits, and a hostile client cannot stall it: a compressed
bomb is refused from its header, stalled uploads time out, disconnects are one line each."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

pytestmark = pytest.mark.e2e

PY = str(ROOT / ".venv" / "bin" / "python")


def _bundle(project: Path) -> Path:
    return project / "models/variants/int8/keras_e2e.tflite.int8"


def _wav(samples: np.ndarray, rate: int, subtype: str = "FLOAT") -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def _audio(project: Path, clips: int = 2) -> np.ndarray:
    from pipeline import io as pio

    return pio.read_npz(project / "data/audio_splits.npz")["test"][:clips].reshape(-1).astype(np.float32)


@pytest.fixture(scope="module")
def client(built_project: Path):
    from starlette.testclient import TestClient

    from pipeline.runtime.serve import create_app

    app = create_app(_bundle(built_project), concurrency=2, max_body_bytes=400_000, max_seconds=5.0)
    with TestClient(app) as c:
        yield c


def test_answers_equal_classify(client, built_project: Path):
    from pipeline.runtime.classify import classify

    audio = _audio(built_project)
    expected = classify(_bundle(built_project), audio, 16000)
    wav = client.post("/v1/classify", content=_wav(audio, 16000), headers={"Content-Type": "audio/wav"})
    raw = client.post("/v1/classify?rate=16000&format=f32le", content=audio.astype("<f4").tobytes(),
                      headers={"Content-Type": "application/octet-stream"})
    for res in (wav, raw):
        assert res.status_code == 200, res.text
        got = res.json()
        assert got["server_ms"] > 0 and got["variant"] == "keras_e2e.tflite.int8"
        for key in ("label", "scores", "timeline"):
            assert got[key] == expected[key], key
        assert [h["scores"] for h in got["hops"]] == [h["scores"] for h in expected["hops"]]
    assert client.get("/v1/model").json()["variant"] == "keras_e2e.tflite.int8"
    assert client.get("/healthz").json()["status"] == "ok"


def test_every_bad_input_gets_its_4xx_and_the_server_keeps_serving(client, built_project: Path):
    audio = _audio(built_project)
    nan = audio.copy()
    nan[:100] = np.nan
    wav = {"Content-Type": "audio/wav"}
    cases = [  # (status, body, headers, query, what the message says)
        (415, b"hello", {"Content-Type": "text/plain"}, "", "Content-Type 'text/plain'"),
        (400, b"RIFF nonsense", wav, "", "not audio"),
        (400, b"\0" * 8, {"Content-Type": "application/octet-stream"}, "?rate=16000&format=mp3", "allowed: ['f32le'"),
        (400, b"\0" * 8, {"Content-Type": "application/octet-stream"}, "?format=f32le", "rate and channels"),
        (400, b"\0" * 7, {"Content-Type": "application/octet-stream"}, "?rate=16000&format=f32le", "whole number"),
        (413, b"\0" * 400_004, {"Content-Type": "application/octet-stream"}, "?rate=16000&format=f32le",
         "allowed: up to 400000 bytes"),
        (413, _wav(np.zeros(16000 * 6, np.float32), 16000, "PCM_16"), wav, "", "allowed: up to 5 s"),
        (422, _wav(audio[::2], 8000), wav, "", "expected 16000 Hz, got 8000 Hz (this server does not resample"),
        (422, _wav(nan, 16000), wav, "", "100 of 32000 samples are NaN"),
        (422, _wav(audio * 3, 16000), wav, "", "samples reach"),
    ]
    good = _wav(audio, 16000)
    for status, body, headers, query, said in cases:
        res = client.post(f"/v1/classify{query}", content=body, headers=headers)
        assert res.status_code == status and said in res.json()["error"], (status, said, res.text)
        ok = client.post("/v1/classify", content=good, headers=wav)
        assert ok.status_code == 200, ok.text


def test_sigterm_finishes_every_accepted_request(built_project: Path):
    import httpx

    proc = subprocess.Popen([PY, "-m", "pipeline", "serve", str(_bundle(built_project)), "--port", "0",
                             "--concurrency", "1", "--hop-ms", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=built_project)
    try:
        url = proc.stdout.readline().strip().removeprefix("listening on ")
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
        body = _wav(_audio(built_project, clips=10), 16000)  # 181 inferences each: queued behind one runtime
        results: list[int] = []
        finished: list[float] = []

        def send():
            with httpx.Client(timeout=60) as c:
                results.append(c.post(f"{url}/v1/classify", content=body,  # no-cache: each one runs the model
                                      headers={"Content-Type": "audio/wav", "Cache-Control": "no-cache"}).status_code)
                finished.append(time.monotonic())

        assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200
        threads = [threading.Thread(target=send) for _ in range(6)]
        for t in threads:
            t.start()
        threading.Event().wait(0.3)  # the requests are accepted and queued behind one runtime
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(timeout=90)
        assert results == [200] * 6
        assert sum(t > signalled for t in finished) >= 2, "the signal came after the requests: nothing was in flight"
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it is done
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def three_hours_of_flac(tmp_path_factory) -> bytes:
    """Three hours of silence as FLAC: about half a megabyte that would decode to 691 MB of float32."""
    import soundfile as sf

    path = tmp_path_factory.mktemp("bomb") / "silence.flac"
    minute = np.zeros(16000 * 60, np.int16)
    with sf.SoundFile(path, "w", samplerate=16000, channels=1, format="FLAC", subtype="PCM_16") as f:
        for _ in range(180):
            f.write(minute)
    return path.read_bytes()


class Server:
    """`python -m pipeline serve` on a free loopback port, with a short body timeout; stderr kept."""

    def __init__(self, project: Path, *extra: str):
        self.proc = subprocess.Popen([PY, "-m", "pipeline", "serve", str(_bundle(project)), "--port", "0",
                                      "--concurrency", "1", "--body-timeout-s", "1", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project)
        self.url = self.proc.stdout.readline().strip().removeprefix("listening on ")
        assert self.url.startswith("http://127.0.0.1:"), self.proc.stderr.read()
        self.port = int(self.url.rsplit(":", 1)[1])

    def upload_start(self, length: int = 100_000, first: bytes = b"RIFF") -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: localhost\r\nContent-Type: audio/wav\r\n"
                  + f"Content-Length: {length}\r\n\r\n".encode() + first)
        return s

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return err


def test_a_compressed_bomb_is_refused_from_its_header_without_decoding(built_project: Path, three_hours_of_flac):
    import httpx
    import psutil

    assert len(three_hours_of_flac) < 4 << 20  # within the body limit: only its length can refuse it
    server = Server(built_project)
    try:
        rss, health, answers = [], [], []

        def bomb():
            with httpx.Client(timeout=60) as c:
                answers.append(c.post(f"{server.url}/v1/classify", content=three_hours_of_flac,
                                      headers={"Content-Type": "audio/wav"}))

        bombers = [threading.Thread(target=bomb) for _ in range(4)]
        for t in bombers:
            t.start()
        with httpx.Client(timeout=5) as c:
            while any(t.is_alive() for t in bombers) or not health:
                start = time.monotonic()
                assert c.get(f"{server.url}/healthz").status_code == 200
                health.append(time.monotonic() - start)
                rss.append(psutil.Process(server.proc.pid).memory_info().rss)
        for t in bombers:
            t.join()
        assert [a.status_code for a in answers] == [413] * 4
        assert all("10,800.0 s" in a.json()["error"] and "before decoding" in a.json()["error"] for a in answers)
        assert max(rss) < 200 << 20, max(rss)
        assert max(health) < 0.2, health
    finally:
        err = server.stop()
    assert "Traceback" not in err, err[-3000:]


def test_stalled_uploads_time_out_and_disconnects_are_one_line_each(built_project: Path):
    import httpx

    server = Server(built_project)
    try:
        stalled = [server.upload_start() for _ in range(100)]  # headers and 4 bytes of 100,000, then nothing
        start = time.monotonic()
        answers = [s.recv(64) for s in stalled]
        waited = time.monotonic() - start
        for s in stalled:
            s.close()
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers), set(answers)
        assert waited < 15, waited
        for _ in range(100):  # a client that goes away mid-upload
            server.upload_start(first=b"RIFF" + b"\0" * 1000).close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # served again once every disconnect was seen
            if httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                break
        time.sleep(1.0)
    finally:
        err = server.stop()
    assert "Traceback" not in err and "Exception in ASGI" not in err, err[-3000:]
    assert err.count("disconnected during its upload") == 100, err[-3000:]


def test_batched_answers_equal_one_by_one_and_the_cache_answers_repeats(built_project: Path):
    """--max-batch gathers concurrent requests' windows into one call (skl2onnx's SVC graph takes a batch): every
    answer equals classify's one-by-one answer. A repeated recording and digital silence come from the answer
    cache (identical answers); `Cache-Control: no-cache` runs the model; a fixed-batch artefact says so."""
    import asyncio

    import httpx

    from pipeline.runtime.classify import classify
    from pipeline.targets.http_run import Server

    bundle = built_project / "models/variants/fp32/svc_e2e.onnx.fp32"
    clips = _audio(built_project, 12).reshape(12, -1)
    expected = [classify(bundle, c, 16000)["hops"] for c in clips]
    server = Server(bundle, 1, 1, "--max-batch", "4", "--max-wait-ms", "20")
    try:
        url = f"{server.url}/v1/classify"

        async def all_at_once(headers: dict) -> list[dict]:
            async with httpx.AsyncClient(timeout=60) as c:
                answers = await asyncio.gather(*(c.post(url, content=_wav(x, 16000), headers=headers) for x in clips))
            return [a.json()["hops"] for a in answers]

        fresh = {"Content-Type": "audio/wav", "Cache-Control": "no-cache"}
        for got, want in zip(asyncio.run(all_at_once(fresh)), expected):
            assert [h["scores"] for h in got] == [h["scores"] for h in want]
        stats = server.stats()
        assert stats["batching"]["takes_batch"] and stats["batching"]["windows"] == 12
        assert stats["batching"]["calls"] < 12, stats  # at least one call ran more than one window
        assert stats["cache"]["hits"] == stats["cache"]["misses"] == 0  # no-cache: the model ran every time

        silence = np.zeros(16000, np.float32)
        plain = {"Content-Type": "audio/wav"}
        answers = [httpx.post(url, content=_wav(x, 16000), headers=plain, timeout=60).json()
                   for x in (clips[0], clips[0], silence, silence)]
        assert [h["scores"] for h in answers[0]["hops"]] == [h["scores"] for h in answers[1]["hops"]]
        assert answers[2]["scores"] == answers[3]["scores"]
        assert [h["scores"] for h in answers[0]["hops"]] == [h["scores"] for h in expected[0]]
        cache = server.stats()["cache"]
        assert (cache["hits"], cache["misses"], cache["entries"]) == (2, 2, 2), cache
    finally:
        server.stop()

    fixed = Server(_bundle(built_project), 1, 1, "--max-batch", "4")
    try:
        assert fixed.stats()["batching"]["takes_batch"] is False
    finally:
        fixed.stop()
    assert "takes one window per call (its input's batch dimension is fixed at 1)" in fixed.proc.stderr.read()
