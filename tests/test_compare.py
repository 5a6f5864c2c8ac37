"""`python -m pipeline compare` and its gates: pure unit tests, bad gates files, and an
integration test on a throw-away git + DVC repository."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.compare import (  # noqa: E402
    ABSENT,
    compare_metrics,
    diff_params,
    flatten_params,
    main,
    render_markdown,
    within_run_ratios,
)
from pipeline.compare.gates import GatesError, load_gates, parse_gates  # noqa: E402

GATES_FILE = ROOT / "gates.yaml"


@pytest.fixture(scope="module")
def gates():
    return load_gates(GATES_FILE)


@pytest.fixture
def ratio_gates():
    """The committed gates plus an opt-in within-run latency ratio gate (not gated by default)."""
    import yaml

    raw = yaml.safe_load(Path(GATES_FILE).read_text())
    raw["gates"]["latency_p50_us"] = {"scope": "targets", "measure": "within_run_ratio", "better": "lower",
                                      "relative": 0.25}
    return parse_gates(raw)


def variant(model="keras", fmt="tflite", quant="int8", *, size=41234, acc=0.912, agr=0.987,
            p50=60.0, insns=1_834_567, emu_p50=800.0, **extra) -> dict:
    entry = {
        "model": model, "format": fmt, "quantization": quant, "status": "ok",
        "size_bytes": size, "accuracy": acc, "agreement": agr,
        "host": {"status": "ok", "latency_p50_us": p50, "latency_p90_us": p50 * 1.2, "load_ms": 3.2,
                 "peak_rss_mb": 120.5},
        "cortex-a53": {"status": "ok", "instructions_per_inference": insns,
                       "emulated_latency_p50_us": emu_p50, "estimated_device_latency_us": insns / 2400},
    }
    entry.update(extra)
    return entry


def run(base, head, gates, **kw):
    return compare_metrics(base, head, gates, **kw)


def labels(cmp):
    return {(v.variant, v.metric) for v in cmp.violations}


BASE = {"keras.tflite.fp32": variant(quant="fp32", size=160_000, acc=0.92, agr=1.0, p50=120.0,
                                    insns=5_000_000, emu_p50=2000.0),
        "keras.tflite.int8": variant()}


def head_with(target: str | None = None, **changes) -> dict:
    """BASE with keras.tflite.int8's fields (or those of one of its targets) changed."""
    head = copy.deepcopy(BASE)
    entry = head["keras.tflite.int8"]
    (entry[target] if target else entry).update(changes)
    return head


# --------------------------------------------------------------------------- gate arithmetic


def test_identical_metrics_hold(gates):
    cmp = run(BASE, copy.deepcopy(BASE), gates)
    assert cmp.ok and not cmp.warnings
    assert "✅ **All gates hold.**" in render_markdown(cmp, [], "base", "head")


@pytest.mark.parametrize("acc, ok", [(0.908, True), (0.907, True), (0.906, False), (0.95, True)])
def test_accuracy_absolute_gate(gates, acc, ok):
    cmp = run(BASE, head_with(accuracy=acc), gates)
    assert cmp.ok is ok
    assert (("keras.tflite.int8", "accuracy") in labels(cmp)) is not ok


@pytest.mark.parametrize("agr, ok", [(0.977, True), (0.976, False)])
def test_agreement_absolute_gate(gates, agr, ok):
    assert run(BASE, head_with(agreement=agr), gates).ok is ok


@pytest.mark.parametrize("size, ok", [(42_058, True), (42_059, False), (30_000, True)])
def test_size_relative_gate(gates, size, ok):  # 41,234 * 1.02 = 42,058.68
    cmp = run(BASE, head_with(size_bytes=size), gates)
    assert cmp.ok is ok
    if not ok:
        (v,) = cmp.violations
        assert "size_bytes" in v.message and "41,234" in v.message and "42,059" in v.message
        assert "≤ 42,058.7" in v.message and "2 %" in v.message


@pytest.mark.parametrize("insns, ok", [(1_852_000, True), (1_853_000, False)])
def test_instructions_gate_is_per_target(gates, insns, ok):
    cmp = run(BASE, head_with("cortex-a53", instructions_per_inference=insns), gates)
    assert cmp.ok is ok
    assert (("keras.tflite.int8", "instructions_per_inference @ cortex-a53") in labels(cmp)) is not ok


