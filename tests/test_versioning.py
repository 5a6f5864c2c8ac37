"""Versioned artefacts and the CI comparison, on the project the end-to-end tests built.

Runs after tests/test_pipeline_e2e.py (same session fixture): commits its state as the base.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run
from test_pipeline_e2e import tracked_outputs

pytestmark = pytest.mark.e2e
GIT = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]


def commit_all(project: Path, message: str) -> None:
    run([*GIT, "add", "-A"], project)
    run([*GIT, "commit", "-qm", message, "--allow-empty"], project)


def test_push_then_pull_in_a_fresh_clone_is_byte_identical_and_up_to_date(built_project: Path, tmp_path: Path):
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-f", "-d", "store", str(remote)], built_project)
    commit_all(built_project, "results")
    run(["dvc", "push"], built_project)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(built_project), str(clone)], tmp_path)
    assert not list(clone.glob("models/variants/*/*/*.onnx")), "artefacts must come from the remote, not git"
    run(["dvc", "pull"], clone)
    assert tracked_outputs(clone) == tracked_outputs(built_project)
    out = run(["dvc", "repro"], clone).stdout
    assert "Running stage" not in out, out


def test_compare_flags_a_bigger_model_and_passes_identical_commits(built_project: Path):
    commit_all(built_project, "base")
    base = run(["git", "rev-parse", "HEAD"], built_project).stdout.strip()
    same = run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "compare", "--base", base], built_project, check=False)
    assert same.returncode == 0, same.stdout + same.stderr

    params = yaml.safe_load((built_project / "params.yaml").read_text())
    params["keras"]["filters"] = 32          # a bigger model: every Keras variant grows
    params["quantization"]["int8"]["calibration_samples"] = 1   # and a worse calibration
    (built_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro"], built_project, timeout=1800)
    commit_all(built_project, "bigger keras, one calibration sample")
    res = run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "compare", "--base", base, "--out", "compare.md"],
              built_project, check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    report = (built_project / "compare.md").read_text()
    assert "| `keras.filters` | `16` | `32` |" in report, report
    assert "| `quantization.int8.calibration_samples` |" in report
    assert "keras.tflite.fp32" in report and "size_bytes" in report
