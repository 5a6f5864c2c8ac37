"""Expected errors (pipeline.errors.PipelineError) are one line and an exit code; anything else is a bug
and keeps its traceback, so that a real defect is never shown as if it were bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import PROFILES, ROOT, run

PY = str(ROOT / ".venv" / "bin" / "python")


def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(PROFILES / "tiny.yaml", tmp_path / "params.yaml")
    return tmp_path


def test_an_expected_error_is_one_line_with_its_exit_code(tmp_path):
    res = run([PY, "-m", "pipeline", "train_sklearn", "svm"], project(tmp_path), check=False)
    assert res.returncode == 2  # UsageError
    assert res.stderr.strip() == ("error: train_sklearn: no scikit-learn model 'svm' in params.yaml sklearn: "
                                  "['logreg', 'random_forest', 'mlp', 'svc']")


def test_a_bug_keeps_its_traceback(tmp_path):
    p = project(tmp_path)
    (p / "data").mkdir()
    (p / "data" / "manifest.csv").write_text("file,class\nx.wav,rock\n")  # a manifest no stage writes
    res = run([PY, "-m", "pipeline", "features"], p, check=False)
    assert res.returncode == 1
    assert "Traceback (most recent call last)" in res.stderr and "KeyError: 'label'" in res.stderr


def test_a_full_disk_is_one_line_naming_the_file_and_the_fix(tmp_path):
    """The storage refusing a write (here the file-size limit, EFBIG, as a full disk refuses with ENOSPC) is the
    machine's doing: one line with the stage, the file and what to do, and nothing half-written left behind."""
    import resource

    p = project(tmp_path)
    limit = 20_000  # bytes: params and the scratch folder fit, a one-second clip of float samples does not

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    res = run([PY, "-m", "pipeline", "synthesize"], p, check=False, preexec_fn=small_files)
    said = res.stderr.strip().splitlines()[-1]
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert said == "error: synthesize: cannot write data/audio: a file grew past the file-size limit " \
        "(ulimit -f): raise it, then run `dvc repro` again", said
    assert not [f for f in (p / "data").rglob("*") if f.is_file()], "a half-written output was left"
