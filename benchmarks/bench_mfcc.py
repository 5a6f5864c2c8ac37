"""Benchmark the MFCC front ends against the per-clip librosa definition.

    .venv/bin/python benchmarks/bench_mfcc.py [--clips 300] [--runs 3] [--latency-runs 200]
                                              [--json out.json] [--skip-graphs]

Times, in one process and single-threaded (BLAS, LiteRT and onnxruntime pinned to one thread):
  * a per-clip loop of `mfcc_reference` (librosa) vs `mfcc_batch` on one core and on every core
    over the same seeded clips (median of --runs runs each, interleaved; one untimed warm-up call
    each first, because librosa's first call imports numba and friends, which costs seconds);
  * the TFLite and ONNX front ends on a single clip (p50 over --latency-runs invokes).
Prints ms/clip, the speed-up and the max abs difference of each path against the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# One BLAS thread for both sides of the comparison (and to leave the other core alone).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from pipeline.audio.mfcc import MfccConfig, mfcc_batch, mfcc_reference  # noqa: E402
from pipeline.io import atomic_write_text  # noqa: E402
from pipeline.params import load_params  # noqa: E402


def make_clips(n: int, cfg: MfccConfig, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """Seeded mix: white noise, pure tones, tone chords, chirps, noisy decays, at -120..0 dBFS."""
    rng = np.random.default_rng(seed)
    n_samples = int(round(seconds * cfg.sample_rate))
    t = np.arange(n_samples) / cfg.sample_rate
    nyq = cfg.sample_rate / 2
    clips = np.empty((n, n_samples), dtype=np.float32)
    for i in range(n):
        kind = i % 5
        if kind == 0:
            x = rng.standard_normal(n_samples)
        elif kind == 1:
            x = np.sin(2 * np.pi * rng.uniform(30, nyq - 50) * t + rng.uniform(0, 2 * np.pi))
        elif kind == 2:
            x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
                    for f in rng.uniform(50, nyq - 100, size=3)) / 3
        elif kind == 3:
            f0, f1 = rng.uniform(50, nyq - 100, size=2)
            x = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * seconds)))
        else:
            x = (np.exp(-rng.uniform(1, 20) * t) * np.sin(2 * np.pi * rng.uniform(100, 4000) * t)
                 + 1e-3 * rng.standard_normal(n_samples))
        gain = 10 ** (rng.uniform(-120, 0) / 20)
        clips[i] = (gain * x / max(np.abs(x).max(), 1e-12)).astype(np.float32)
    return clips


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _p50_us(fn, runs: int) -> float:
    for _ in range(10):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def bench_numpy(clips: np.ndarray, cfg: MfccConfig, runs: int) -> dict:
    """The per-clip librosa loop against mfcc_batch on one core and on every core (the features
    stage runs it on every core), interleaved run by run so that load changes hit all three."""
    n = len(clips)
    cores = len(os.sched_getaffinity(0))
    mfcc_reference(clips[0], cfg)            # warm-up: librosa's lazy imports
    mfcc_batch(clips[:8], cfg)
    paths = {"reference_loop": lambda: np.stack([mfcc_reference(c, cfg) for c in clips]),
             "batch_1_core": lambda: mfcc_batch(clips, cfg, workers=1),
             f"batch_{cores}_cores": lambda: mfcc_batch(clips, cfg, workers=None)}
    times = {name: [] for name in paths}
    values = {}
    for _ in range(runs):
        for name, fn in paths.items():
            elapsed, values[name] = _timed(fn)
            times[name].append(elapsed)
    ms = {name: statistics.median(t) / n * 1e3 for name, t in times.items()}
    ref = values["reference_loop"]
    return {
        "clips": n, "cores": cores,
        "ms_per_clip": ms,
        "speedup": {name: ms["reference_loop"] / v for name, v in ms.items() if name != "reference_loop"},
        "runs_s": times,
        "max_abs_diff": {name: float(np.abs(v - ref).max()) for name, v in values.items() if name != "reference_loop"},
        "bit_identical": {name: bool(np.array_equal(v, ref)) for name, v in values.items() if name != "reference_loop"},
    }, ref


def bench_tflite(clips: np.ndarray, ref: np.ndarray, cfg: MfccConfig, runs: int) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    from pipeline.audio.mfcc_graph import non_builtin_ops, tflite_mfcc_model_bytes, tflite_op_names

    model = tflite_mfcc_model_bytes(cfg, clips.shape[1])
    ops = tflite_op_names(model)
    interp = Interpreter(model_content=model, num_threads=1)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    diff = 0.0
    for clip, r in zip(clips, ref):
        interp.set_tensor(inp, clip[None])
        interp.invoke()
        diff = max(diff, float(np.abs(interp.get_tensor(out)[0] - r).max()))
    one = clips[:1]

    def call():
        interp.set_tensor(inp, one)
        interp.invoke()
        interp.get_tensor(out)

    return {"p50_us": _p50_us(call, runs), "max_abs_diff": diff, "bytes": len(model),
            "ops": sorted(set(ops)), "non_builtin_ops": non_builtin_ops(ops)}


def bench_onnx(clips: np.ndarray, ref: np.ndarray, cfg: MfccConfig, runs: int,
               stft_dtype: str) -> dict:
    import onnxruntime as ort

    from pipeline.audio.mfcc_graph import onnx_mfcc_model

    model = onnx_mfcc_model(cfg, clips.shape[1], stft_dtype=stft_dtype)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    got = np.concatenate([sess.run(None, {"waveform": clips[i:i + 64]})[0]
                          for i in range(0, len(clips), 64)])
    one = {"waveform": clips[:1]}
    return {"p50_us": _p50_us(lambda: sess.run(None, one), runs),
            "max_abs_diff": float(np.abs(got - ref).max()),
            "bytes": model.ByteSize(), "stft_dtype": stft_dtype}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--latency-runs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--skip-graphs", action="store_true", help="numpy only (no TF/ORT import)")
    args = ap.parse_args(argv)

    cfg = MfccConfig.from_params(load_params())  # the project's front end (params.yaml)
    clips = make_clips(args.clips, cfg, seed=args.seed)
    res, ref = bench_numpy(clips, cfg, args.runs)
    print(f"clips: {args.clips} x {clips.shape[1]} samples, cfg: {cfg}")
    for name, v in res["ms_per_clip"].items():
        line = f"{name:<22} {v:.3f} ms/clip (median of {args.runs})"
        if name in res["speedup"]:
            line += (f"  speed-up {res['speedup'][name]:.1f}x  max abs diff {res['max_abs_diff'][name]:.3g}"
                     f"  bit-identical: {res['bit_identical'][name]}")
        print(line)
    result = {"config": cfg.__dict__, "numpy": res}
    if not args.skip_graphs:
        tfl = bench_tflite(clips, ref, cfg, args.latency_runs)
        print(f"TFLite front end: p50 {tfl['p50_us']:.1f} us/clip (1 thread), max abs diff "
              f"{tfl['max_abs_diff']:.3g}, {tfl['bytes']} bytes, non-builtin ops: "
              f"{tfl['non_builtin_ops'] or 'none'}")
        result["tflite"] = tfl
        for dtype in ("float64", "float32"):
            onx = bench_onnx(clips, ref, cfg, args.latency_runs, dtype)
            print(f"ONNX front end (STFT {dtype}): p50 {onx['p50_us']:.1f} us/clip (1 thread), "
                  f"max abs diff {onx['max_abs_diff']:.3g}, {onx['bytes']} bytes")
            result[f"onnx_stft_{dtype}"] = onx
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2, default=float) + "\n")
    return result


if __name__ == "__main__":
    main()
