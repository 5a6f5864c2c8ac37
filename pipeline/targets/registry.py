"""Target kind -> how to run the harness there. A target in params.yaml names its kind;
adding a kind is one entry here and one function."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pipeline.targets.host import run_harness_host
from pipeline.targets.qemu_run import run_harness_qemu


TARGET_KINDS: dict[str, Callable] = {
    "host": lambda target, spec, workdir: run_harness_host(spec, workdir),
    "qemu": run_harness_qemu,
}


def is_emulated(target) -> bool:
    return target.kind != "host"