def test_absolute_latency_is_never_compared_across_runs(gates):
    head = copy.deepcopy(BASE)  # a runner three times slower: every time triples, ratios do not move
    for entry in head.values():
        entry["host"]["latency_p50_us"] *= 3
        entry["cortex-a53"]["emulated_latency_p50_us"] *= 3
    assert run(BASE, head, gates).ok


@pytest.mark.parametrize("p50, ok", [(75.0, True), (76.0, False), (30.0, True)])
def test_within_run_latency_ratio_gate(ratio_gates, p50, ok):
    gates = ratio_gates
    # base ratio 60/120 = 0.5; 25 % growth allows 0.625, i.e. 75 us against the same 120 us fp32
    cmp = run(BASE, head_with("host", latency_p50_us=p50), gates)
    assert cmp.ok is ok
    assert (("keras.tflite.int8", "latency_p50_us ÷ fp32 @ host") in labels(cmp)) is not ok
    if not ok:
        (v,) = cmp.violations
        assert "0.5 → 0.6333" in v.message and "≤ 0.625" in v.message


def test_ratio_follows_the_reference_not_the_clock(ratio_gates):
    gates = ratio_gates
    head = copy.deepcopy(BASE)
    head["keras.tflite.fp32"]["host"]["latency_p50_us"] = 80.0  # fp32 got faster, int8 did not
    cmp = run(BASE, head, gates)
    assert ("keras.tflite.int8", "latency_p50_us ÷ fp32 @ host") in labels(cmp)  # 0.5 -> 0.75


def test_within_run_ratios():
    m = copy.deepcopy(BASE)
    m["keras.onnx.int8"] = variant(fmt="onnx")  # no onnx fp32: no ratio
    m["keras.tflite.fp16"] = variant(quant="fp16", p50=90.0)
    m["keras.tflite.fp16"]["cortex-a53"] = {"status": "skipped", "reason": "no qemu"}
    ratios = within_run_ratios(m, "latency_p50_us")
    assert ratios == {("keras.tflite.int8", "host"): 0.5, ("keras.tflite.fp16", "host"): 0.75}
    emu = within_run_ratios(m, "emulated_latency_p50_us")
    assert emu == {("keras.tflite.int8", "cortex-a53"): 0.4}


def test_other_numeric_fields_are_shown_not_gated(gates):
    head = head_with(parity_max_abs_diff=0.003)
    cmp = run(BASE, head, gates)
    assert cmp.ok
    row = next(r for r in cmp.rows["keras.tflite.int8"] if r.metric == "parity_max_abs_diff")
    assert row.base is None and row.head == 0.003 and row.gate is None
    assert not any(r.metric in ("load_ms", "latency_p90_us") for r in cmp.rows["keras.tflite.int8"])


def test_gated_metric_missing_at_head_fails(gates):
    head = copy.deepcopy(BASE)
    del head["keras.tflite.int8"]["accuracy"]
    cmp = run(BASE, head, gates)
    assert ("keras.tflite.int8", "accuracy") in labels(cmp)
    assert "missing at head" in cmp.violations[0].message


def test_latency_ratios_are_shown_without_a_ratio_gate(gates):
    """gates.yaml gates no latency, yet every variant but the fp32 one shows latency_p50_us / fp32 on
    each target that reports it, at base and head, ungated; a ratio gate replaces the shown row."""
    assert not any(g.measure == "within_run_ratio" for g in gates.gates.values())
    cmp = run(BASE, head_with("host", latency_p50_us=90.0), gates)
    assert cmp.ok and not cmp.warnings  # 0.5 -> 0.75: shown, never a violation
    (row,) = [r for r in cmp.rows["keras.tflite.int8"] if r.ratio_to]
    assert (row.label, row.base, row.head, row.gate, row.verdict) == \
        ("latency_p50_us ÷ fp32 @ host", 0.5, 0.75, None, "none")
    assert not any(r.ratio_to for r in cmp.rows["keras.tflite.fp32"])
    md = render_markdown(cmp, [], "b", "h")
    assert "| latency_p50_us ÷ fp32 @ host | 0.5 | 0.75 | +0.25 / +50.00 % |  |" in md
    assert "➖ <code>keras.tflite.int8</code>" not in md and "(4 gated values)" in md  # the shown row is not counted
    assert "⚠️" not in md


