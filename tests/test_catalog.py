"""dvc.yaml is what pipeline/wiring.py writes, and that wiring is right: each stage depends on every module
it runs and on nothing it does not, a kind's benchmark stage on its own runner only, the report on no runner,
and the runtime an app embeds imports no converter and no TensorFlow.

A stage whose code deps missed a module it runs would stay "up to date" after that module changed: the
silent staleness this test exists to catch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from pipeline import catalog as cat
from pipeline import wiring
from pipeline.targets.kinds import TARGET_KINDS

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_dvc_yaml_is_what_the_wiring_writes():
    assert (ROOT / "dvc.yaml").read_text() == wiring.render(), "run: python -m pipeline wire"


def test_every_stage_once_and_one_benchmark_stage_per_kind():
    names = [s.name for s in wiring.stages()]
    assert len(names) == len(set(names)) and list(DVC) == names
    assert {n for n in names if n.startswith("benchmark")} == {f"benchmark_{k}" for k in TARGET_KINDS}


def covered(module: str, deps: list[str]) -> bool:
    return any(module == d or module.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("stage", wiring.stages(), ids=lambda s: s.name)
def test_code_deps_are_exactly_what_the_stage_runs(stage):
    deps = [d for d in DVC[stage.name]["deps"] if d.startswith("pipeline")]
    runs = wiring.code_of(stage)
    assert all(covered(m, deps) for m in runs)
    assert all(any(covered(m, [d]) for m in runs) or d in stage.files for d in deps)


def code(stage: str) -> list[str]:
    return [d for d in DVC[stage]["deps"] if d.startswith("pipeline")]


def test_a_kind_reruns_only_its_own_stages():
    """Editing the server re-runs the http benchmarks only; a runner is no dependency of the report; the
    Cortex-M harness only of the mcu stages; a nominal clock (devices) is the report's alone."""
    serve = "pipeline/runtime/serve.py"
    assert [s for s in DVC if covered(serve, code(s))] == ["benchmark_http"]
    assert [s for s in DVC if covered("pipeline/targets/mcu_c/harness.c", DVC[s]["deps"])] == ["benchmark_mcu"]
    for kind in TARGET_KINDS.values():
        runner = kind.module_names()["run"].replace(".", "/") + ".py"
        assert [s for s in DVC if covered(runner, code(s))] == [f"benchmark_{kind.name}"]
    assert [s for s in DVC if "devices" in DVC[s]["params"]] == ["report"]
    assert all(not p.startswith(wiring.REPORT_ONLY) for s in DVC if s != "report" for p in DVC[s]["params"])


def test_the_runtime_an_app_embeds_imports_no_converter_and_no_tensorflow():
    closure = wiring.import_closure(["pipeline.runtime.stream", "pipeline.runtime.classify", "pipeline.runtime.serve"],
                                    exempt={})
    assert not [m for m in closure if m.startswith(("pipeline/export/", "pipeline/models/"))
                and m != "pipeline/export/formats.py"]
    for module in closure:
        imported = {n.split(".")[0] for node in ast.walk(ast.parse((ROOT / module).read_text()))
                    for n in ([a.name for a in node.names] if isinstance(node, ast.Import) else
                              [node.module or ""] if isinstance(node, ast.ImportFrom) else [])}
        assert not imported & {"tensorflow", "keras", "tf2onnx", "skl2onnx"}, module


def test_no_stage_imports_another_stage():
    for path in sorted((ROOT / "pipeline" / "stages").glob("*.py")):
        stages = {m for m in wiring.imported_modules(path) if m.startswith("pipeline.stages")}
        assert not stages, f"{path.name} imports {sorted(stages)}: share through the catalog or a library module"


def test_paths_are_spelt_only_in_the_catalog():
    spelt = []
    names = [d.template for d in vars(cat).values() if isinstance(d, cat.Dataset)]
    names += [v for k, v in vars(cat).items() if k.endswith("_FILE") and isinstance(v, str)]
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        if path.name == "catalog.py":
            continue
        text = path.read_text()
        spelt += [f"{path.relative_to(ROOT)}: {n}" for n in names if f'"{n}' in text]
    assert not spelt, spelt


def test_not_inputs_hold_no_values():
    """The modules left out of the deps must not be able to change an output: no defaults in the schema."""
    from pipeline.params import Params

    assert [name for name, f in Params.model_fields.items() if not f.is_required()] == []
