"""Stage benchmark_<kind>@<target>: every variant of every level measured on one target ->
reports/bench/<target>/<level>.json.

The jobs (every built variant: its artefact, input layout and size) are the same for every kind; the
target's kind measures them (pipeline/targets/<kind>_run.py) and records only what it measured. Each cell
(a variant on this target) is cached by content (pipeline/bench/measurement_cache.py): after one variant
changed, the stage measures that one and reuses the rest. A target whose tools are missing fails the stage,
or, when it is not required, records the cells it has no cached measurement for as skipped.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.bench.child_env import PROJECT_ROOT
from pipeline.bench.measurement_cache import MeasurementCache, content_of, digest, for_target
from pipeline.bench.runtimes import FEATURE_OUTPUT
from pipeline.errors import DataError, TargetUnavailable
from pipeline.export.formats import FORMATS
from pipeline.log import info
from pipeline.params import Params
from pipeline.models.families import FAMILIES
from pipeline.variants import feature_input_model, is_e2e


class TestInputs:
    """The test split as each model takes it, written once per stage: the raw clips (end-to-end models) and the
    MFCC matrices of each front end (the shared features, or a Keras entry's own)."""

    def __init__(self, workdir: Path):
        self.workdir, self.paths = workdir, {}

    def audio(self) -> Path:
        return self._write("audio_test.npy", lambda: pio.read_npz(cat.AUDIO_SPLITS.path())["test"])

    def features(self, family: str, model: str) -> Path:
        src = FAMILIES[family].features_path(model)
        name = "X_test.npy" if src == cat.FEATURES.path() else f"X_test_{feature_input_model(model)}.npy"
        return self._write(name, lambda: pio.read_npz(src)["X_test"])

    def _write(self, name: str, load) -> Path:
        if name not in self.paths:
            self.paths[name] = self.workdir / name
            np.save(self.paths[name], load())
        return self.paths[name].resolve()


def harness_spec(p: Params, level: str, inputs: TestInputs, scores: bool) -> tuple[dict, dict[str, dict]]:
    """The harness jobs of one level, and each variant's source model (its files' SHA-256, from the sidecar).
    Where the target scores the variants, every job also runs the whole test split on the runtime's reference
    kernels, and end-to-end jobs return their in-graph MFCCs for parity."""
    folder = cat.level_dir(level)
    index = pio.read_json(folder / cat.INDEX)
    jobs, sources = [], {}
    for vid, entry in sorted(index.items()):
        if entry["status"] != "ok":
            continue
        meta = pio.read_json(folder / entry["sidecar"])
        e2e = is_e2e(meta["model"])
        artefact = folder / entry["file"]
        if pio.sha256_file(artefact) != meta["sha256"]:
            raise DataError(f"{artefact} ({vid}): its SHA-256 is not the one in its sidecar {entry['sidecar']}: the "
                            f"file was changed after convert; rebuild it with `dvc repro convert@{level}`")
        # the job as the harness reads it, here and in an emulated guest, where its size moves the counts
        features = inputs.features(meta["family"], meta["model"])
        job = {"id": vid, "runtime": FORMATS[meta["format"]].runtime, "family": meta["family"],
               "inputs": str(inputs.audio() if e2e else features),
               "artefact": str(artefact.resolve()),
               "input": {**meta["input"], "value_range": [-1.0, 1.0]} if e2e else meta["input"],
               "model": meta["model"], "format": meta["format"], "size_bytes": meta["size_bytes"],
               "reference_kernels": scores}
        if e2e and scores:  # the in-graph MFCCs against the training features, every test clip
            job["parity"] = {"output": FEATURE_OUTPUT, "reference": str(features)}
        jobs.append(job)
        sources[vid] = meta["source"]
    b = p.benchmark
    return {"level": level, "threads": b.threads, "warmup": b.warmup, "runs": b.runs,
            "load_repeats": b.load_repeats, "count_inputs": 0, "jobs": jobs}, sources


def target_cache(kind, target) -> MeasurementCache:
    from pipeline.wiring import benchmark_code  # the files dvc.yaml lists for this stage: the cells' code

    tools = getattr(kind.runner, "tool_versions", dict)()
    return for_target(kind, target, benchmark_code(kind.name), tools)


def measure(p: Params, name: str, level: str, workdir: Path, cache: MeasurementCache) -> dict[str, dict]:
    kind, target = p.target(name)
    spec, sources = harness_spec(p, level, TestInputs(workdir), scores=kind.scores)
    d = pio.read_npz(cat.FEATURES.path())  # accuracy is scored against the test labels, per class by name
    settings = {**{k: v for k, v in spec.items() if k != "jobs"},
                "test_labels": digest([d["labels"].tolist(), d["y_test"].tolist()])}
    contents = {j["id"]: content_of(j, sources[j["id"]]) for j in spec["jobs"]}
    keys = {vid: cache.key(settings, c) for vid, c in contents.items()}
    last_keys = {vid: cache.key(settings, c, tools=False) for vid, c in contents.items()}
    cached = {vid: e for vid, key in keys.items() if (e := cache.get(key)) is not None}
    todo = [j for j in spec["jobs"] if j["id"] not in cached]
    info(f"benchmark@{name}-{level}: {len(spec['jobs'])} variants, {len(cached)} from the measurement cache")
    measured: dict[str, dict] = {}
    if todo:
        try:
            measured = kind.runner.measure(name, target, {**spec, "jobs": todo}, workdir)
        except TargetUnavailable as err:
            if not getattr(target, "required", True):  # a kind without `required` always fails
                return {**cached, **kept_or_skipped(name, level, todo, last_keys, cache, err)}
            raise
    for vid, entry in measured.items():
        cache.put(keys[vid], entry, last_keys[vid])
    return {j["id"]: cached[j["id"]] if j["id"] in cached else measured[j["id"]] for j in spec["jobs"]}


def kept_or_skipped(name: str, level: str, todo: list[dict], last_keys: dict, cache: MeasurementCache,
                    err: Exception) -> dict[str, dict]:
    """An optional target whose tools are missing: each cell's last measurement where there is one (a skip
    never replaces a measurement), a skip naming the missing tool otherwise, with no machine path in it."""
    reason = str(err).replace(f"{PROJECT_ROOT}/", "")
    out = {j["id"]: cache.last(last_keys[j["id"]]) or {"status": "skipped", "reason": reason} for j in todo}
    kept = sum(e.get("status") != "skipped" for e in out.values())
    info(f"benchmark@{name}-{level}: {kept} kept from their last measurement, {len(todo) - kept} skipped: {reason}")
    return out


def run(p: Params, target: str) -> None:
    kind, spec = p.target(target)
    cache = target_cache(kind, spec)
    for level in p.quantization:
        with tempfile.TemporaryDirectory() as tmp:
            entries = measure(p, target, level, Path(tmp), cache)
        pio.write_json(cat.bench_path(target, level), entries)