def test_shown_latency_ratio_is_not_repeated_when_gated(ratio_gates):
    cmp = run(BASE, copy.deepcopy(BASE), ratio_gates)
    (row,) = [r for r in cmp.rows["keras.tflite.int8"] if r.ratio_to]
    assert row.gate is not None and row.verdict == "pass"


def test_variant_identity_uses_split_variant_id():
    from pipeline.compare import CompareError, identity

    assert identity("odd.id", {"model": "keras", "format": "onnx", "quantization": "int8"}) == ("keras", "onnx", "int8")
    assert identity("keras.tflite.int8", {}) == ("keras", "tflite", "int8")
    assert identity("keras.tflite.int8", {"model": "keras_e2e"}) == ("keras_e2e", "tflite", "int8")
    with pytest.raises(CompareError, match=r"'keras\.int8'.*no format, quantization field"):
        identity("keras.int8", {"model": "keras"})


def test_unknown_gate_metric_is_an_error_naming_the_known_ones(tmp_path):
    gates = parse_gates({**yaml.safe_load(GATES_FILE.read_text()),
                         "gates": {"acuracy": {"better": "higher", "absolute": 0.005}}}, tmp_path / "g.yaml")
    with pytest.raises(GatesError) as err:
        run(BASE, copy.deepcopy(BASE), gates)
    text = str(err.value)
    assert f"{tmp_path / 'g.yaml'}: invalid gates" in text and "gates.acuracy: unknown metric" in text
    known = text.split("known metrics: ")[1]
    for name in ("'accuracy'", "'size_bytes'", "'latency_p50_us'", "'instructions_per_inference'"):
        assert name in known  # top-level and per-target fields, from the data
    assert "'status'" not in known and "'model'" not in known  # not numbers
    with pytest.raises(GatesError, match="acuracy"):  # a target skipped at both sides still has its field names
        run({}, {}, gates)


def test_known_metric_at_the_wrong_scope_warns(gates):
    raw = yaml.safe_load(GATES_FILE.read_text())
    raw["gates"]["instructions_per_inference"]["scope"] = "variant"  # a per-target field
    cmp = run(BASE, copy.deepcopy(BASE), parse_gates(raw))
    assert cmp.ok
    (warning,) = cmp.warnings
    assert "instructions_per_inference" in warning and "scope" in warning


# --------------------------------------------------------------------------- variants that come and go


def test_added_variant_is_reported_not_gated(gates):
    head = copy.deepcopy(BASE)
    head["logreg.onnx.fp32"] = variant("logreg", "onnx", "fp32")
    cmp = run(BASE, head, gates)
    assert cmp.ok and cmp.added == ["logreg.onnx.fp32"]
    assert "`logreg.onnx.fp32`" in render_markdown(cmp, [], "b", "h")


def test_removed_variant_fails_unless_allowed(gates):
    head = copy.deepcopy(BASE)
    del head["keras.tflite.int8"]
    cmp = run(BASE, head, gates)
    assert not cmp.ok and labels(cmp) == {("keras.tflite.int8", "status")}
    assert "absent" in cmp.violations[0].message
    assert run(BASE, head, gates, allow_lost=True).ok
    allowed = parse_gates({**yaml.safe_load(GATES_FILE.read_text()), "allow_lost": ["keras.*.int8"]})
    cmp = run(BASE, head, allowed)
    assert cmp.ok and cmp.lost == [("keras.tflite.int8", "absent", "absent from metrics", True)]


@pytest.mark.parametrize("status", ["not_applicable", "skipped"])
def test_variant_that_stops_being_built_fails(gates, status):
    head = copy.deepcopy(BASE)
    head["keras.tflite.int8"] = {"model": "keras", "format": "tflite", "quantization": "int8",
                                 "status": status, "reason": "converter refused"}
    cmp = run(BASE, head, gates)
    assert not cmp.ok
    assert status in cmp.violations[0].message and "converter refused" in cmp.violations[0].message


def test_not_applicable_in_both_is_fine_and_failed_status_fails(gates):
    na = {"model": "random_forest", "format": "onnx", "quantization": "int8", "status": "not_applicable",
          "reason": "TreeEnsembleClassifier is an ai.onnx.ml operator"}
    base = {**BASE, "random_forest.onnx.int8": na}
    cmp = run(base, copy.deepcopy(base), gates)
    assert cmp.ok and cmp.not_built[0][0] == "random_forest.onnx.int8"
    broken = {**copy.deepcopy(base), "random_forest.onnx.int8": {**na, "status": "error", "reason": "boom"}}
    assert ("random_forest.onnx.int8", "status") in labels(run(base, broken, gates))


