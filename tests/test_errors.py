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
