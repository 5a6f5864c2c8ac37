"""The mcu kind's params: `targets.mcu.<name>` (an emulated Cortex-M core on a QEMU system board: what the
firmware is built for and run on) and `devices.<name>` (the part it stands for: its nominal clock and CPI for
the estimated latency, its real flash and RAM for "fits"; only the report reads them)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import field_validator

from pipeline.schema import PositiveFloat, PositiveInt, Strict, one_of


@dataclass(frozen=True)
class McuCore:
    name: str              # gcc -mcpu and QEMU's CPU
    machine: str           # qemu-system-arm -M (a board with this core)
    fpu: tuple[str, ...]   # gcc floating-point flags
    flash: tuple[int, int]  # (origin, size) of the code memory the board boots from
    ram: tuple[int, int]    # (origin, size) of the data memory
    board: str              # what the emulated board is


KB, MB = 1024, 1024 * 1024

MCU_CORES: dict[str, McuCore] = {c.name: c for c in (
    McuCore("cortex-m4", "mps2-an386", ("-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), (0x0, 4 * MB),
            (0x20000000, 4 * MB), "Arm MPS2 AN386: 4 MB code SRAM, 4 MB data SRAM"),
    McuCore("cortex-m7", "mps2-an500", ("-mfloat-abi=hard", "-mfpu=fpv5-d16"), (0x0, 4 * MB),
            (0x20000000, 4 * MB), "Arm MPS2 AN500: 4 MB code SRAM, 4 MB data SRAM"),
    McuCore("cortex-m55", "mps3-an547", ("-mfloat-abi=hard",), (0x0, 512 * KB), (0x20000000, 512 * KB),
            "Arm MPS3 AN547 (Corstone-300): 512 KB ITCM for code, 512 KB DTCM for data"),
)}


class Target(Strict):
    core: str
    required: bool  # true: a missing toolchain or emulator fails the stage; false: the target is skipped

    @field_validator("core")
    @classmethod
    def _modelled(cls, v: str) -> str:
        return one_of("core", v, MCU_CORES, "pipeline/targets/mcu.py")


class Device(Strict):
    """The estimate: latency (µs) = instructions x cpi / clock_mhz; fits: flash and RAM of the part."""

    board: str
    clock_mhz: PositiveFloat
    cpi: PositiveFloat      # nominal cycles per instruction
    flash_kb: PositiveInt
    ram_kb: PositiveInt
