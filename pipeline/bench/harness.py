"""The measuring loop. Runs in any Python that has numpy and the runtimes: the host's,
or the emulated aarch64 one, and returns the same record either way.

    python -m pipeline.bench.harness JOBS.json OUT.json

JOBS.json: {"threads", "warmup", "runs", "load_repeats", "count_inputs", "jobs": [
             {"id", "runtime", "artefact", "inputs" (.npy), "input": {shape, dtype, scale, zero_point}}]}
OUT.json:  {"machine", "python", "records": {id: record}}

Per job: load time (median of load_repeats), top-1 predictions for every input
(one sample at a time, as a device would see them), latency of `runs` single-sample
calls after `warmup`, and, when count_inputs > 0, one marked region per call on each of
the first count_inputs inputs for the instruction-counting plugin. With
"reference_kernels" in a job, also the
top-1 of every input on the runtime's reference kernels (the graph's own semantics), so that
an optimised kernel that changes the answers (x86 int8 without VNNI saturates) is caught. Peak RSS is the process's, so the host
runs one job per process.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import resource
import sys
import time
from importlib.metadata import version

import numpy as np

from pipeline.bench import region
from pipeline.bench.runtimes import RUNTIMES


class InputMismatch(ValueError):
    """The inputs do not fit the artefact: wrong length, dtype or values. Never reshaped or clipped silently."""


class LoadFailure(RuntimeError):
    """The artefact could not be loaded by its runtime: the message names the variant and the file."""


def check_values(x: np.ndarray, value_range: list[float] | None) -> None:
    """Finite samples, inside the range the input takes (raw audio: [-1, 1])."""
    finite = np.isfinite(x)
    if not finite.all():
        raise InputMismatch(f"{int(x.size - finite.sum())} of {x.size} input values are NaN or infinite")
    if value_range is not None and x.size and (x.min() < value_range[0] or x.max() > value_range[1]):
        raise InputMismatch(f"input values span [{x.min():.4g}, {x.max():.4g}], outside {value_range}")


def prepare_inputs(x: np.ndarray, spec: dict) -> list[np.ndarray]:
    """Reshape each sample to the model's input and quantize it when the input is integer.

    Quantizing is done before timing: the timed call is the model, as the app would
    call it with an already-quantized buffer.
    """
    shape = [1, *spec["shape"][1:]]
    dtype = np.dtype(spec["dtype"])
    check_values(x, spec.get("value_range"))
    expected = int(np.prod(shape))
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != expected:
        raise InputMismatch(f"input {spec['name']!r} takes {expected} values per sample (shape {shape}); "
                            f"got samples of shape {list(x.shape[1:])}")
    if x.dtype.kind != "f":
        raise InputMismatch(f"input {spec['name']!r} takes float samples (quantized here when needed); "
                            f"got dtype {x.dtype}")
    out = []
    for sample in x:
        s = sample.reshape(shape).astype(np.float32)
        if spec.get("scale"):
            info = np.iinfo(dtype)
            s = np.clip(np.round(s / spec["scale"]) + spec["zero_point"], info.min, info.max)
        out.append(aligned_copy(s.astype(dtype)))
    return out


def aligned_copy(a: np.ndarray, align: int = 64) -> np.ndarray:
    """A copy starting on a cache-line boundary. Kernels take other paths for unaligned heads and
    tails, so where malloc happens to put an input (it moves with the length of file paths read
    earlier) would otherwise change the instruction count by up to 1%."""
    buf = np.empty(a.nbytes + align, dtype=np.uint8)
    offset = (-buf.ctypes.data) % align
    out = buf[offset:offset + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def feature_parity(features: list[np.ndarray], reference: np.ndarray) -> dict[str, float]:
    """In-graph features vs the training features (librosa per clip), over every input."""
    got = np.concatenate([f.reshape(1, -1) for f in features]).astype(np.float64)
    diff = np.abs(got - reference.reshape(len(reference), -1).astype(np.float64))
    return {"mfcc_max_abs_diff": float(diff.max()), "mfcc_mean_abs_diff": float(diff.mean())}


def latency_stats(samples_ns: list[int]) -> dict[str, float]:
    us = np.asarray(samples_ns, dtype=np.float64) / 1e3
    p50, p90, p99 = np.percentile(us, [50, 90, 99])
    return {"latency_p50_us": round(float(p50), 3), "latency_p90_us": round(float(p90), 3),
            "latency_p99_us": round(float(p99), 3), "latency_mean_us": round(float(us.mean()), 3),
            "latency_std_us": round(float(us.std()), 3)}


def benchmark_record(job: dict, threads: int, warmup: int, runs: int, load_repeats: int,
                     count_inputs: int = 0) -> dict:
    runtime = RUNTIMES[job["runtime"]]
    parity = job.get("parity")
    load_ms = []
    for _ in range(load_repeats):
        t0 = time.perf_counter_ns()
        try:
            run, run_extra = runtime.load(job["artefact"], threads, parity["output"] if parity else None)
        except Exception as err:
            raise LoadFailure(f"{job['id']}: {job['runtime']} cannot load {job['artefact']}: "
                              f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
                              ) from err
        load_ms.append((time.perf_counter_ns() - t0) / 1e6)
    inputs = prepare_inputs(np.load(job["inputs"]), job["input"])
    for i in range(warmup):
        run(inputs[i % len(inputs)])
    # Counted first, straight after loading: nothing that varies from run to run (timings, their
    # floats and lists) has touched the heap yet, so the runtime's allocations land the same way.
    # One region per call, on each of the first `count_inputs` inputs.
    for x in inputs[:count_inputs]:
        region.begin()
        run(x)
        region.end()
    predictions = [int(np.argmax(run(x))) for x in inputs[:job.get("max_predictions") or len(inputs)]]
    reference = {}
    if job.get("reference_kernels"):  # the same file on the runtime's reference kernels, not timed
        run_ref, _ = runtime.load(job["artefact"], threads, None, reference=True)
        reference["reference_predictions"] = [int(np.argmax(run_ref(x))) for x in inputs]
    extra = feature_parity([run_extra(x) for x in inputs], np.load(parity["reference"])) if parity else {}
    timings = []
    gc.disable()  # a collection inside the loop would be charged to whichever call it hit
    try:
        for i in range(runs):
            x = inputs[i % len(inputs)]
            t0 = time.perf_counter_ns()
            run(x)
            timings.append(time.perf_counter_ns() - t0)
    finally:
        gc.enable()
    return {
        "runtime": job["runtime"], "runtime_version": version(runtime.distribution),
        "load_ms": round(float(np.median(load_ms)), 3), **latency_stats(timings),
        "runs": runs, "count_inputs": count_inputs, "predictions": predictions, **reference, **extra,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    spec = json.loads(open(argv[0]).read())
    records = {}
    for job in spec["jobs"]:
        try:
            records[job["id"]] = benchmark_record(job, spec["threads"], spec["warmup"], spec["runs"],
                                                  spec["load_repeats"], spec.get("count_inputs", 0))
        except (LoadFailure, InputMismatch) as err:  # one line naming the variant, not two tracebacks
            print(f"harness: {job['id']}: {err}" if isinstance(err, InputMismatch) else f"harness: {err}",
                  file=sys.stderr)
            return 1
    out = {"machine": platform.machine(), "python": platform.python_version(), "records": records}
    tmp = f"{argv[1]}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
