"""The same params give the same bytes on another CPU: the early stages run natively and under
`qemu-x86_64 -cpu Haswell` (an AVX2-only Intel core, whatever this host is) must write identical files.

The stages pick their kernels at run time (numpy, OpenBLAS); pipeline/pins.py fixes them before any
library loads. The emulated run gets the pinned environment up front: pipeline/__main__.py would otherwise
re-execute, and an exec under qemu-user leaves the emulator; for the same reason both runs compute their
Dask tasks in the stage's own process (PIPELINE_SERIAL=1: a local cluster's workers would be new processes,
outside the emulator). The stages checked are the ones the README lists as reproducible across machines
(catalog.REPRODUCIBLE_STAGES).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PROFILES, ROOT
from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.executor import SERIAL_ENV
from pipeline.pins import pinned_env

pytestmark = pytest.mark.e2e
PY = str(ROOT / ".venv" / "bin" / "python")
COMMANDS = [["check"], ["synthesize"], ["features"], ["train_sklearn", "logreg"]]


def project(dest: Path) -> Path:
    shutil.copytree(ROOT / "pipeline", dest / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "requirements.lock", dest / "requirements.lock")
    shutil.copy2(PROFILES / "tiny.yaml", dest / "params.yaml")
    (dest / "data" / "own_audio").mkdir(parents=True)
    return dest


def outputs(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): pio.sha256_file(p) for top in ("data", "models")
            for p in sorted((root / top).rglob("*")) if p.is_file()}


def stage_of(path: str) -> str:
    """The stage that writes a file, from the catalog."""
    for stage, io in cat.STAGES.items():
        for d in io.writes:
            fixed = d.template.split("{")[0]
            if path.startswith(fixed) if "{" in d.template else path == fixed or path.startswith(fixed + "/"):
                return stage
    return "?"


def test_reproducible_stages_write_the_same_bytes_on_an_emulated_avx2_cpu(tmp_path: Path):
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        if os.environ.get("CI"):
            pytest.fail("qemu-x86_64 is missing (Debian package qemu-user, installed by make setup)")
        pytest.skip("qemu-x86_64 is missing (make setup)")
    assert {c[0] for c in COMMANDS} - {"check"} <= set(cat.REPRODUCIBLE_STAGES)
    native, emulated = project(tmp_path / "native"), project(tmp_path / "emulated")
    env = {**pinned_env(), "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}", SERIAL_ENV: "1"}
    for argv in COMMANDS:
        subprocess.run([PY, "-m", "pipeline", *argv], cwd=native, env=env, check=True, capture_output=True)
        res = subprocess.run([qemu, "-cpu", "Haswell", PY, "-m", "pipeline", *argv], cwd=emulated, env=env,
                             capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, res.stderr[-3000:]
    a, b = outputs(native), outputs(emulated)
    assert a.keys() == b.keys() and len(a) > 60
    differ = sorted(p for p in a if a[p] != b[p])
    assert not differ, "machine-specific bytes from stage(s) " + str(sorted({stage_of(p) for p in differ})) \
        + f": {differ[:10]}"
