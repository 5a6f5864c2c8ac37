"""The host target: the harness in this machine's Python, one process per variant
(so that each variant's peak RSS is its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Literal

from pipeline.errors import PipelineError
from pipeline.schema import Strict

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where the pipeline package lives


class HostTarget(Strict):
    """`targets.host: {kind: host}`: this machine, measured wall time (always required)."""

    kind: Literal["host"]


def harness_env(threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "TF_", "PYTHONHASHSEED"))}
    # ORT_DISABLE_TELEMETRY: the onnxruntime wheels run a telemetry thread that would share the measured core
    env.update(OMP_NUM_THREADS=str(threads), PYTHONHASHSEED="0", PYTHONPATH=str(PROJECT_ROOT),
               ORT_DISABLE_TELEMETRY="1")
    return env


def run_harness_host(target: HostTarget, spec: dict, workdir: Path) -> dict[str, dict]:
    records = {}
    for job in spec["jobs"]:
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
            records.update(json.loads(out.read_text())["records"])
    return records
