"""`compare` knows the machine each run was made on (reports/machine.json): between two kinds of machine it says
so and gates only the models whose figures do not depend on the machine (scikit-learn's), so a fresh build on
another CPU is not a regression nobody made, while a real regression of such a model still fails."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from pipeline.compare import main
from pipeline.machine import describe, identity, same_kind

XEON = "model name\t: Intel(R) Xeon(R) Platinum\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_vnni amx_tile\n"
EPYC = "model name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
PARAMS = {"sklearn": {"svc": {"type": "svc"}}, "keras": {"keras": {"filters": 16}}}
GATES = str(ROOT / "gates.yaml")


def entry(model: str, fmt: str, acc: float, size: int = 40_000) -> dict:
    return {"model": model, "format": fmt, "quantization": "fp32", "status": "ok", "size_bytes": size,
            "accuracy": acc, "agreement": 1.0, "host": {"status": "ok", "latency_p50_us": 100.0}}


def metrics(keras_acc: float = 0.90, svc_acc: float = 0.91) -> dict:
    return {"keras.tflite.fp32": entry("keras", "tflite", keras_acc),
            "svc_e2e.onnx.fp32": entry("svc_e2e", "onnx", svc_acc)}


def test_the_machine_record_names_the_cpu_and_hashes_every_flag():
    xeon, epyc = identity(XEON), identity(EPYC)
    assert xeon["cpu"] == "Intel(R) Xeon(R) Platinum" and xeon["flags"] == ["sse4_2", "avx", "avx2", "fma", "avx512f",
                                                                            "avx512_vnni", "amx_tile"]
    assert same_kind(xeon, identity(XEON)) is True and same_kind(xeon, epyc) is False
    assert same_kind(xeon, None) is None
    assert "AMD EPYC 7B13" in describe(epyc) and "avx2 fma" in describe(epyc)
    here = identity()
    assert here["cpus"] >= 1 and len(here["flags_sha256"]) == 64


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def commit(repo: Path, m: dict, machine: dict | None, message: str) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    (repo / "reports/metrics.json").write_text(json.dumps(m))
    if machine is None:
        (repo / "reports/machine.json").unlink(missing_ok=True)
    else:
        (repo / "reports/machine.json").write_text(json.dumps(machine))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """base: made on the Xeon; then heads made on the EPYC (fresh build, Keras moved), on the EPYC with the SVC
    2 points worse, on the Xeon with Keras 2 points worse, and one without a machine record."""
    from dvc.repo import Repo

    repo = tmp_path_factory.mktemp("machines")
    git(repo, "init", "-q", "-b", "main")
    Repo.init(str(repo)).close()
    (repo / "dvc.yaml").write_text("stages:\n  report:\n    cmd: 'true'\n    params: [sklearn, keras]\n")
    (repo / "reports").mkdir()
    commit(repo, metrics(), identity(XEON), "base")
    for name, m, machine in (("fresh-on-epyc", metrics(keras_acc=0.87), identity(EPYC)),
                             ("svc-worse-on-epyc", metrics(keras_acc=0.87, svc_acc=0.89), identity(EPYC)),
                             ("keras-worse-same-machine", metrics(keras_acc=0.88), identity(XEON)),
                             ("no-record", metrics(keras_acc=0.88), None)):
        git(repo, "checkout", "-q", "-B", name, "main")
        commit(repo, m, machine, name)
    git(repo, "checkout", "-q", "main")
    return repo


def compare(repo: Path, head: str, tmp_path: Path, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(repo)
    out = tmp_path / f"{head}.md"
    code = main(["--base", "main", "--head", head, "--gates", GATES, "--out", str(out)])
    return code, out.read_text()


def test_another_kind_of_machine_is_named_and_its_keras_figures_are_not_a_regression(repo, tmp_path, monkeypatch):
    code, md = compare(repo, "fresh-on-epyc", tmp_path, monkeypatch)
    assert code == 0, md
    assert "Made on different kinds of machine" in md and "Intel(R) Xeon(R) Platinum" in md and "AMD EPYC 7B13" in md
    assert "variants (svc) train to the same bytes anywhere and are gated as usual" in md
    assert "✅ **All gates hold.**" in md


def test_a_real_regression_still_fails_across_machines(repo, tmp_path, monkeypatch):
    code, md = compare(repo, "svc-worse-on-epyc", tmp_path, monkeypatch)
    assert code == 1, md
    violations = md.split("### Gate violations")[1].split("###")[0]
    assert "`svc_e2e.onnx.fp32` **accuracy**" in violations and "keras.tflite.fp32" not in violations


def test_on_the_same_kind_of_machine_every_variant_is_gated(repo, tmp_path, monkeypatch):
    code, md = compare(repo, "keras-worse-same-machine", tmp_path, monkeypatch)
    assert code == 1 and "`keras.tflite.fp32` **accuracy**" in md and "different kinds of machine" not in md


def test_a_run_without_a_machine_record_is_said_and_gated_as_before(repo, tmp_path, monkeypatch):
    code, md = compare(repo, "no-record", tmp_path, monkeypatch)
    assert code == 1 and "the head does not record its machine (machine.json)" in md
