"""The real-time check: 20 ms frames of 960 samples at 48 kHz through the streaming detector of every end-to-end
bundle (resampled to the bundle's rate with soxr, one inference per 20 ms hop), per-frame processing time on
the host against the 20 ms budget.

    .venv/bin/python benchmarks/bench_realtime.py [--seconds 20] [--json out.json] [--levels fp32 int8 ...]

A frame's time is the whole push: resampling, the ring buffer and the inference its hop triggers. The first
second only fills the window (no inference) and is left out. One thread per runtime, as in the benchmark
stage. Reads the workspace's bundles (models/variants/), so run `make repro` first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pipeline import io as pio  # noqa: E402
from pipeline.runtime.bundle import open_bundle  # noqa: E402
from pipeline.runtime.stream import Detector  # noqa: E402
from pipeline.variants import is_e2e, split_variant_id  # noqa: E402

RATE, FRAME, BUDGET_MS = 48000, 960, 20.0


def recording(seconds: float) -> np.ndarray:
    """Test clips end to end, at 48 kHz (soxr), as a microphone would deliver them."""
    import soxr

    test = pio.read_npz(ROOT / "data/audio_splits.npz")["test"]
    audio = np.concatenate(list(test[:int(np.ceil(seconds))])).astype(np.float32)
    return np.clip(soxr.resample(audio, 16000, RATE), -1, 1).astype(np.float32)[:int(seconds * RATE)]


def measure(folder: Path, audio: np.ndarray) -> dict:
    det = Detector(open_bundle(folder), hop_s=FRAME / RATE, rate=RATE, resample=True)
    frame_ms, infer_ms = [], []
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        t0 = time.perf_counter()
        hops = det.push(audio[i:i + FRAME])
        elapsed = (time.perf_counter() - t0) * 1e3
        if i >= RATE:  # the first second fills the window
            frame_ms.append(elapsed)
            infer_ms += [h.latency_ms for h in hops]
    f = np.array(frame_ms)
    return {"frames": len(f), "frame_p50_ms": round(float(np.median(f)), 3),
            "frame_p99_ms": round(float(np.percentile(f, 99)), 3), "frame_max_ms": round(float(f.max()), 3),
            "over_budget": int((f > BUDGET_MS).sum()), "inference_p50_ms": round(float(np.median(infer_ms)), 3),
            "inferences": len(infer_ms)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--levels", nargs="*", default=None)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    audio = recording(args.seconds)
    rows = {}
    for folder in sorted((ROOT / "models/variants").glob("*/*")):
        if not folder.is_dir() or not is_e2e(split_variant_id(folder.name)[0]):
            continue
        if args.levels and split_variant_id(folder.name)[2] not in args.levels:
            continue
        rows[folder.name] = measure(folder, audio)
        r = rows[folder.name]
        print(f"{folder.name:<32} frame p50 {r['frame_p50_ms']:7.3f} ms  p99 {r['frame_p99_ms']:7.3f} ms  "
              f"max {r['frame_max_ms']:7.3f} ms  over {BUDGET_MS:g} ms: {r['over_budget']}/{r['frames']}")
    out = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()} {os.cpu_count()} CPUs "
           f"{platform.processor() or ''}".strip(), "frame": FRAME, "rate": RATE, "budget_ms": BUDGET_MS,
           "variants": rows}
    if args.json:
        pio.write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
