"""The pipeline's wiring: every DVC stage once, and dvc.yaml written from it.

    python -m pipeline wire           write dvc.yaml
    python -m pipeline wire --check   exit 1 when dvc.yaml is not what this module writes
    python -m pipeline wire --prune-lock   drop dvc.lock entries of stages dvc.yaml no longer has

A stage is its module under pipeline/stages, the matrix it fans out over, the params it reads and the
datasets the catalog says it reads and writes. Its code dependencies are the modules it runs, found by
following their imports (function-level ones too) from the stage module and pipeline/__main__.py, plus the
modules no import names (a target kind's runner, which the registry imports by a built name): editing a
module re-runs exactly the stages that run it. Each target kind gets a benchmark stage of its own.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline import catalog as cat
from pipeline.targets.kinds import TARGET_KINDS

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = ROOT / "dvc.yaml"
HEADER = "# Written by `python -m pipeline wire` from pipeline/wiring.py and pipeline/catalog.py: edit those.\n"

# Imported by every stage yet unable to change an output, so not a dependency (each says why).
NOT_INPUTS = {
    "pipeline/params.py": "validates and types params.yaml and holds no values (tests/test_params.py)",
    "pipeline/schema.py": "pydantic base types of that schema",
    "pipeline/errors.py": "error classes: messages and exit codes",
    "pipeline/log.py": "progress lines on stderr",
    "pipeline/environment.py": "compares the installed packages with requirements.lock: refuses, changes nothing",
    "pipeline/wiring.py": "writes dvc.yaml, which DVC reads; no stage output depends on it",
}
CHECK_RULES = ("pipeline/params.py", "pipeline/schema.py", "pipeline/environment.py")  # the check stage's inputs
REPORT_ONLY = ("devices", "ship")  # params only the report reads: editing one re-runs the report alone


@dataclass(frozen=True)
class Stage:
    name: str                              # in dvc.yaml
    module: str                            # pipeline/stages/<module>.py: `python -m pipeline <module> <args>`
    reads: tuple[cat.Dataset, ...]
    writes: tuple[cat.Dataset, ...]
    params: tuple[str, ...]
    matrix: tuple[tuple[str, str], ...] = ()  # (argument, the params mapping it fans out over)
    runs: tuple[str, ...] = ()             # modules it runs that no import names
    files: tuple[str, ...] = ()            # dependencies that are neither modules nor datasets


def stages() -> list[Stage]:
    from pipeline.params import Params

    measured = tuple(k for k in Params.model_fields if k not in REPORT_ONLY)
    return [
        # Every stage depends on check's marker: a bad param or WAV stops there, before DVC deletes any output.
        Stage("check", "check", (cat.LOCK,), (cat.CHECKED,), measured, files=("${data.folder}",),
              runs=(*CHECK_RULES, *(k.module_names()["schema"] for k in TARGET_KINDS.values()))),
        Stage("synthesize", "synthesize", (cat.CHECKED,), (cat.AUDIO, cat.MANIFEST), ("seed", "data"),
              files=("${data.folder}",)),
        Stage("features", "features", (cat.CHECKED, cat.AUDIO, cat.MANIFEST), (cat.FEATURES, cat.AUDIO_SPLITS),
              ("data.labels", "data.sample_rate", "features")),
        Stage("train_sklearn", "train_sklearn", (cat.CHECKED, cat.FEATURES), (cat.SKLEARN_MODEL,),
              ("seed", "sklearn.${item.model}"), matrix=(("model", "sklearn"),)),
        # an entry with its own front end computes its MFCCs from the raw clips (the shared ones otherwise)
        Stage("train_keras", "train_keras", (cat.CHECKED, cat.FEATURES, cat.AUDIO_SPLITS),
              (cat.KERAS_MODEL, cat.KERAS_HISTORY), ("seed", "data.sample_rate", "features", "keras.${item.model}"),
              matrix=(("model", "keras"),)),
        # every bundle carries the consumers of the app runtimes that run its format (pipeline/targets/app.py)
        Stage("convert", "convert", (cat.CHECKED, cat.SKLEARN_MODELS, cat.KERAS_MODELS, cat.FEATURES,
                                     cat.AUDIO_SPLITS, cat.MANIFEST), (cat.LEVEL_VARIANTS,),
              # sklearn and keras: the entries it converts (a removed one leaves its model folder behind)
              ("seed", "data", "formats", "sklearn", "keras", "quantization.${item.level}"),
              matrix=(("level", "quantization"),), files=consumer_sources()),
        *(benchmark_stage(k) for k in TARGET_KINDS.values()),
        Stage("report", "report", (cat.CHECKED, cat.FEATURES, cat.BENCH, cat.VARIANTS, cat.KERAS_HISTORIES,
                               cat.KERAS_MODELS),
              (cat.METRICS, cat.MACHINE, cat.SUMMARY, cat.REPORT_MD, cat.REPORT_HTML, cat.SIZE_ACCURACY_PLOT, cat.LATENCY_PLOT,
               cat.TARGET_COST_PLOT, cat.CONFUSION_PLOTS, cat.QUANT_ERROR_PLOTS),
              ("quantization", "targets", "formats", "data", "features", "keras", "benchmark.threads",
               "benchmark.streaming_hop_ms", *REPORT_ONLY),
              runs=tuple(k.module_names()["report"] for k in TARGET_KINDS.values())),
    ]


def consumer_sources() -> tuple[str, ...]:
    from pipeline.targets.app import APP_RUNTIMES

    return tuple(sorted({str(f.relative_to(ROOT)) for r in APP_RUNTIMES.values() for f in r.files}))


def benchmark_stage(kind) -> Stage:
    """One stage per target of the kind, every level in it: cells are cached by content, so a stage re-run
    after one level changed measures that level's cells alone (pipeline/bench/measurement_cache.py)."""
    reads = (cat.CHECKED, cat.VARIANTS, cat.FEATURES, cat.AUDIO_SPLITS, cat.SKLEARN_MODELS,
             cat.KERAS_MODELS)  # agreement is scored against each source model's test predictions
    return Stage(f"benchmark_{kind.name}", "benchmark", reads, (cat.TARGET_BENCH,),
                 ("benchmark.threads", "benchmark.warmup", "benchmark.runs", "benchmark.load_repeats",
                  f"targets.{kind.name}.${{item.target}}"),
                 matrix=(("target", f"targets.{kind.name}"),), runs=(kind.module_names()["run"],), files=kind.data)


