"""The http kind's runner, the remote alternative to on-device inference: each end-to-end variant served by
`python -m pipeline serve` on 127.0.0.1 (a free port) and driven by the open-loop load generator
(pipeline/targets/http_load.py) at every offered rate. Only what is measured is recorded: the round trip
and the budget are the report's (pipeline/targets/http_report.py)."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from pipeline.bench.child_env import PROJECT_ROOT, harness_env
from pipeline.errors import PipelineError
from pipeline.log import info
from pipeline.variants import is_e2e

START_TIMEOUT_S = 120
BAD_EVERY = 10  # one request in ten carries a payload the server must refuse with a 4xx


def _wav(clip: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, clip.astype(np.float32), rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


class Server:
    """`python -m pipeline serve` in a subprocess, on a free loopback port; stopped with SIGTERM."""

    def __init__(self, folder: Path, concurrency: int, threads: int):
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.runtime.serve", str(folder), "--port", "0",
                                      "--concurrency", str(concurrency)], cwd=PROJECT_ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=harness_env(threads))
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        if not line or not line[0].startswith("listening on "):
            self.stop()
            raise PipelineError(f"the server for {folder.name} did not start: {self.proc.stderr.read()[-2000:]}")
        self.url = line[0].strip().removeprefix("listening on ")

    def cpu_s(self) -> float:
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def load_test(target, folder: Path, clip: np.ndarray, sample_rate: int, threads: int) -> dict:
    import httpx

    from pipeline.targets.http_load import Payload, open_loop

    wav = {"Content-Type": "audio/wav"}
    server = Server(folder, target.concurrency, threads)
    try:
        url = f"{server.url}/v1/classify"
        body = _wav(clip, sample_rate)
        with httpx.Client(timeout=60) as c:  # warm-up, untimed: the first answers also give the expected label
            label = [c.post(url, content=body, headers=wav).json()["label"] for _ in range(3)][-1]
        good, bad = Payload(body, wav, "ok", label), Payload(b"RIFF not a wav file", wav, "refused")
        per_rate = []
        for rate in target.rates:
            cpu0 = server.cpu_s()
            r = open_loop(url, rate, target.requests, good, bad, BAD_EVERY)
            r["server_cpu_ms_per_request"] = round((server.cpu_s() - cpu0) * 1e3 / max(1, r["answered"]), 3)
            per_rate.append(r)
    finally:
        code = server.stop()
    lowest = min(per_rate, key=lambda r: r["offered_rps"])
    return {"status": "ok", "rates": per_rate, "errors": sum(r["errors"] for r in per_rate),
            "lost": sum(r["lost"] for r in per_rate), "server_exit_code": code,
            "loopback_p99_us": None if lowest["p99_ms"] is None else round(lowest["p99_ms"] * 1e3, 3)}


def measure(name: str, target, spec: dict, workdir: Path) -> dict[str, dict]:
    """Entries by variant id: the load test of every end-to-end variant; feature-input ones not_applicable."""
    from pipeline.runtime.bundle import open_bundle

    records = {}
    for job in spec["jobs"]:
        if not is_e2e(job["model"]):
            records[job["id"]] = {"status": "not_applicable",
                                  "reason": "the server takes audio; this variant takes MFCC features"}
            continue
        bundle = open_bundle(Path(job["artefact"]).parent)
        records[job["id"]] = e = load_test(target, bundle.folder, np.load(job["inputs"])[0],
                                           int(bundle.meta["features"]["sample_rate"]), spec["threads"])
        info(f"benchmark@{name}-{spec['level']}: {job['id']}: p99 {e['loopback_p99_us']} us at the lowest rate, "
             f"{e['errors']} errors, {e['lost']} lost")
    return records

