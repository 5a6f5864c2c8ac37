"""The qemu kind's params: `targets.qemu.<name>` (an emulated aarch64 core, QEMU user mode with -cpu
pinned: what the measurement uses) and `devices.<name>` (the device it stands for: nominal figures that
only the report's estimate reads, so editing one re-runs the report alone)."""

from __future__ import annotations

from pydantic import field_validator

from pipeline.schema import PositiveFloat, PositiveInt, Strict, one_of
from pipeline.targets.boards import BOARDS


class Target(Strict):
    cpu: str
    runs: PositiveInt             # timed and counted calls per variant (the count is exact: no repeats needed)
    agreement_clips: PositiveInt  # test clips whose top-1 is compared with the host's
    required: bool                # true: a missing emulator fails the stage; false: the target is skipped

    @field_validator("cpu")
    @classmethod
    def _modelled(cls, v: str) -> str:
        return one_of("cpu", v, BOARDS, "pipeline/targets/boards.py")


class Device(Strict):
    """The estimate: latency (µs) = instructions x cpi / clock_mhz."""

    board: str                  # what the figures stand for, named in the report
    clock_mhz: PositiveFloat
    cpi: PositiveFloat          # nominal cycles per instruction
