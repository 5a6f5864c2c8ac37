"""The http kind's runner, the remote alternative to on-device inference: each end-to-end variant served by
`python -m pipeline serve` on 127.0.0.1 (a free port) and driven by the open-loop load generator
(pipeline/targets/http_load.py) at every offered rate, then at saturation (closed loop) without and with batching,
then through the answer cache (a repeated recording, digital silence). Only what is measured is recorded: the
round trip and the budgets are the report's (pipeline/targets/http_report.py)."""

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
WAV = {"Content-Type": "audio/wav"}
MEASURED = {**WAV, "Cache-Control": "no-cache"}  # every timed request runs the model, never the answer cache


def _wav(clip: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, clip.astype(np.float32), rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


class Server:
    """`python -m pipeline serve` in a subprocess, on a free loopback port; stopped with SIGTERM."""

    def __init__(self, folder: Path, concurrency: int, threads: int, *options: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.runtime.serve", str(folder), "--port", "0",
                                      "--concurrency", str(concurrency), *options], cwd=PROJECT_ROOT,
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

    def peak_rss_mb(self) -> float:
        """The process's resident-memory high-water mark so far (VmHWM)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        raise PipelineError("no VmHWM in /proc: the peak resident memory needs Linux")

    def stats(self) -> dict:
        import httpx

        return httpx.get(f"{self.url}/v1/stats", timeout=30).json()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def _saturation(server: Server, target, body: bytes) -> dict:
    from pipeline.targets.http_load import saturate

    cpu0 = server.cpu_s()
    r = saturate(f"{server.url}/v1/classify", target.saturation_clients, target.saturation_requests, body, MEASURED)
    cpu = server.cpu_s() - cpu0
    r["server_cpu_ms_per_request"] = round(cpu * 1e3 / max(1, r["ok"]), 3)
    r["cores_used"] = round(cpu / r["elapsed_s"], 3)
    r["rps_per_core"] = round(r["ok"] / cpu, 1) if cpu > 0 else None
    return r


def _cache_phase(server: Server, body: bytes, silence: bytes, repeats: int = 10) -> dict:
    """The same recording and digital silence, each sent `repeats` times as clients would (no Cache-Control)."""
    import httpx

    before = server.stats()["cache"]
    if before is None:
        return {"status": "not_applicable", "reason": "the server runs without an answer cache (--cache-mb 0)"}
    with httpx.Client(timeout=60) as c:
        for payload in [body] * repeats + [silence] * repeats:
            c.post(f"{server.url}/v1/classify", content=payload, headers=WAV).raise_for_status()
    after = server.stats()["cache"]
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    return {"requests": 2 * repeats, "hits": hits, "misses": misses,
            "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None, "bytes": after["bytes"]}


def load_test(target, folder: Path, clip: np.ndarray, sample_rate: int, threads: int) -> dict:
    import httpx

    from pipeline.targets.http_load import Payload, open_loop

    server = Server(folder, target.concurrency, threads)
    try:
        url = f"{server.url}/v1/classify"
        body, silence = _wav(clip, sample_rate), _wav(np.zeros_like(clip), sample_rate)
        with httpx.Client(timeout=60) as c:  # warm-up, untimed: the first answers also give the expected label
            label = [c.post(url, content=body, headers=MEASURED).json()["label"] for _ in range(3)][-1]
        good, bad = Payload(body, MEASURED, "ok", label), Payload(b"RIFF not a wav file", WAV, "refused")
        per_rate = []
        for rate in target.rates:
            cpu0 = server.cpu_s()
            r = open_loop(url, rate, target.requests, good, bad, BAD_EVERY)
            r["server_cpu_ms_per_request"] = round((server.cpu_s() - cpu0) * 1e3 / max(1, r["answered"]), 3)
            per_rate.append(r)
        unbatched = _saturation(server, target, body)
        cache = _cache_phase(server, body, silence)
        batchable = server.stats()["batching"]["takes_batch"]
        rss = [server.peak_rss_mb()]
    finally:
        code = server.stop()
    if batchable:
        batched_server = Server(folder, target.concurrency, threads, "--max-batch", str(target.max_batch),
                                "--max-wait-ms", str(target.max_wait_ms))
        try:
            batched = {**_saturation(batched_server, target, body), **batched_server.stats()["batching"]}
            rss.append(batched_server.peak_rss_mb())
        finally:
            stopped = batched_server.stop()  # always stopped, whatever the first server's exit code
            code = code or stopped
    else:
        batched = {"status": "not_applicable", "reason": "the artefact's input has a fixed batch of 1: one window "
                                                         "per call"}
    lowest = min(per_rate, key=lambda r: r["offered_rps"])
    return {"status": "ok", "rates": per_rate, "errors": sum(r["errors"] for r in per_rate),
            "lost": sum(r["lost"] for r in per_rate), "server_exit_code": code,
            "loopback_p99_us": None if lowest["p99_ms"] is None else round(lowest["p99_ms"] * 1e3, 3),
            "saturation": unbatched, "saturation_batched": batched,
            "batching_speedup": round(batched["throughput_rps"] / unbatched["throughput_rps"], 3)
            if "throughput_rps" in batched and unbatched["throughput_rps"] else None,
            "answer_cache": cache, "server_peak_rss_mb": max(rss)}


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

