"""Is this the project's environment? The stages run `python` from PATH; another interpreter (a system
Python, another venv) would build with other library versions, or fail after DVC has deleted the
outputs. The check stage compares what is installed with requirements.lock before any stage runs."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from pipeline import catalog as cat
from pipeline.errors import UsageError

LOCK = cat.LOCK.path()
PYTHON = (3, 11)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock_text: str) -> dict[str, str]:
    return {_norm(m.group(1)): m.group(2) for line in lock_text.splitlines() if (m := _PIN.match(line.strip()))}


def mismatches(expected: dict[str, str], installed: dict[str, str]) -> list[str]:
    """'name: locked X, installed Y (or missing)' for every pin the environment does not meet."""
    return [f"{name}: locked {version}, {'installed ' + installed[name] if name in installed else 'not installed'}"
            for name, version in sorted(expected.items()) if installed.get(name) != version]


def installed_versions() -> dict[str, str]:
    return {_norm(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def check_environment(lock: Path = LOCK) -> None:
    """Raise UsageError naming the interpreter and every package that differs from the lock."""
    fix = "run `make setup`, then `make repro` (or put .venv/bin first on PATH: PATH=$PWD/.venv/bin:$PATH dvc repro)"
    if sys.version_info[:2] != PYTHON:
        raise UsageError(f"{sys.executable} is Python {sys.version.split()[0]}; the project runs on Python "
                         f"{PYTHON[0]}.{PYTHON[1]}: {fix}")
    try:
        expected = pins(lock.read_text())
    except FileNotFoundError:
        raise UsageError(f"{lock} not found: the stages must run from the project's root") from None
    wrong = mismatches(expected, installed_versions())
    if wrong:
        shown = "\n  ".join(wrong[:12]) + (f"\n  ... and {len(wrong) - 12} more" if len(wrong) > 12 else "")
        raise UsageError(f"{sys.executable} is not the project's environment: {len(wrong)} package(s) differ from "
                         f"{lock}:\n  {shown}\n{fix}")