def benchmark_code(kind_name: str) -> list[str]:
    """What a kind's benchmark stage runs, as dvc.yaml lists it (the measurement cache keys on it)."""
    stage = benchmark_stage(TARGET_KINDS[kind_name])
    return [*folded(code_of(stage)), *stage.files]


def stage_arguments() -> dict[str, list[str]]:
    """python -m pipeline <module> takes the stage's matrix keys, in order."""
    return {s.module: [key for key, _ in s.matrix] for s in stages()}


# --------------------------------------------------------------------------- the modules a stage runs

RUN_MODULE = re.compile(r"pipeline(\.[a-z_]+)+")  # `python -m pipeline.bench.harness`
RUN_FILE = re.compile(r"pipeline(/[a-z_]+)+\.py")   # a guest's list of files to copy


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


def code_of(stage: Stage) -> set[str]:
    exempt = {k: v for k, v in NOT_INPUTS.items() if k not in stage.runs}
    runs = [r[: -len(".py")].replace("/", ".") if r.endswith(".py") else r for r in stage.runs]
    return import_closure([f"pipeline.stages.{stage.module}", "pipeline.__main__", *runs], exempt)


def folded(files: set[str]) -> list[str]:
    """The files, a folder standing for all of its modules when the stage runs every one of them."""
    def covered(module: str, deps: set[str]) -> bool:
        return any(module == d or module.startswith(d + "/") for d in deps)

    out = set(files)
    folders = {str(p) for f in files for p in Path(f).parents if p.parts and str(p) != "pipeline"}
    for folder in sorted(folders, key=lambda d: -d.count("/")):  # the deepest first
        modules = [p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*.py")
                   if "__pycache__" not in p.parts and p.read_text().strip()]
        if modules and all(covered(m, out) for m in modules):
            out = {d for d in out if not d.startswith(folder + "/")} | {folder}
    return sorted(out)


# --------------------------------------------------------------------------- dvc.yaml


def _outputs(datasets) -> dict[str, list]:
    sections: dict[str, list] = {}
    for d in datasets:
        entry = {d.dvc(): dict(d.options)} if d.options else d.dvc()
        sections.setdefault(d.section, []).append(entry)
    return {s: sections[s] for s in ("outs", "metrics", "plots") if s in sections}


def definition(stage: Stage) -> dict:
    args = " ".join(f"${{item.{key}}}" for key, _ in stage.matrix)
    out: dict = {}
    if stage.matrix:
        out["matrix"] = {key: f"${{{params}}}" for key, params in stage.matrix}
    out["cmd"] = f"python -m pipeline {stage.module} {args}".strip()
    out["deps"] = [*folded(code_of(stage)), *stage.files, *(d.dvc() for d in stage.reads)]
    out["params"] = list(stage.params)
    return {**out, **_outputs(stage.writes)}


def render() -> str:
    import yaml

    body = {"stages": {s.name: definition(s) for s in stages()}}
    return HEADER + yaml.safe_dump(body, sort_keys=False, width=120, default_flow_style=False)


def prune_lock() -> list[str]:
    """Drop dvc.lock's entries for stages dvc.yaml no longer has (a renamed stage, a removed target): DVC
    keeps them for good, and every no-op `dvc repro` parses them."""
    from dvc.repo import Repo
    from dvc.utils.serialize import modify_yaml

    lock = ROOT / "dvc.lock"
    if not lock.exists():
        return []
    with Repo(str(ROOT)) as repo:
        names = {stage.name for stage in repo.index.stages}
    with modify_yaml(str(lock)) as data:
        stale = [name for name in data.get("stages", {}) if name not in names]
        for name in stale:
            del data["stages"][name]
    return stale


def main(args: list[str]) -> int:
    from pipeline import io as pio

    if args == ["--prune-lock"]:
        stale = prune_lock()
        if stale:
            print(f"dvc.lock: dropped {len(stale)} entries of stages dvc.yaml no longer has: {', '.join(stale)}")
        return 0
    text = render()
    if args == ["--check"]:
        if DVC_YAML.read_text() != text:
            print(f"{DVC_YAML.name} is not what pipeline/wiring.py writes: run `python -m pipeline wire`",
                  file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python -m pipeline wire [--check | --prune-lock]", file=sys.stderr)
        return 2
    pio.atomic_write_text(DVC_YAML, text)
    print(f"wrote {DVC_YAML.name}: {len(stages())} stages")
    return 0
