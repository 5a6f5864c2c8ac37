"""The emulated targets: the same harness inside the aarch64 Python under QEMU user mode.

All variants of one level run in one emulated process (start-up under emulation
costs seconds); each variant's counted calls are one region, so the plugin's
per-region counts map one-to-one onto the jobs.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.targets import qemu


def run_harness_qemu(target, spec: dict, workdir: Path) -> dict[str, dict]:
    qemu.check_available()
    runs = target.runs or 20
    # Emulation is 10-100x slower: fewer timed calls; the instruction count needs no repeats to be stable.
    emulated = {**spec, "warmup": min(spec["warmup"], 5), "runs": runs, "count_runs": runs, "load_repeats": 1,
                # outputs are compared with the host's on the first clips only: a full pass of the test
                # split costs minutes per variant under emulation
                "jobs": [{**j, "max_predictions": target.agreement_clips} for j in spec["jobs"]]}
    if not emulated["jobs"]:
        return {}
    jobs, out = workdir / f"jobs-{target.cpu}.json", workdir / f"out-{target.cpu}.json"
    jobs.write_text(json.dumps(emulated))
    _, counts = qemu.run_python(target.cpu, ["-m", "pipeline.bench.harness", str(jobs), str(out)],
                                cwd=str(qemu.PROJECT_ROOT))
    result = json.loads(out.read_text())
    if result["machine"] != "aarch64":
        raise RuntimeError(f"the emulated harness reported machine {result['machine']!r}, expected aarch64")
    per_region = counts["per_region"]
    if len(per_region) != len(emulated["jobs"]) or counts.get("unbalanced"):
        raise RuntimeError(f"instruction counter saw {len(per_region)} regions for {len(emulated['jobs'])} "
                           f"variants (unbalanced: {counts.get('unbalanced')})")
    records = result["records"]
    for job, n in zip(emulated["jobs"], per_region):
        records[job["id"]]["instructions_per_inference"] = round(n / runs)
        records[job["id"]]["cpu"] = target.cpu
    return records
