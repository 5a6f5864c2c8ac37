"""The app kind's runner: each variant run by a runtime an app bundles, through that runtime's reference consumer
(pipeline/targets/app_js, app_c): no Python between the file and the probabilities. As an app does, the consumer
decodes 16-bit PCM WAVs (end-to-end variants) or reads float32 MFCCs (feature-input ones), quantizes a quantized
input and dequantizes a quantized output with the sidecar's scale and zero point.

Per variant: whether it loads (else `failed`, with the runtime's own words), its answers against the Python
runtime's on the very same decoded inputs (top-1 agreement, the largest probability difference), latency p50/p99
of one call per clip after warm-up, and the load time. A format the runtime does not run is not_applicable."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from pipeline.bench.child_env import apps_modules, harness_env
from pipeline.bench.runtimes import RUNTIMES
from pipeline.errors import TargetUnavailable
from pipeline.log import info
from pipeline.quiet import native_stderr_held
from pipeline.runtime.bundle import open_bundle
from pipeline.targets.app import APP_RUNTIMES, AppRuntime, consumer_args
from pipeline.variants import is_e2e

PROVISION = "run `make setup` (scripts/provision_apps.sh installs the app runtimes from npm)"
TIMEOUT_S = 1800


def _package_version(package: str) -> str:
    meta = apps_modules() / package / "package.json"
    if not meta.is_file():
        raise TargetUnavailable(f"the npm package {package} is not provisioned ({meta} is missing); {PROVISION}")
    return json.loads(meta.read_text())["version"]


def chromium() -> str:
    return os.environ.get("CHROMIUM", "/usr/bin/chromium")


def tool_versions() -> dict[str, str]:
    """What decides the figures besides the code: each runtime's package, Node.js, the C compiler, Chromium."""
    out = {}
    for package in sorted({r.package for r in APP_RUNTIMES.values()} | {"playwright-core"}):
        try:
            out[package] = _package_version(package)
        except TargetUnavailable:
            out[package] = "missing"
    for tool, command in (("node", "node"), ("gcc", "gcc"), ("chromium", chromium())):
        try:
            out[tool] = subprocess.run([command, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            out[tool] = "missing"
    return out


def check_provisioned(runtime: AppRuntime) -> Path | None:
    """The runtime's package (and Chromium) are here, or TargetUnavailable naming the fix; the C library's folder."""
    _package_version(runtime.package)
    if runtime.browser and not os.access(chromium(), os.X_OK):
        raise TargetUnavailable(f"{runtime.name} runs in Chromium, and {chromium()} is missing; run `make setup` "
                                "(scripts/install_browser.sh installs Debian's chromium)")
    if runtime.consumer.suffix != ".c":
        return None
    lib = apps_modules() / runtime.package / "cc_deps" / {"x86_64": "linux_amd64", "aarch64": "linux_arm64"}.get(
        platform.machine(), platform.machine())
    if not (lib / "libtensorflowlite_c.so").is_file():
        raise TargetUnavailable(f"{runtime.package} ships no TFLite C library for {platform.machine()} ({lib})")
    return lib


def consumer_command(runtime: AppRuntime, bundle: Path, lib: Path | None, workdir: Path) -> list[str]:
    """The command of the consumer copy inside the bundle (what an app developer copies); the C one compiled
    here against the library, once per distinct source."""
    source = bundle / runtime.consumer.name
    if not source.is_file():
        raise RuntimeError(f"the bundle has no {source.name}: rebuild it with `dvc repro convert`")
    if lib is None:
        return ["node", str(source)]
    exe = workdir / f"{runtime.consumer.stem}_{hashlib.sha256(source.read_bytes()).hexdigest()[:12]}"
    if not exe.is_file():
        build = subprocess.run(["gcc", "-O2", "-o", str(exe), str(source), f"-I{lib.parent / 'include'}", f"-L{lib}",
                                "-ltensorflowlite_c", "-lm", f"-Wl,-rpath,{lib}"], capture_output=True, text=True)
        if build.returncode != 0:
            raise TargetUnavailable(f"cannot build {source.name} (gcc): {build.stderr[-1500:]}")
    return [str(exe)]


def pcm16(clip: np.ndarray) -> np.ndarray:
    """A clip as a microphone delivers it: 16-bit PCM (full scale 32768, clipped)."""
    return np.clip(np.round(clip.astype(np.float64) * 32768), -32768, 32767).astype("<i2")


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


class ClipFiles:
    """The test inputs as files the consumer reads, and what it decodes from them (the Python side's inputs):
    written once per content, clip count and form, whichever level's copy of the inputs file names it, into a
    folder that lives as long as the process (inside the stage's scratch folder in a stage)."""

    def __init__(self):
        self.made: dict[tuple, tuple[tuple[str, ...], np.ndarray]] = {}
        self.folder: tempfile.TemporaryDirectory | None = None

    def __call__(self, inputs: str, clips: int | None, e2e: bool, rate: int) -> tuple[tuple[str, ...], np.ndarray]:
        key = (hashlib.sha256(Path(inputs).read_bytes()).hexdigest(), clips, e2e, rate)
        if key not in self.made:
            self.folder = self.folder or tempfile.TemporaryDirectory(prefix="app-clips-")
            folder = Path(self.folder.name) / f"clips_{len(self.made)}"
            self.made[key] = _write_clips(np.load(inputs)[:clips], e2e, rate, folder)
        return self.made[key]


clip_files = ClipFiles()


def _write_clips(x: np.ndarray, e2e: bool, rate: int, folder: Path) -> tuple[tuple[str, ...], np.ndarray]:
    folder.mkdir()
    paths = []
    for i, clip in enumerate(x):
        if e2e:
            paths.append(folder / f"{i:05d}.wav")
            write_wav(paths[-1], pcm16(clip), rate)
        else:
            paths.append(folder / f"{i:05d}.f32")
            clip.astype("<f4").tofile(paths[-1])
    decoded = (np.stack([pcm16(c) for c in x]).astype(np.float32) / 32768) if e2e else x.astype(np.float32)
    return tuple(map(str, paths)), decoded


def python_probabilities(job: dict, meta: dict, x: np.ndarray, threads: int) -> np.ndarray:
    """The Python runtime's answers on the same decoded inputs, dequantized as the consumer does."""
    with native_stderr_held():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line (shown if it fails)
        run, _ = RUNTIMES[job["runtime"]].load(job["artefact"], threads)
    shape = meta["input"]["shape"]
    out = np.stack([np.asarray(run(c.reshape(shape).astype(np.float32))).reshape(-1) for c in x]).astype(np.float64)
    o = meta["output"]
    return o["scale"] * (out - o["zero_point"]) if o["scale"] else out


@contextlib.contextmanager
def consumer_env(threads: int):
    """The consumers' environment: a short TMPDIR of its own (Chromium's singleton socket lives under it, and a
    Unix socket's path must fit in 108 bytes: a stage's scratch folder in a deep checkout does not)."""
    with tempfile.TemporaryDirectory(prefix="app-", dir="/tmp") as short:
        yield {**harness_env(threads), "NODE_PATH": str(apps_modules()), "TMPDIR": short}


def parse_output(lines: list[str]) -> dict:
    """A consumer's output: version, load time, then per clip the call's latency and the probabilities."""
    rows = np.array([[float(v) for v in line.split()] for line in lines[2:]])
    return {"version": lines[0].removeprefix("version "), "load_us": float(lines[1].removeprefix("load_us ")),
            "latency_us": rows[:, 0], "probabilities": rows[:, 1:]}


def run_consumer(command: list[str], args: list[str], env: dict) -> dict:
    """One bundle's consumer in a process of its own: its answers; raises on its failure."""
    res = subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    if res.returncode != 0:
        said = [line for line in res.stderr.splitlines() if line.strip() and not line.startswith("INFO: ")]
        raise RuntimeError(" ".join(said[-3:])[-1500:] or f"exit code {res.returncode}")
    return parse_output(res.stdout.splitlines())


def run_driver(driver: Path, calls: dict[str, tuple[list[str], list[str]]], env: dict,
               workdir: Path) -> dict[str, dict | Exception]:
    """Many bundles' consumers in one process of the runtime's driver: each one's answers or its error."""
    jobs = workdir / "driver_jobs.json"
    jobs.write_text(json.dumps([{"id": i, "consumer": cmd[-1], "args": args} for i, (cmd, args) in calls.items()]))
    res = subprocess.run(["node", str(driver), str(jobs)], capture_output=True, text=True, env=env,
                         timeout=TIMEOUT_S * max(1, len(calls)))
    done = {}
    for line in res.stdout.splitlines():
        got = json.loads(line)
        done[got["id"]] = RuntimeError(got["error"][-1500:]) if "error" in got else parse_output(got["lines"])
    said = res.stderr.strip().splitlines()[-1:] or [f"exit code {res.returncode}"]
    return {i: done.get(i, RuntimeError(f"{driver.name} stopped before it: {said[0][-1500:]}")) for i in calls}


def entry(runtime: AppRuntime, got: dict, python: np.ndarray) -> dict:
    pred, ref = got["probabilities"].argmax(1), python.argmax(1)
    lat = got["latency_us"]
    return {"status": "ok", "runtime": runtime.name, "runtime_version": got["version"], "language": runtime.language,
            "clips": len(pred), "predictions": pred.tolist(),
            "python_agreement": round(float(np.mean(pred == ref)), 6), "python_mismatches": int(np.sum(pred != ref)),
            "max_probability_diff": round(float(np.abs(got["probabilities"] - python).max()), 6),
            "latency_p50_us": round(float(np.percentile(lat, 50)), 1),
            "latency_p99_us": round(float(np.percentile(lat, 99)), 1), "load_us": round(got["load_us"], 1)}


def measure(name: str, target, spec: dict, workdir: Path) -> dict[str, dict]:
    runtime = APP_RUNTIMES[target.runtime]
    lib = check_provisioned(runtime)
    with consumer_env(spec["threads"]) as env:
        return _measure_each(name, target, spec, workdir, runtime, lib, env)


def _measure_each(name: str, target, spec: dict, workdir: Path, runtime: AppRuntime, lib: Path | None,
                  env: dict) -> dict[str, dict]:
    records, calls, inputs = {}, {}, {}
    for job in spec["jobs"]:
        if job["format"] not in runtime.formats:
            records[job["id"]] = {"status": "not_applicable",
                                  "reason": f"{runtime.name} runs {', '.join(runtime.formats)} files, not {job['format']}"}
            continue
        meta = open_bundle(Path(job["artefact"]).parent).meta
        files, x = clip_files(job["inputs"], target.clips, is_e2e(job["model"]),
                              int(meta["features"]["sample_rate"]))
        command = consumer_command(runtime, Path(job["artefact"]).parent, lib, workdir)
        calls[job["id"]] = command, [*consumer_args(meta, job["artefact"], spec["warmup"], spec["threads"]), *files]
        inputs[job["id"]] = job, meta, x
    if runtime.driver and calls:  # the driver's process is started once for the level
        answers = run_driver(runtime.driver, calls, env, workdir)
    else:
        answers = {i: _answer(lambda c=c: run_consumer(*c, env)) for i, c in calls.items()}
    for vid, got in answers.items():
        job, meta, x = inputs[vid]
        if isinstance(got, Exception):
            records[vid] = {"status": "failed", "reason": f"{runtime.name}: {got}"}
            info(f"benchmark@{name}-{spec['level']}: {vid}: failed: {got}")
            continue
        records[vid] = e = entry(runtime, got, python_probabilities(job, meta, x, spec["threads"]))
        info(f"benchmark@{name}-{spec['level']}: {vid}: top-1 agreement with Python {e['python_agreement']:.1%} "
             f"on {e['clips']} clips, p50 {e['latency_p50_us']:,.0f} us")
    return records


def _answer(run) -> dict | Exception:
    try:
        return run()
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        return err