def test_target_skipped_at_head_warns(gates):
    head = copy.deepcopy(BASE)
    for entry in head.values():
        entry["cortex-a53"] = {"status": "skipped", "reason": "qemu-aarch64 not installed"}
    cmp = run(BASE, head, gates)
    assert cmp.ok
    (warning,) = cmp.warnings  # one line for the target, not one per variant and gate
    assert "cortex-a53" in warning and "qemu-aarch64 not installed" in warning and "2 variants" in warning


def test_base_without_metrics_counts_everything_as_new(gates):
    cmp = run({}, BASE, gates)
    assert cmp.ok and sorted(cmp.added) == sorted(BASE)


# --------------------------------------------------------------------------- params diff


def test_params_diff_is_flat():
    base = {"seed": 42, "keras": {"epochs": 30, "lr": 0.001}, "data": {"labels": ["a", "b"]}}
    head = {"seed": 42, "keras": {"epochs": 5, "dropout": 0.2}, "data": {"labels": ["a"]}}
    assert flatten_params(base)["keras.epochs"] == 30
    assert diff_params(base, head) == [
        ("data.labels", ["a", "b"], ["a"]), ("keras.dropout", ABSENT, 0.2),
        ("keras.epochs", 30, 5), ("keras.lr", 0.001, ABSENT)]
    md = render_markdown(run({}, {}, load_gates(GATES_FILE)), diff_params(base, head), "b", "h")
    assert "| `keras.epochs` | `30` | `5` |" in md and "*(absent)*" in md


# --------------------------------------------------------------------------- bad gates files / usage


def _write_gates(tmp_path, mutate) -> Path:
    raw = yaml.safe_load(GATES_FILE.read_text())
    mutate(raw)
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize("mutate, expected", [
    (lambda g: g.update(alow_lost=[]), ["alow_lost", "unknown key", "allow_lost"]),
    (lambda g: g["gates"]["accuracy"].update(tolerance=0.1), ["gates.accuracy.tolerance", "unknown key", "absolute"]),
    (lambda g: g["gates"]["size_bytes"].update(relative=-0.02), ["gates.size_bytes.relative", "-0.02", ">= 0"]),
    (lambda g: g["gates"]["size_bytes"].update(relative="2%"), ["gates.size_bytes.relative", "'2%'", "number"]),
    (lambda g: g["gates"]["accuracy"].update(better="up"), ["gates.accuracy.better", "'up'", "higher"]),
    (lambda g: g["gates"]["accuracy"].update(relative=0.01), ["gates.accuracy", "exactly one"]),
    (lambda g: g["gates"].update(latency_p50_us={"scope": "targets", "better": "lower", "relative": 0.1}),
     ["gates.latency_p50_us.measure", "'value'", "within_run_ratio"]),
    (lambda g: g["gates"].update(accuracy=0.005), ["gates.accuracy = 0.005", "must be a mapping"]),
    (lambda g: g.update(reference_quantization="fp64"), ["reference_quantization", "'fp64'", "fp32"]),
])
def test_bad_gates_file_exits_2_naming_the_key(tmp_path, capsys, mutate, expected):
    path = _write_gates(tmp_path, mutate)
    with pytest.raises(GatesError):
        load_gates(path)
    assert main(["--gates", str(path)]) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, (text, err)


