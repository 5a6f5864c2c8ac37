"""The qemu kind's runner: the same harness inside the aarch64 Python under QEMU user mode.

Each variant runs in an emulated process of its own, inside a fresh guest workspace that holds
only that variant's artefact and inputs under fixed names. Its instruction count then depends on
the artefact, the inputs, the core and the pinned stack alone: not on which variants ran before
it in the same process (heap history), nor on where the checkout lives (path lengths), nor on
the host CPU it runs on (the guest shim fixes getcpu). That costs an emulated start-up (3-4 s) per
variant, so variants run side by side as Dask tasks (pipeline/executor.py): one single-threaded worker per
CPU, one emulator each, on this machine or on a cluster.
"""

from __future__ import annotations

import json
import shutil
import time
from functools import partial
from pathlib import Path

from pipeline import executor
from pipeline.targets import qemu_user as qemu

# Counted calls: one region per call on each of the first COUNT_INPUTS test clips; the figure is the
# mean over them (the count is exact and repeatable; the clips differ a little in cost).
COUNT_INPUTS = 5


def stage_job(job: dict, workspace: Path, agreement_clips: int) -> dict:
    """Copy the job's artefact and inputs into the workspace under fixed names; the job, re-pointed."""
    artefact = "model" + Path(job["artefact"]).suffix
    shutil.copyfile(job["artefact"], workspace / artefact)
    shutil.copyfile(job["inputs"], workspace / "inputs.npy")
    return {**job, "artefact": artefact, "inputs": "inputs.npy", "max_predictions": agreement_clips}


def run_variant(target, settings: dict, job: dict, host_cpu: int | None = None) -> dict:
    with qemu.guest_workspace() as ws:
        (ws / "jobs.json").write_text(json.dumps({**settings, "jobs": [stage_job(job, ws, target.agreement_clips)]}))
        _, counts = qemu.run_python(target.cpu, ["-m", "pipeline.bench.harness", "jobs.json", "out.json"],
                                    workspace=ws, host_cpu=host_cpu)
        result = json.loads((ws / "out.json").read_text())
    if result["machine"] != "aarch64":
        raise RuntimeError(f"the emulated harness reported machine {result['machine']!r}, expected aarch64")
    record = result["records"][job["id"]]
    record["instructions_per_inference"] = instructions_per_inference(counts, settings, job["id"], target.cpu)
    record["cpu"] = target.cpu
    return record


def instructions_per_inference(counts: dict, settings: dict, vid: str, cpu: str) -> int:
    regions = counts["per_region"]
    if counts["regions"] != len(regions) or len(regions) != settings["count_inputs"] or counts.get("unbalanced"):
        raise RuntimeError(f"{vid} on {cpu}: the instruction counter saw {counts['regions']} regions "
                           f"(unbalanced: {counts.get('unbalanced')}), expected {settings['count_inputs']}")
    return round(sum(regions) / len(regions))


def tool_versions() -> dict[str, str]:
    return qemu.tool_versions()


def timed_variant(target, settings: dict, job: dict) -> dict:
    """One task: the variant measured by one emulator on the worker's CPUs, with the emulator's wall time."""
    start = time.monotonic()
    try:
        record = run_variant(target, settings, job)
    except qemu.GuestError as err:
        raise qemu.GuestError(f"{job['id']} ({Path(job['artefact']).name}) on {target.cpu}: {err}", err.result) from None
    record["emulation_s"] = round(time.monotonic() - start, 1)
    return record


def measure(name: str, target, spec: dict, workdir: Path) -> dict[str, dict]:
    """Per variant: the exact instruction count per inference and the harness record (QEMU wall time and
    the first clips' predictions, which the report compares with the host's)."""
    qemu.check_available()
    executor.check_workers(qemu.check_available, f"benchmark@{name}")
    # Emulation is 20-100x slower: a few timed calls (QEMU wall time is not device time anyway).
    settings = {**spec, "warmup": min(spec["warmup"], 2), "runs": target.runs, "load_repeats": 1,
                "count_inputs": COUNT_INPUTS}
    jobs = spec["jobs"]
    records = executor.map_tasks(partial(timed_variant, target, settings), jobs, [j["id"] for j in jobs],
                                 f"benchmark@{name}-{spec['level']}")
    return {j["id"]: {"status": "ok", "model": j["model"], "instructions_per_inference":
                      r["instructions_per_inference"], "record": r} for j, r in zip(jobs, records)}
