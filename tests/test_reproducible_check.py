"""The reproducibility check (pipeline/compare/reproducible.py): which rebuilt outputs differ from dvc.lock."""

from __future__ import annotations

import subprocess
import sys

import yaml

from conftest import ROOT
from pipeline.compare.reproducible import differences


def lock(**outs) -> dict:
    return {"schema": "2.0", "stages": {stage: {"cmd": "x", "outs": [{"path": p, "md5": m} for p, m in o.items()]}
                                        for stage, o in outs.items()}}


COMMITTED = lock(synthesize={"data/audio": "a1", "data/manifest.csv": "m1"}, **{"train_sklearn@logreg": {"m": "l1"}},
                 train_keras={"models/keras": "k1"})


def test_identical_outputs_pass_and_other_stages_do_not_count():
    rebuilt = lock(synthesize={"data/audio": "a1", "data/manifest.csv": "m1"}, **{"train_sklearn@logreg": {"m": "l1"}},
                   train_keras={"models/keras": "OTHER"})  # machine-specific by design: not checked
    assert differences(COMMITTED, rebuilt) == []


def test_a_changed_hash_or_a_stage_not_rebuilt_is_named():
    rebuilt = lock(synthesize={"data/audio": "a2", "data/manifest.csv": "m1"})
    assert differences(COMMITTED, rebuilt) == ["synthesize: data/audio: committed a1, rebuilt a2",
                                               "train_sklearn@logreg: not rebuilt"]


def test_cli_exit_codes(tmp_path):
    (tmp_path / "a.lock").write_text(yaml.safe_dump(COMMITTED))
    (tmp_path / "b.lock").write_text(yaml.safe_dump(lock(synthesize={"data/audio": "zz"})))
    cmd = [sys.executable, "-m", "pipeline.compare.reproducible"]
    same = subprocess.run([*cmd, tmp_path / "a.lock", tmp_path / "a.lock"], cwd=ROOT, capture_output=True, text=True)
    assert same.returncode == 0 and "hash as in the committed dvc.lock" in same.stdout
    diff = subprocess.run([*cmd, tmp_path / "a.lock", tmp_path / "b.lock"], cwd=ROOT, capture_output=True, text=True)
    assert diff.returncode == 1 and "synthesize: data/audio: committed a1, rebuilt zz" in diff.stdout
    bad = subprocess.run([*cmd, tmp_path / "nope.lock", tmp_path / "a.lock"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "nope.lock" in bad.stderr
