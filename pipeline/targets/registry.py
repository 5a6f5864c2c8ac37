"""Target kinds: one entry each, holding its params schema (`targets.<name>` with `kind: <kind>`)
and how to run the harness there. Adding a kind is one entry here and its module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.schema import Strict
from pipeline.targets.host import HostTarget, run_harness_host
from pipeline.targets.mcu_run import McuTarget, run_harness_mcu
from pipeline.targets.qemu_run import QemuTarget, run_harness_qemu
from pipeline.targets.remote import HttpTarget, run_harness_http


@dataclass(frozen=True)
class TargetKind:
    name: str
    schema: type[Strict]
    run: Callable[[Strict, dict, Path], dict[str, dict]]  # (target, harness spec, workdir) -> records by id
    # host: this machine's wall time per inference; emulated: instruction counts and estimates, not wall
    # time; remote: a server on loopback under load; mcu: bare-metal firmware on an emulated Cortex-M
    # (remote and mcu records are the entries, status included)
    role: str
    # whether `ship:` takes an entry for targets of this kind (mcu: the report's "what fits" lines instead,
    # as no end-to-end artefact runs there yet)
    ships: bool = True


TARGET_KINDS: dict[str, TargetKind] = {k.name: k for k in (
    TargetKind("host", HostTarget, run_harness_host, role="host"),
    TargetKind("qemu", QemuTarget, run_harness_qemu, role="emulated"),
    TargetKind("http", HttpTarget, run_harness_http, role="remote"),
    TargetKind("mcu", McuTarget, run_harness_mcu, role="mcu", ships=False),
)}


def role_of(target) -> str:
    return TARGET_KINDS[target.kind].role


def ships(target) -> bool:
    return TARGET_KINDS[target.kind].ships


def is_emulated(target) -> bool:
    return role_of(target) == "emulated"


def is_required(target) -> bool:
    """Whether a target that cannot run fails the stage (the host always does)."""
    return getattr(target, "required", True)
