"""The environment of a measuring child process on this machine (the harness, TFLite Micro's check, the
server under load): pinned threads and hash seed, the project on the path, no telemetry thread."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where the pipeline package lives


def workspace_root(project: Path = PROJECT_ROOT) -> Path:
    """The user's checkout. `dvc exp run --temp` and `--queue` run the stages in a copy under
    <checkout>/.dvc/tmp/exps/, which holds only what git tracks: the caches (emulation, measurements, C
    sources) are the checkout's, shared by every queued experiment."""
    parts = project.parts
    for i in range(len(parts) - 3):
        if parts[i:i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return project


APPS_CACHE_ENV = "PIPELINE_APPS_CACHE"  # where scripts/provision_apps.sh installed them (default: the checkout's)


def apps_modules() -> Path:
    """The npm packages of the app runtimes (pipeline/targets/app.py) and the page's onnxruntime-web."""
    return Path(os.environ.get(APPS_CACHE_ENV) or workspace_root() / ".cache" / "apps") / "node_modules"


def harness_env(threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "TF_", "PYTHONHASHSEED"))}
    # ORT_DISABLE_TELEMETRY: the onnxruntime wheels run a telemetry thread that would share the measured core
    env.update(OMP_NUM_THREADS=str(threads), PYTHONHASHSEED="0", PYTHONPATH=str(PROJECT_ROOT),
               ORT_DISABLE_TELEMETRY="1")
    return env
