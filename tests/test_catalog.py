"""dvc.yaml agrees with the catalog and with the code: each stage declares exactly the datasets the
catalog says it reads and writes, and a code dependency covering every module it imports.

A stage whose code deps miss a module it runs would stay "up to date" after that module changed: the
silent staleness this test exists to catch. The import closure is static (every `import` in the
module, function-level ones included), starting from the stage module and from pipeline/__main__.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from pipeline import catalog as cat

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]

# Imported by every stage yet unable to change an output, so not a dependency (each says why).
NOT_INPUTS = {
    "pipeline/params.py": "validates and types params.yaml and holds no values (tests/test_params.py)",
    "pipeline/schema.py": "pydantic base types of that schema",
    "pipeline/errors.py": "error classes: messages and exit codes",
    "pipeline/log.py": "progress lines on stderr",
    "pipeline/environment.py": "compares the installed packages with requirements.lock: refuses, changes nothing",
}


RUN_MODULE = re.compile(r"pipeline(\.[a-z_]+)+")
RUN_FILE = re.compile(r"pipeline(/[a-z_]+)+\.py")
CHECK_RULES = ("pipeline/params.py", "pipeline/schema.py", "pipeline/environment.py")  # the check stage's inputs


def module_file(name: str) -> Path | None:
    """pipeline.a.b -> pipeline/a/b.py or pipeline/a/b/__init__.py (None outside the project)."""
    base = ROOT / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)  # `from pipeline import io`
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # modules run rather than imported: `python -m pipeline.bench.harness`, guest file lists
            if RUN_MODULE.fullmatch(node.value):
                names.add(node.value)
            elif RUN_FILE.fullmatch(node.value):
                names.add(node.value[: -len(".py")].replace("/", "."))
    return {n for n in names if n == "pipeline" or n.startswith("pipeline.")}


def import_closure(start: list[str], exempt=NOT_INPUTS) -> set[str]:
    """Project files reachable by imports from the given modules (not through `exempt` ones)."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        f = module_file(todo.pop())
        if f is None:
            continue
        rel = f.relative_to(ROOT).as_posix()
        if rel in seen or rel in exempt:
            continue
        seen.add(rel)
        parts = rel.split("/")
        for i in range(1, len(parts) - 1):  # parent packages run their __init__ first
            init = "/".join(parts[:i + 1]) + "/__init__.py"
            if (ROOT / init).is_file() and (ROOT / init).read_text().strip():
                todo.append(".".join(parts[:i + 1]))
        todo.extend(imported_modules(f))
    return {m for m in seen if (ROOT / m).read_text().strip()}  # an empty __init__ cannot change anything


def declared(stage: str) -> tuple[set[str], set[str]]:
    """(code deps, data deps) of a stage in dvc.yaml."""
    deps = DVC[stage]["deps"]
    code = {d for d in deps if d.startswith("pipeline")}
    return code, {d for d in deps if d not in code}


def outputs(stage: str) -> set[str]:
    out = set()
    for section in ("outs", "metrics", "plots"):
        for entry in DVC[stage].get(section, []):
            out.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return out


def covered(module: str, deps: set[str]) -> bool:
    return any(module == d or module.startswith(d.rstrip("/") + "/") for d in deps)


def test_every_stage_of_dvc_yaml_is_in_the_catalog():
    assert set(DVC) == set(cat.STAGES)


@pytest.mark.parametrize("stage", sorted(cat.STAGES))
def test_data_deps_and_outs_agree_with_the_catalog(stage):
    io = cat.STAGES[stage]
    _, data = declared(stage)
    data.discard("${data.folder}")  # the user's WAV folder: a params value, not a catalog dataset
    assert data == {d.dvc() for d in io.reads}
    assert outputs(stage) == {d.dvc() for d in io.writes}


@pytest.mark.parametrize("stage", sorted(cat.STAGES))
def test_code_deps_cover_the_import_closure(stage):
    code, _ = declared(stage)
    # The check stage's job is validation: there the rules are inputs (a new rule must re-run it).
    exempt = {k: v for k, v in NOT_INPUTS.items() if stage != "check" or k not in CHECK_RULES}
    closure = import_closure([f"pipeline.stages.{stage}", "pipeline.__main__"], exempt)
    missing = sorted(m for m in closure if not covered(m, code))
    assert not missing, f"dvc.yaml stage {stage} runs these modules but does not depend on them: {missing}"
    unused = sorted(d for d in code if not any(covered(m, {d}) for m in closure))
    assert not unused, f"dvc.yaml stage {stage} depends on code it never imports: {unused}"


def test_no_stage_imports_another_stage():
    for path in sorted((ROOT / "pipeline" / "stages").glob("*.py")):
        stages = {m for m in imported_modules(path) if m.startswith("pipeline.stages")}
        assert not stages, f"{path.name} imports {sorted(stages)}: share through the catalog or a library module"


# Still spelling the model-folder file names (catalog.*_FILE), being refactored apart: to use the constants.
FILE_NAMES_PENDING = ("pipeline/targets/", "pipeline/stages/benchmark.py")


def test_paths_are_spelt_only_in_the_catalog():
    files = [v for k, v in vars(cat).items() if k.endswith("_FILE")]  # inside a model folder
    spelt = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "pipeline/catalog.py":
            continue
        text = path.read_text()
        spelt += [f"{rel}: {d.template}" for d in vars(cat).values()
                  if isinstance(d, cat.Dataset) and f'"{d.template}' in text]
        if not rel.startswith(FILE_NAMES_PENDING):
            spelt += [f"{rel}: {name}" for name in files if f'"{name}"' in text]
    assert not spelt, spelt


def test_not_inputs_hold_no_values():
    """The modules left out of the deps must not be able to change an output: no defaults in the schema."""
    from pipeline.params import Params

    def fields_with_defaults(model, prefix=""):
        for name, f in model.model_fields.items():
            if not f.is_required():
                yield f"{prefix}{name}"
    assert list(fields_with_defaults(Params)) == []