def test_gates_file_missing_or_not_a_mapping(tmp_path, capsys):
    assert main(["--gates", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "list.yaml").write_text("- accuracy\n")
    assert main(["--gates", str(tmp_path / "list.yaml")]) == 2
    assert "mapping" in capsys.readouterr().err


def test_bad_usage_exits_2(capsys):
    assert main(["--no-such-option"]) == 2


# --------------------------------------------------------------------------- integration: git + DVC


DVC_YAML = """\
stages:
  report:
    cmd: python -c "pass"
    params:
      - seed
      - keras
    metrics:
      - reports/metrics.json:
          cache: false
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _commit(repo: Path, params: dict, metrics_: dict, message: str) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    (repo / "reports" / "metrics.json").write_text(json.dumps(metrics_, indent=1))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory):
    """Four commits: v0 without metrics; v1; v2 = params changed, keras.tflite.int8 2 points less accurate and 10 %
    larger; v3 = v2's params and metrics (only a README changes)."""
    from dvc.repo import Repo

    repo = tmp_path_factory.mktemp("dvc_repo")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "ci")
    _git(repo, "config", "commit.gpgsign", "false")
    Repo.init(str(repo)).close()
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "reports").mkdir()
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "v0: the pipeline, no metrics or params yet")
    _commit(repo, {"seed": 1, "keras": {"epochs": 30}}, BASE, "v1")
    worse = head_with(accuracy=0.892, size_bytes=45_357)
    _commit(repo, {"seed": 2, "keras": {"epochs": 30}}, worse, "v2")
    (repo / "README.md").write_text("docs only\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "v3")
    return repo


def test_integration_regression_fails(dvc_repo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(dvc_repo)
    out = tmp_path / "compare.md"
    assert main(["--base", "HEAD~2", "--head", "HEAD~1", "--gates", str(GATES_FILE), "--out", str(out)]) == 1
    md = out.read_text()
    assert md.strip() in capsys.readouterr().out
    violations = md.split("### Gate violations")[1].split("###")[0]
    accuracy = next(line for line in violations.splitlines() if "**accuracy**" in line)
    for text in ("keras.tflite.int8", "0.912", "0.892", "≥ 0.907"):
        assert text in accuracy
    size = next(line for line in violations.splitlines() if "**size_bytes**" in line)
    for text in ("keras.tflite.int8", "41,234", "45,357", "≤ 42,058.7", "+10.00 %"):
        assert text in size
    assert "| `seed` | `1` | `2` |" in md
    assert "❌ **2 gate violations.**" in md


def test_integration_identical_revisions_pass(dvc_repo, monkeypatch, capsys):
    monkeypatch.chdir(dvc_repo)
    assert main(["--base", "HEAD~1", "--head", "HEAD", "--gates", str(GATES_FILE)]) == 0
    out = capsys.readouterr().out
    assert "No parameter changes." in out and "✅ **All gates hold.**" in out


def test_integration_workspace_head_and_missing_workspace_metrics(dvc_repo, monkeypatch):
    monkeypatch.chdir(dvc_repo)
    assert main(["--base", "HEAD~2", "--gates", str(GATES_FILE)]) == 1  # head: the workspace (= v3)
    metrics_file = dvc_repo / "reports" / "metrics.json"
    saved = metrics_file.read_text()
    metrics_file.unlink()  # dvc.api alone would fail for every revision now
    try:
        assert main(["--base", "HEAD~1", "--head", "HEAD", "--gates", str(GATES_FILE)]) == 0
        assert main(["--base", "HEAD~1", "--gates", str(GATES_FILE)]) == 2  # the workspace has none
    finally:
        metrics_file.write_text(saved)


def test_integration_base_without_metrics(dvc_repo, monkeypatch, capsys):
    monkeypatch.chdir(dvc_repo)
    assert main(["--base", "HEAD~3", "--head", "HEAD", "--gates", str(GATES_FILE)]) == 0
    out = capsys.readouterr().out
    assert "does not exist at base" in out and "`keras.tflite.int8`" in out


def test_integration_unknown_revision_exits_2(dvc_repo, monkeypatch, capsys):
    monkeypatch.chdir(dvc_repo)
    assert main(["--base", "no-such-branch", "--gates", str(GATES_FILE)]) == 2
    assert "no-such-branch" in capsys.readouterr().err


def test_integration_unknown_gate_metric_exits_2(dvc_repo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(dvc_repo)
    raw = yaml.safe_load(GATES_FILE.read_text())
    raw["gates"]["acuracy"] = raw["gates"].pop("accuracy")
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["--base", "HEAD~2", "--head", "HEAD~1", "--gates", str(path)]) == 2
    captured = capsys.readouterr()
    assert "gates.acuracy: unknown metric" in captured.err and "'accuracy'" in captured.err
    assert captured.out == ""  # no report: nothing was compared


def test_module_entry_point(dvc_repo):
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.compare", "--base", "HEAD~2", "--head", "HEAD",
         "--gates", str(GATES_FILE)],
        cwd=dvc_repo, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DVC_NO_ANALYTICS": "1"}, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "keras.tflite.int8" in proc.stdout and "**accuracy**" in proc.stdout
