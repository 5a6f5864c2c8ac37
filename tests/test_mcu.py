"""Microcontroller targets on the tiny build: the scikit-learn models as C firmware on an emulated Cortex-M4
(exact, repeatable instruction counts, flash, RAM, the host's answers), TFLite Micro's verdict on every TFLite
file, estimates labelled as estimates, and a missing toolchain named with its install command."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import ROOT, run
from pipeline.models.sklearn_models import ESTIMATOR_TYPES
from pipeline.errors import TargetUnavailable
from pipeline.targets import mcu_board as mcu
from pipeline.targets import mcu_codegen

SKLEARN = ("logreg", "random_forest", "mlp", "svc")  # tests/profiles/tiny.yaml
TARGET = "cortex-m4"


def _metrics(project) -> dict:
    return json.loads((project / "reports/metrics.json").read_text())


def test_every_estimator_type_has_a_c_generator():
    assert set(mcu_codegen.C_GENERATORS) == set(ESTIMATOR_TYPES)


def test_sklearn_fp32_entries_have_exact_counts_and_the_hosts_answers(built_project):
    m = _metrics(built_project)
    for model in SKLEARN:
        e = m[f"{model}.onnx.fp32"][TARGET]
        assert e["status"] == "ok" and e["method"] == "exact", (model, e)
        assert isinstance(e["instructions_per_inference"], int) and e["instructions_per_inference"] > e["front_instructions"] > 0
        assert e["instructions_min"] <= e["instructions_per_inference"] <= e["instructions_max"]
        assert e["flash_bytes"] > e["front_flash_bytes"] > 0 and e["ram_bytes"] > e["stack_bytes"] > 0
        assert e["agreement_clips"] == len(json.loads((built_project / "reports/bench/host/fp32.json").read_text())
                                           [f"{model}.onnx.fp32"]["record"]["predictions"])
        assert e["host_agreement"] >= 0.9 and e["host_mismatches"] == round((1 - e["host_agreement"]) * e["agreement_clips"])
        assert e["generator"].split()[0] in ("emlearn", "m2cgen")
    # the other levels of the same models say where the counts are
    assert m["mlp.onnx.int8"][TARGET] == {"status": "not_applicable", "reason": m["mlp.onnx.int8"][TARGET]["reason"]}
    assert "fp32 entry" in m["mlp.onnx.int8"][TARGET]["reason"]


def test_one_model_answers_the_same_in_every_artefact(built_project):
    """The firmware and the ONNX artefact of each model follow the rule of its reported accuracy (its most
    probable class; for the SVC, Platt-scaled probabilities rather than predict()'s vote) on every test clip,
    and the firmware's own accuracy is the reported one."""
    m = _metrics(built_project)
    for model in SKLEARN:
        e = m[f"{model}.onnx.fp32"]
        fw = e[TARGET]
        assert e["agreement"] == 1.0 and fw["host_agreement"] == 1.0 and fw["host_mismatches"] == 0, (model, fw)
        assert fw["firmware_accuracy"] == e["accuracy"] and fw["agreement_clips"] == e["test_clips"], (model, fw)


def test_the_svc_firmware_computes_the_probability_rule_not_the_vote():
    """On clips where predict()'s one-vs-one vote and the most probable class differ, the generated C
    (compiled for this host: the same source the boards build) answers with the most probable class."""
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.svm import SVC

    X, y = make_classification(n_samples=400, n_features=6, n_informative=5, n_redundant=0, n_classes=5,
                               n_clusters_per_class=1, class_sep=0.4, random_state=0)
    clf = SVC(C=1.0, probability=True, random_state=0).fit(X[:300], y[:300])
    test = X[300:]
    vote, rule = clf.predict(test), clf.predict_proba(test).argmax(1)
    assert (vote != rule).any()  # the two rules differ here: the test can tell them apart
    gen = mcu_codegen.C_GENERATORS["svc"](clf, X.shape[1])
    rows = ",".join("{" + ",".join(repr(float(v)) for v in r) + "}" for r in test)
    main = (f"#include <stdio.h>\n#include <stdint.h>\n{gen.code}\nstatic const float X[{len(test)}][6] = {{{rows}}};\n"
            f"int main(void) {{ for (int i = 0; i < {len(test)}; i++) printf(\"%d\\n\", (int)classify(X[i])); return 0; }}\n")
    work = ROOT / ".cache" / "tmp" / "svc-rule"
    work.mkdir(parents=True, exist_ok=True)
    (work / "svc.c").write_text(main)
    subprocess.run(["cc", "-O1", "-o", str(work / "svc"), str(work / "svc.c"), "-lm"], check=True)
    got = np.array([int(x) for x in subprocess.run([str(work / "svc")], capture_output=True, text=True,
                                                   check=True).stdout.split()])
    assert (got == rule).all() and not (got == vote).all()


def test_counts_are_identical_across_two_runs(built_copy, monkeypatch, tmp_path):
    bench = built_copy / "reports/bench" / TARGET / "fp32.json"
    first = bench.read_bytes()
    monkeypatch.setenv("PIPELINE_MEASUREMENT_CACHE", str(tmp_path / "empty"))  # measured again, not recalled
    run(["python", "-m", "pipeline", "benchmark", TARGET], built_copy)
    again = bench.read_bytes()
    a, b = json.loads(first), json.loads(again)
    exact = [vid for vid, e in a.items() if e["status"] == "ok"]
    assert len(exact) == len(SKLEARN)
    for vid in exact:
        for key in ("instructions_per_inference", "instructions_min", "instructions_max", "flash_bytes", "ram_bytes",
                    "firmware_sha256", "host_agreement"):
            assert a[vid][key] == b[vid][key], (vid, key)
    assert first == again  # the whole file: nothing in it is a timing
    assert not (built_copy / "tmp").exists()  # the generators leave nothing in the workspace


def test_tflm_verdict_on_every_tflite_variant(built_project):
    m = _metrics(built_project)
    tflite = {vid: e for vid, e in m.items() if vid != "ship" and e["format"] in ("tflite", "tflm") and e["status"] == "ok"}
    assert tflite
    for vid, e in tflite.items():
        t = e["tflm"]
        assert set(t) == {"loads", "reason", "arena_bytes", "reference_agreement"}, vid
        if t["loads"]:
            assert t["reason"] is None and t["arena_bytes"] > 0 and t["reference_agreement"] >= 0.99, (vid, t)
        else:
            assert t["reason"] and t["arena_bytes"] is None and t["reference_agreement"] is None, (vid, t)
    tflite = {vid: e for vid, e in tflite.items() if e["format"] == "tflite"}
    assert tflite["keras.tflite.int8"]["tflm"]["loads"]
    assert "DEQUANTIZE" in tflite["keras.tflite.fp16"]["tflm"]["reason"]
    assert "RFFT2D" in tflite["keras_e2e.tflite.int8"]["tflm"]["reason"]
    tflm = {vid: e for vid, e in m.items() if vid != "ship" and e["format"] == "tflm" and e["status"] == "ok"}
    assert set(tflm) == {f"{m}_e2e.tflm.{q}" for m in ("keras", "small") for q in ("fp32", "int8", "int16x8")}
    for vid, e in tflm.items():  # the end-to-end file TFLite Micro runs: it loads, agrees, and matches librosa
        assert e["tflm"]["loads"] and e["tflm"]["reference_agreement"] >= 0.99, (vid, e["tflm"])
        assert e["mfcc_max_abs_diff"] < 1e-3, vid
    assert "float16" in m["keras_e2e.tflm.fp16"]["reason"] and "hybrid" in m["keras_e2e.tflm.dynamic_int8"]["reason"]
    # on the Cortex-M target a TFLite variant is an estimate, labelled so, with TFLite Micro's arena as its RAM
    est = m["keras.tflite.int8"][TARGET]
    assert est["status"] == "estimate" and est["method"] == "estimate" and est["macs"] > 0
    assert abs(est["estimated_cycles"] - est["macs"] * est["cycles_per_mac"]) <= est["macs"] * 0.001
    assert est["ram_bytes"] == m["keras.tflite.int8"]["tflm"]["arena_bytes"]
    assert "instructions_per_inference" not in est  # an estimate has no count


def test_report_has_the_mcu_table_and_a_line_per_variant(built_project):
    report = (built_project / "reports/report.md").read_text()
    assert "## Microcontrollers (Cortex-M)" in report and "### TFLite Micro" in report
    assert "estimate (MACs x float cycles/MAC)" in report and "(estimate)" in report
    for model in SKLEARN:
        assert f"{model}.onnx.fp32: runs as C (" in report, model
    assert "keras.tflite.int8: loads on TFLite Micro with a" in report
    assert "keras.tflite.fp16: does not run on TFLite Micro:" in report


def test_a_missing_toolchain_names_the_install_command(monkeypatch):
    monkeypatch.setattr(mcu.shutil, "which", lambda tool: None)
    with pytest.raises(TargetUnavailable) as err:
        mcu.check_available()
    assert "arm-none-eabi-gcc" in str(err.value) and "qemu-system-arm" in str(err.value)
    assert "apt-get install" in str(err.value) and "picolibc-arm-none-eabi" in str(err.value)


def test_a_required_target_without_toolchain_fails_the_stage(built_copy, tmp_path):
    """PATH without /usr/bin: the stage stops with the install command; nothing is written."""
    bench = built_copy / "reports/bench" / TARGET / "int8.json"
    before = bench.read_bytes()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python", "python3"):
        os.symlink(ROOT / ".venv/bin" / tool, bin_dir / tool)
    res = subprocess.run([str(bin_dir / "python"), "-m", "pipeline", "benchmark", TARGET], cwd=built_copy,
                         capture_output=True, text=True, env={**os.environ, "PATH": str(bin_dir)})
    assert res.returncode != 0
    assert "apt-get install" in res.stderr and "arm-none-eabi-gcc" in res.stderr, res.stderr[-2000:]
    assert bench.read_bytes() == before


def test_the_matmul_front_has_only_tflm_ops_and_matches_librosa():
    import numpy as np
    from tflite_micro.python.tflite_micro import runtime

    from conftest import MFCC_16K
    from pipeline.audio.mfcc import mfcc_reference
    from pipeline.audio.mfcc_graph import tflite_mfcc_model_bytes, tflite_op_names

    data = tflite_mfcc_model_bytes(MFCC_16K, 16000, dft="matmul")
    ops = set(tflite_op_names(data))
    assert "FULLY_CONNECTED" in ops and not ops & {"RFFT2D", "REAL", "IMAG", "COMPLEX_ABS"}
    it = runtime.Interpreter.from_bytes(data, arena_size=4 * 1024 * 1024)
    clip = (np.random.default_rng(3).normal(size=(1, 16000)) * 0.2).astype(np.float32)
    it.set_input(clip, 0)
    it.invoke()
    assert np.abs(it.get_output(0)[0] - mfcc_reference(clip[0], MFCC_16K)).max() < 1e-3
