"""The mcu kind's params: `targets.mcu.<name>` (an emulated Cortex-M core on a QEMU system board: what the
firmware is built for and run on) and `devices.<name>` (the part it stands for: its nominal clock and CPI for
the estimated latency, its real flash and RAM for "fits"; only the report reads them)."""

from __future__ import annotations

from pydantic import field_validator

from pipeline.schema import PositiveFloat, PositiveInt, Strict, one_of
from pipeline.targets.mcu_board import MCU_CORES


class Target(Strict):
    core: str
    required: bool  # true: a missing toolchain or emulator fails the stage; false: the target is skipped

    @field_validator("core")
    @classmethod
    def _modelled(cls, v: str) -> str:
        return one_of("core", v, MCU_CORES, "pipeline/targets/mcu_board.py")


class Device(Strict):
    """The estimate: latency (µs) = instructions x cpi / clock_mhz; fits: flash and RAM of the part."""

    board: str
    clock_mhz: PositiveFloat
    cpi: PositiveFloat      # nominal cycles per instruction
    flash_kb: PositiveInt
    ram_kb: PositiveInt
