"""Measurements cached by content: one cell (a variant on a target) is keyed by everything that decides
its result, so a benchmark stage re-run after one variant changed measures that cell and reuses the rest.

The key covers the artefact's and its inputs' bytes (SHA-256, never their paths), the source model's files
(the Cortex-M C is generated from them; the reference predictions follow from them and the inputs), the target's measuring params and the
stage's settings, the code the stage runs (its import closure, as dvc.yaml lists it, and the kind's data
files), requirements.lock, the kind's tools (emulator and compiler versions, the ARM sysroot's stamps) and,
for a kind that times on this machine (`TargetKind.timed`), this machine's CPU. Entries live under
.cache/measurements (PIPELINE_MEASUREMENT_CACHE names another folder, such as one a cluster shares). Each
entry stores its key and its result's SHA-256: a partial, altered or misplaced entry is ignored and the cell
measured again. Skipped cells (a tool was missing) are never cached; a failure is, like any result DVC records.
Each cell's latest measurement is also kept under a key without the tools (`last()`): when an optional
target's tools are missing, the stage keeps that measurement rather than replacing it with a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.bench.child_env import PROJECT_ROOT, workspace_root
from pipeline.log import info

CACHE_ENV = "PIPELINE_MEASUREMENT_CACHE"
FORMAT = 1  # bump when an entry's layout or the key's recipe changes
CACHED = ("ok", "estimate", "not_applicable", "failed")  # all but skipped (a missing tool: measure later)
PATH_KEYS = ("artefact", "inputs", "reference")  # job fields that name a file: keyed by its bytes


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or workspace_root() / ".cache" / "measurements")


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def files_digest(paths) -> dict[str, str]:
    """SHA-256 of each file, folders walked, named relative to the project (sorted, so the same anywhere)."""
    out = {}
    for path in paths:
        path = PROJECT_ROOT / path
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if f.is_file() and "__pycache__" not in f.parts:
                out[f.relative_to(PROJECT_ROOT).as_posix()] = pio.sha256_file(f)
    return out


def cpu_identity() -> dict:
    """What a timed kind's figures belong to: the CPU model and how many CPUs this machine has."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "machine": platform.machine()}


def content_of(job: dict, source: dict) -> dict:
    """The job with each file it names replaced by that file's SHA-256, plus its source model's files' (from
    the variant's sidecar: the reference predictions follow from them and the test inputs)."""
    def swap(value, key=""):
        if isinstance(value, dict):
            return {k: swap(v, k) for k, v in value.items()}
        return pio.sha256_file(value) if key in PATH_KEYS else value
    return {**swap(job), "source": source}


@dataclass(frozen=True)
class MeasurementCache:
    context: dict  # what every cell of one target shares (target params, code, tools, machine)
    folder: Path

    def key(self, settings: dict, job_content: dict, tools: bool = True) -> str:
        context = self.context if tools else {**self.context, "tools": None}
        return digest({"format": FORMAT, "context": context, "settings": settings, "job": job_content})

    def _path(self, key: str, kind: str = "") -> Path:
        return self.folder / kind / key[:2] / f"{key}.json"

    def last(self, key_without_tools: str) -> dict | None:
        """The cell's latest measurement whatever tools made it (None when there is none)."""
        return self.get(key_without_tools, "last")

    def get(self, key: str, kind: str = "") -> dict | None:
        path = self._path(key, kind)
        if not path.exists():
            return None
        try:
            stored = json.loads(path.read_text())
            if stored["key"] == key and stored["sha256"] == digest(stored["entry"]):
                return stored["entry"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        info(f"measurement cache: {path} is not a whole entry for its key: measuring that cell again")
        return None

    def put(self, key: str, entry: dict, key_without_tools: str | None = None) -> None:
        if entry.get("status") in CACHED:
            # json round trip first: what is cached is exactly what the stage writes from a fresh run
            entry = json.loads(pio.to_json(entry))
            pio.write_json(self._path(key), {"key": key, "sha256": digest(entry), "entry": entry})
            if key_without_tools is not None:
                pio.write_json(self._path(key_without_tools, "last"),
                               {"key": key_without_tools, "sha256": digest(entry), "entry": entry})


def for_target(kind, target, code_files, tool_versions: dict) -> MeasurementCache:
    measuring = target.model_dump(mode="json", exclude={"required"})  # `required` decides skipping, not figures
    context = {"kind": kind.name, "target": measuring, "code": files_digest(code_files),
               "pins": files_digest([cat.LOCK.path()]), "tools": tool_versions,
               "machine": cpu_identity() if kind.timed else None}
    return MeasurementCache(context, cache_dir())
