"""Reading a revision's metrics and params through DVC's Python API, and naming a revision.

The only module of pipeline.compare that knows DVC (imported lazily: `--help` and a bad gates
file answer without loading it). A revision is a Git revision, or None for the workspace.
"""

from __future__ import annotations

import json

from pipeline import catalog as cat
from pipeline.compare.metrics import CompareError

METRICS_FILE = cat.METRICS.template
WORKSPACE = "workspace"


def _is_rev_error(exc: BaseException) -> bool:
    from dvc.scm import RevError
    from scmrepo.exceptions import RevError as ScmRevError

    return isinstance(exc, (RevError, ScmRevError))


def _read_json(path: str, rev: str | None) -> dict:
    """A Git-tracked JSON file at `rev` (None: the workspace); FileNotFoundError when it is not there. Read as
    a file, not through `dvc metrics show`: the detail file is not DVC's metrics file (reports/summary.json
    is), and older revisions, where it was, read the same."""
    import dvc.api
    from dvc.exceptions import PathMissingError

    try:
        text = dvc.api.read(path, rev=rev)
    except PathMissingError:
        raise FileNotFoundError(path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path} is not valid JSON: {exc}") from None


def read_optional_json(path: str, rev: str | None) -> dict | None:
    """A Git-tracked JSON file at `rev`, or None when that revision does not have it (or it is not JSON)."""
    try:
        return _read_json(path, rev)
    except (FileNotFoundError, CompareError):
        return None


def _params_show(rev: str | None) -> dict:
    import dvc.api

    try:
        return dvc.api.params_show(rev=rev)
    except Exception as exc:  # noqa: BLE001 - re-raised below unless the retry explains it
        if rev is None or _is_rev_error(exc):
            raise
        first_error = exc
    # dvc.api reads the workspace along with `rev` and, raising on any error, fails when
    # only the workspace lacks the file (e.g. before `dvc repro`). Ask again, keeping
    # errors per revision, and look at `rev`'s answer alone.
    from dvc.repo import Repo

    with Repo() as repo:
        results = repo.params.show(revs=[rev], on_error="return")
    results.pop(WORKSPACE, None)
    if len(results) != 1:
        raise first_error
    result = next(iter(results.values()))
    if "error" in result:
        raise result["error"]
    merged: dict = {}
    for file_result in result.get("data", {}).values():
        if "error" in file_result:
            raise file_result["error"]
        merged.update(file_result.get("data", {}))
    return merged


def revision_label(rev: str | None) -> str:
    """'`main` (1a2b3c4)' or 'the workspace'; raises CompareError for an unknown revision."""
    if rev is None:
        return "the workspace"
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        with Repo() as repo:
            sha = repo.scm.resolve_rev(rev)
    except NotDvcRepoError as exc:
        raise CompareError(f"not inside a DVC project: {exc}") from None
    except Exception as exc:  # noqa: BLE001
        if _is_rev_error(exc):
            raise CompareError(f"unknown Git revision {rev!r} (in CI, check out with fetch-depth: 0 "
                               f"so that origin/<base branch> exists)") from None
        raise
    return f"`{rev}` ({sha[:7]})"


def read_revision(rev: str | None, metrics_file: str, role: str) -> tuple[dict, dict, list[str]]:
    """(metrics, params, notes) of one revision (None: the workspace).

    A base without the metrics file is a note (everything counts as new), a head without it a
    CompareError; unreadable params are a note (the params diff is then incomplete, the gates
    do not depend on it).
    """
    where = "the workspace" if rev is None else f"revision {rev!r}"
    notes: list[str] = []
    try:
        metrics = _read_json(metrics_file, rev)
    except FileNotFoundError:
        if role == "head":
            hint = " (run `dvc repro` first)" if rev is None else ""
            raise CompareError(f"{metrics_file} not found in {where}{hint}") from None
        notes.append(f"{metrics_file} does not exist at base ({where}): every variant counts as new, "
                     f"nothing is gated")
        metrics = {}
    except CompareError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CompareError(f"cannot read {metrics_file} in {where}: {type(exc).__name__}: {exc}") from None
    try:
        params = _params_show(rev)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"cannot read params in {where} ({type(exc).__name__}: {exc}); params diff is incomplete")
        params = {}
    return metrics, params, notes
