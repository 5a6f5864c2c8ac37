import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROFILES = ROOT / "tests" / "profiles"

from pipeline.audio.mfcc import MfccConfig  # noqa: E402

# The front end of the shipped params.yaml (`features`, `data.sample_rate`), spelt out for the unit tests
# of the signal code: they check librosa parity at these values whatever a user sets in params.yaml.
MFCC_16K = MfccConfig(sample_rate=16000, n_fft=512, hop_length=320, n_mels=40, n_mfcc=20, fmin=20.0, fmax=8000.0,
                      top_db=80.0)
# What a clean clone holds: the tracked sources, never the workspace's outputs.
COPIED = ["pipeline", "scripts", "native", "data/own_audio", "dvc.yaml", "params.yaml", "gates.yaml", "pyproject.toml",
          "requirements.lock", ".dvc/config",
          ".dvcignore", ".gitignore"]


def run(cmd: list[str], cwd: Path, check: bool = True, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
           "PIPELINE_ARM_CACHE": str(ROOT / ".cache" / "arm"),  # provisioned once by `make arm`
           "PIPELINE_APPS_CACHE": str(ROOT / ".cache" / "apps"),  # and `make apps`
           **(env or {})}
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}")
    return res


def make_project(dest: Path, profile: str = "tiny.yaml") -> Path:
    """A fresh git + DVC repo holding the project's sources and the given params profile."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = ROOT / name
        if not src.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    shutil.copy2(PROFILES / profile, dest / "params.yaml")
    run(["git", "init", "-q"], dest)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], dest)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"], dest)
    return dest


def pytest_collection_modifyitems(items):
    """A test on the tiny build is end-to-end whether or not its file says so: `make check` never builds it."""
    for item in items:
        if "built_project" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def built_project(tmp_path_factory) -> Path:
    """The tiny profile, built once by `dvc repro` from a fresh repo, shared by the end-to-end tests: they
    only read it (a test that changes anything works on `built_copy`), so no test depends on the order."""
    if os.environ.get("PIPELINE_TEST_BUILT"):  # the edit loop: a tiny build made earlier by this fixture
        return Path(os.environ["PIPELINE_TEST_BUILT"])
    project = make_project(tmp_path_factory.mktemp("e2e") / "repo")
    res = run(["dvc", "repro"], project, timeout=1800)
    (project.parent / "repro.log").write_text(res.stdout + res.stderr)  # beside the repo: what a user reads
    return project


@pytest.fixture
def built_copy(built_project: Path, tmp_path: Path) -> Path:
    """A test's own copy of the tiny build (git, DVC's cache and state included), up to date as built."""
    project = tmp_path / "repo"
    shutil.copytree(built_project, project, symlinks=True)
    status = run(["dvc", "status", "--quiet"], project, check=False)
    assert status.returncode == 0, f"the copy of the tiny build is not up to date:\n{status.stdout}{status.stderr}"
    return project
