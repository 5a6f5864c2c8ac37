"""The mcu kind's runner: per level, each variant's entry on one core.

- a scikit-learn model's fp32 entry: its C (pipeline/targets/mcu_codegen.py) built and run bare-metal on the
  core's QEMU board over the whole test split: exact instructions per inference, flash, RAM, its accuracy,
  and its agreement with the host model's decision rule (the most probable class) on the same clips;
- a TFLite variant: an estimate (status `estimate`): its MACs from the flatbuffer; the report
  (pipeline/targets/mcu_report.py) turns them into cycles with the cycles per MAC measured here on the same
  core (the mlp's exact count, without the front), and takes the RAM from TFLite Micro's arena;
- anything else: not_applicable, with the reason.
"""

from __future__ import annotations

import hashlib
import tempfile
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np

from pipeline import catalog as cat
from pipeline import executor
from pipeline import io as pio
from pipeline.bench.tflm import count_macs
from pipeline.export.formats import FORMATS
from pipeline.log import info
from pipeline.models.families import FAMILIES
from pipeline.targets import mcu_board as mcu
from pipeline.targets import mcu_codegen
from pipeline.variants import REFERENCE_LEVEL, is_e2e

FRONT_ONLY = mcu_codegen.Generated("int32_t classify(const float *features) { return features[0] > 0.0f; }\n",
                                   "none (the front alone)", 0)


def _not_applicable(job: dict, level: str) -> str:
    model = job["model"]
    if not FORMATS[job["format"]].is_tflite and "tflite" in FAMILIES[job["family"]].converters:
        return "no ONNX runtime for Cortex-M is installable here; its TFLite twin carries the estimate"
    if is_e2e(model):
        return "the C takes the MFCC matrix (no C MFCC front here): the feature-input fp32 entry has the counts"
    return f"the C generators emit float code from the trained model: its {REFERENCE_LEVEL} entry has the counts"


def _firmware(core: mcu.McuCore, source: str, gen: mcu_codegen.Generated, n_values: int, X: np.ndarray,
              workdir: Path) -> dict:
    """Build and run one firmware: sizes, counts, predictions."""
    (workdir / "model.c").write_text(source)
    elf = workdir / "app.elf"
    mcu.build(core, workdir / "model.c", n_values, gen.include_dirs, elf)
    ran = mcu.run(core, elf, X.reshape(len(X), -1), workdir)
    return {**mcu.sizes(elf, core), **ran, "sha256": hashlib.sha256(elf.read_bytes()).hexdigest()}


def test_labels() -> np.ndarray:
    return pio.read_npz(cat.FEATURES.path())["y_test"]


def exact_entry(target, job: dict, X: np.ndarray, front: dict, workdir: Path) -> dict:
    from pipeline.models.sklearn_models import estimator_type_of, features, loads

    core = mcu.MCU_CORES[target.core]
    model_bytes = (FAMILIES[job["family"]].source_dir(job["model"]) / cat.SKLEARN_MODEL_FILE).read_bytes()
    model = loads(model_bytes)
    # The rule every artefact of the model and its reported accuracy follow: the most probable class
    # (for the SVC, Platt-scaled probabilities; its predict() vote differs), which the generated C implements.
    host = model.predict_proba(features(X)).argmax(1)
    estimator = estimator_type_of(model.named_steps["clf"])
    try:
        source, gen = mcu_codegen.cached_firmware_source(model_bytes, model, estimator, X.shape[1], X.shape[2])
        fw = _firmware(core, source, gen, X.shape[1] * X.shape[2], X, workdir)
    except (mcu_codegen.CodegenError, mcu.BuildError, mcu.RunError) as err:
        return {"status": "failed", "reason": str(err)}
    pred, per = np.asarray(fw["predictions"]), fw["instructions"]
    instructions = round(float(np.mean(per)))
    return {
        "status": "ok", "method": "exact", "generator": gen.generator, "core": core.name, "board": core.machine,
        "instructions_per_inference": instructions, "instructions_min": min(per), "instructions_max": max(per),
        "front_instructions": front["instructions_per_inference"], "macs": gen.macs,
        "flash_bytes": fw["flash_bytes"],
        "ram_bytes": fw["data_bytes"] + fw["bss_bytes"] + fw["stack_bytes"] + fw["heap_bytes"],
        "stack_bytes": fw["stack_bytes"], "heap_bytes": fw["heap_bytes"], "estimator": estimator, "front_flash_bytes": front["front_flash_bytes"],
        "host_agreement": round(float(np.mean(pred == host)), 6), "host_mismatches": int(np.sum(pred != host)),
        "firmware_accuracy": round(float(np.mean(pred == test_labels()[:len(pred)])), 6),
        "agreement_clips": len(pred), "firmware_sha256": fw["sha256"],
    }


def front_baseline(target, X: np.ndarray, workdir: Path) -> dict:
    """The firmware with the front (summary statistics and scaler) and no classifier, and the harness alone:
    what every scikit-learn model's count and flash include before its own work."""
    core = mcu.MCU_CORES[target.core]
    n_features = mcu_codegen.n_features(X.shape[1])
    source = mcu_codegen.wrap(FRONT_ONLY, np.zeros(n_features), np.ones(n_features), X.shape[1], X.shape[2])
    fw = _firmware(core, source, FRONT_ONLY, X.shape[1] * X.shape[2], X[:3], workdir)
    return {"instructions_per_inference": round(float(np.mean(fw["instructions"]))),
            "front_flash_bytes": fw["flash_bytes"]}


def estimate_entry(job: dict) -> dict:
    return {"status": "estimate", "method": "estimate", "macs": count_macs(job["artefact"]),
            "flash_bytes": job["size_bytes"]}


def tool_versions() -> dict[str, str]:
    return mcu.tool_versions()


def exact_task(target, front: dict, job: dict) -> dict:
    """One task: a scikit-learn model's firmware generated, built and run on the core, in a folder of its own."""
    X = np.load(job["inputs"])  # the test split's MFCC matrices
    with tempfile.TemporaryDirectory() as tmp:
        return exact_entry(target, job, X, front, Path(tmp))


def measure(name: str, target, spec: dict, workdir: Path) -> dict[str, dict]:
    mcu.check_available()
    level = spec["level"]
    entries, exact = {}, []
    for job in spec["jobs"]:
        if FORMATS[job["format"]].is_tflite:
            entries[job["id"]] = estimate_entry(job)
        elif job["family"] == "sklearn" and level == REFERENCE_LEVEL:
            exact.append(job)
        else:
            entries[job["id"]] = {"status": "not_applicable", "reason": _not_applicable(job, level)}
    if not exact:
        return entries
    executor.check_workers(mcu.check_available, f"benchmark@{name}")
    try:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            front = front_baseline(target, np.load(exact[0]["inputs"]), Path(tmp))
    except (mcu.BuildError, mcu.RunError) as err:
        return {**entries, **{j["id"]: {"status": "failed", "reason": f"the front-only firmware: {err}"} for j in exact}}
    # the firmware builds (m2cgen's SVC C takes GCC most of a minute) run side by side, one per worker
    for job, e in zip(exact, executor.map_tasks(partial(exact_task, target, front), exact, [j["id"] for j in exact],
                                                f"benchmark@{name}-{level}")):
        entries[job["id"]] = e
        said = (f"{e['instructions_per_inference']:,} instructions per inference, flash {e['flash_bytes']:,} B, "
                f"RAM {e['ram_bytes']:,} B, host agreement {e['host_agreement']:.1%}"
                if e["status"] == "ok" else f"failed: {e['reason']}")
        info(f"{target.core}: {job['id']}: {said}")
    return entries
