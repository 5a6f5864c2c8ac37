"""The host kind's runner: the harness in this machine's Python, one process per variant (so that each
variant's peak RSS is its own), over the whole test split: latency, accuracy, agreement with the source
model, the runtime's reference kernels, end-to-end MFCC parity, and TFLite Micro's verdict on every
TFLite file."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.bench.child_env import harness_env
from pipeline.bench.tflm import run_tflm
from pipeline.errors import PipelineError
from pipeline.export.formats import FORMATS
from pipeline.log import info
from pipeline.models.evaluate import accuracy, agreement, per_class_accuracy
from pipeline.models.families import FAMILIES


@lru_cache(maxsize=None)  # several variants of one model per stage
def reference_predictions(family: str, model: str) -> np.ndarray:
    """The unconverted source's test predictions; for an end-to-end model: librosa features + its source model."""
    return pio.read_npz(FAMILIES[family].source_dir(model) / cat.REFERENCE_FILE)["pred_test"]


def run_harness(job: dict, spec: dict, workdir: Path) -> dict:
    one = {**spec, "jobs": [job], "count_inputs": 0}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        jobs, out = Path(tmp) / "jobs.json", Path(tmp) / "out.json"
        jobs.write_text(json.dumps(one))
        res = subprocess.run([sys.executable, "-m", "pipeline.bench.harness", str(jobs), str(out)],
                             capture_output=True, text=True, env=harness_env(spec["threads"]))
        if res.returncode != 0:
            said = [line for line in res.stderr.splitlines() if line.startswith("harness: ")]
            if said:  # the harness named what went wrong: that line, not a traceback
                raise PipelineError(f"benchmark on the host failed: {said[-1].removeprefix('harness: ')}")
            raise RuntimeError(f"benchmark of {job['id']} ({job['artefact']}) on the host failed:\n"
                               f"{res.stderr[-3000:]}")
        return json.loads(out.read_text())["records"][job["id"]]


def host_entry(job: dict, record: dict, y: np.ndarray, labels) -> dict:
    pred = np.asarray(record["predictions"])
    parity = {k: record[k] for k in ("mfcc_max_abs_diff", "mfcc_mean_abs_diff") if k in record}
    kernels = {}
    if "reference_predictions" in record:
        ref = np.asarray(record["reference_predictions"])
        kernels = {"reference_kernel_agreement": round(agreement(pred, ref), 6),
                   "reference_kernel_accuracy": round(accuracy(ref, y), 6)}
    return {"model": job["model"], "size_bytes": job["size_bytes"], "accuracy": round(accuracy(pred, y), 6),
            "per_class_accuracy": per_class_accuracy(pred, y, labels),
            "agreement": round(agreement(pred, reference_predictions(job["family"], job["model"])), 6), **parity, **kernels,
            "record": record}


def tflm_entry(job: dict, record: dict, workdir: Path) -> dict:
    """TFLite Micro's verdict on a TFLite file: loads (or why not), its arena, agreement with LiteRT's
    reference kernels on the whole test split."""
    t = run_tflm(job, workdir, harness_env(1))
    out = {"loads": t["loads"], "reason": t["reason"], "arena_bytes": t["arena_bytes"], "reference_agreement": None}
    if t["loads"]:
        out["reference_agreement"] = round(agreement(np.asarray(t["predictions"]),
                                                     np.asarray(record["reference_predictions"])), 6)
    return out


def measure(name: str, target, spec: dict, workdir: Path) -> dict[str, dict]:
    d = pio.read_npz(cat.FEATURES.path())
    entries = {}
    for job in spec["jobs"]:
        rec = run_harness(job, spec, workdir)
        entries[job["id"]] = e = {**host_entry(job, rec, d["y_test"], d["labels"]), "status": "ok"}
        said = f"p50 {rec['latency_p50_us']:.1f} us"
        if FORMATS[job["format"]].is_tflite:  # every TFLite file: TFLite Micro's verdict
            e["tflm"] = t = tflm_entry(job, rec, workdir)
            said += f"; TFLite Micro: arena {t['arena_bytes']:,} B" if t["loads"] else "; does not load on TFLite Micro"
        info(f"benchmark@{name}-{spec['level']}: {job['id']}: {said}")
    return entries
