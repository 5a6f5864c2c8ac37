"""Target kinds: one entry each, holding its params schema (`targets.<name>` with `kind: <kind>`)
and how to run the harness there. Adding a kind is one entry here and its module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.schema import Strict
from pipeline.targets.host import HostTarget, run_harness_host
from pipeline.targets.qemu_run import QemuTarget, run_harness_qemu


@dataclass(frozen=True)
class TargetKind:
    name: str
    schema: type[Strict]
    run: Callable[[Strict, dict, Path], dict[str, dict]]  # (target, harness spec, workdir) -> records by id
    emulated: bool  # figures are instruction counts and estimates, not this machine's wall time


TARGET_KINDS: dict[str, TargetKind] = {k.name: k for k in (
    TargetKind("host", HostTarget, run_harness_host, emulated=False),
    TargetKind("qemu", QemuTarget, run_harness_qemu, emulated=True),
)}


def is_emulated(target) -> bool:
    return TARGET_KINDS[target.kind].emulated


def is_required(target) -> bool:
    """Whether a target that cannot run fails the stage (the host always does)."""
    return getattr(target, "required", True)
