"""Versioned artefacts and the CI comparison, each on its own copy of the tiny build (they commit, push and
change params)."""

from __future__ import annotations

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


def test_push_then_pull_in_a_fresh_clone_is_byte_identical_and_up_to_date(built_copy: Path, tmp_path: Path):
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-f", "-d", "store", str(remote)], built_copy)
    commit_all(built_copy, "results")
    run(["dvc", "push"], built_copy)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(built_copy), str(clone)], tmp_path)
    assert not list(clone.glob("models/variants/*/*/*.onnx")), "artefacts must come from the remote, not git"
    run(["dvc", "pull"], clone)
    assert tracked_outputs(clone) == tracked_outputs(built_copy)
    out = run(["dvc", "repro"], clone).stdout
    assert "Running stage" not in out, out


def test_compare_flags_a_bigger_model_and_passes_identical_commits(built_copy: Path):
    commit_all(built_copy, "base")
    base = run(["git", "rev-parse", "HEAD"], built_copy).stdout.strip()
    same = run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "compare", "--base", base], built_copy, check=False)
    assert same.returncode == 0, same.stdout + same.stderr

    params = yaml.safe_load((built_copy / "params.yaml").read_text())
    params["keras"]["keras"]["filters"] = 32          # a bigger model: every Keras variant grows
    params["quantization"]["int8"]["calibration_samples"] = 1   # and a worse calibration
    (built_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro"], built_copy, timeout=1800)
    commit_all(built_copy, "bigger keras, one calibration sample")
    res = run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "compare", "--base", base, "--out", "compare.md"],
              built_copy, check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    report = (built_copy / "compare.md").read_text()
    assert "| `keras.keras.filters` | `16` | `32` |" in report, report
    assert "| `quantization.int8.calibration_samples` |" in report
    assert "keras.tflite.fp32" in report and "size_bytes" in report
