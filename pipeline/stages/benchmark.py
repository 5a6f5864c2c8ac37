"""Stage benchmark@<target>-<level>: variants of one level -> reports/bench/<target>/<level>.json.

Per built variant: size, accuracy on the test split, top-1 agreement with its
unconverted source model, and the harness record measured on the target. On an
emulated target also the instruction count and agreement with the host's outputs.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.bench.runtimes import FEATURE_OUTPUT
from pipeline.errors import DataError, UsageError
from pipeline.export.formats import FORMATS
from pipeline.log import info
from pipeline.models.evaluate import accuracy, agreement, per_class_accuracy
from pipeline.models.families import family_of
from pipeline.params import Params
from pipeline.bench.tflm import run_tflm
from pipeline.targets.host import harness_env
from pipeline.targets.qemu import TargetUnavailable
from pipeline.targets.registry import TARGET_KINDS, is_required, role_of


@lru_cache(maxsize=None)  # several variants of one model per stage
def reference_predictions(model: str) -> np.ndarray:
    """The unconverted source's test predictions; for keras_e2e: librosa features + the Keras model."""
    return pio.read_npz(family_of(model).source_dir(model) / "reference.npz")["pred_test"]


def write_inputs(workdir: Path) -> dict[str, Path]:
    """The test split as each kind of model takes it: MFCC matrices, or raw clips for end-to-end models."""
    d = pio.read_npz(cat.FEATURES.path())
    paths = {"features": workdir / "X_test.npy", "audio": workdir / "audio_test.npy"}
    np.save(paths["features"], d["X_test"])
    np.save(paths["audio"], pio.read_npz(cat.AUDIO_SPLITS.path())["test"])
    return paths


def harness_spec(p: Params, level: str, inputs: dict[str, Path], host: bool) -> dict:
    """The harness jobs of one level. On the host every job also runs the whole test split on the
    runtime's reference kernels, and end-to-end jobs return their in-graph MFCCs for parity."""
    folder = cat.level_dir(level)
    index = pio.read_json(folder / cat.INDEX)
    jobs = []
    for vid, entry in sorted(index.items()):
        if entry["status"] != "ok":
            continue
        meta = pio.read_json(folder / entry["sidecar"])
        e2e = family_of(meta["model"]).raw_audio
        artefact = folder / entry["file"]
        if pio.sha256_file(artefact) != meta["sha256"]:
            raise DataError(f"{artefact} ({vid}): its SHA-256 is not the one in its sidecar {entry['sidecar']}: the "
                            f"file was changed after convert; rebuild it with `dvc repro convert@{level}`")
        job = {"id": vid, "runtime": FORMATS[meta["format"]].runtime,
               "inputs": str(inputs["audio" if e2e else "features"].resolve()),
               "artefact": str(artefact.resolve()),
               "input": {**meta["input"], "value_range": [-1.0, 1.0]} if e2e else meta["input"],
               "model": meta["model"], "format": meta["format"], "size_bytes": meta["size_bytes"],
               "reference_kernels": host}
        if e2e and host:  # the in-graph MFCCs against the training features, every test clip
            job["parity"] = {"output": FEATURE_OUTPUT, "reference": str(inputs["features"].resolve())}
        jobs.append(job)
    b = p.benchmark
    return {"level": level, "threads": b.threads, "warmup": b.warmup, "runs": b.runs,
            "load_repeats": b.load_repeats, "count_inputs": 0, "jobs": jobs}


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
            "agreement": round(agreement(pred, reference_predictions(job["model"])), 6), **parity, **kernels,
            "record": record}


def emulated_entry(job: dict, record: dict, target) -> dict:
    """Agreement with the host's outputs is computed by the report, which sees both files."""
    instructions = record["instructions_per_inference"]
    return {"model": job["model"], "instructions_per_inference": instructions,
            "estimated_device_latency_us": round(instructions / (target.ipc * target.clock_ghz * 1e3), 3),
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


def _said(e: dict) -> str:
    if e["status"] != "ok":
        return e["status"] + (f": {e['reason']}" if e.get("reason") else "")
    if "loopback_p99_us" in e:
        return f"p99 {e['loopback_p99_us']} us at the lowest rate, {e['errors']} errors, {e['lost']} lost"
    return f"{e['instructions_per_inference']:,} instructions per inference"


def measure(p: Params, target_name: str, target, level: str, workdir: Path) -> dict[str, dict]:
    role = role_of(target)
    spec = harness_spec(p, level, write_inputs(workdir), host=role == "host")
    info(f"benchmark@{target_name}-{level}: {len(spec['jobs'])} variants")
    try:
        records = TARGET_KINDS[target.kind].run(target, spec, workdir)
    except TargetUnavailable as err:
        if not is_required(target):
            info(f"benchmark@{target_name}-{level}: skipped: {err}")
            return {j["id"]: {"status": "skipped", "reason": str(err)} for j in spec["jobs"]}
        raise
    if role in ("remote", "mcu"):  # the runner's records are the entries (status included)
        for vid, e in records.items():
            info(f"benchmark@{target_name}-{level}: {vid}: {_said(e)}")
        return records
    d = pio.read_npz(cat.FEATURES.path())
    entries = {}
    for j in spec["jobs"]:
        rec = records[j["id"]]
        entries[j["id"]] = e = {**(emulated_entry(j, rec, target) if role == "emulated" else
                                   host_entry(j, rec, d["y_test"], d["labels"])), "status": "ok"}
        said = f"p50 {rec['latency_p50_us']:.1f} us"
        if role == "host" and FORMATS[j["format"]].runtime == "litert":  # every TFLite file: TFLM's verdict
            e["tflm"] = t = tflm_entry(j, rec, workdir)
            said += f"; TFLite Micro: arena {t['arena_bytes']:,} B" if t["loads"] else "; does not load on TFLite Micro"
        info(f"benchmark@{target_name}-{level}: {j['id']}: {said}")
    return entries


def run(p: Params, target_name: str, level: str) -> None:
    if target_name not in p.targets:
        raise UsageError(f"target '{target_name}' is not in params.yaml targets: {list(p.targets)}")
    with tempfile.TemporaryDirectory() as tmp:
        entries = measure(p, target_name, p.targets[target_name], level, Path(tmp))
    pio.write_json(cat.bench_path(target_name, level), entries)
