"""The emulated boards' CPU facts, in one table: the QEMU user-mode targets model these cores, and
scripts/provision_arm.sh writes each board's /proc and /sys view from this module (run as
`python -m pipeline.targets.boards ...`), so the two cannot drift.

Stdlib only: provisioning runs it before anything else is needed. The runtimes read these files at
start-up (onnxruntime the L2 size, MLAS the MIDR of the core getcpu() reports), so the counts depend
on them: a change here changes every emulated figure (provisioning rebuilds the views).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

# Every modelled board has this many cores; the emulator is pinned to one host CPU the board also has.
BOARD_CORES = 4


@dataclass(frozen=True)
class Core:
    name: str       # QEMU's -cpu name
    part: str       # MIDR part number (CPU part in /proc/cpuinfo)
    variant: str
    revision: int
    features: str   # /proc/cpuinfo Features
    l1d: str
    l1i: str
    l2: str
    l3: str | None  # shared by the cluster; None: the L2 is
    max_khz: int
    min_khz: int
    example: str    # a board with this core (nominal clock and caches are that board's)


BOARDS: dict[str, Core] = {c.name: c for c in (
    Core("cortex-a53", "0xd03", "0x0", 4, "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid",
         "32K", "32K", "512K", None, 1200000, 600000, "Raspberry Pi 3"),
    Core("cortex-a72", "0xd08", "0x0", 3, "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid",
         "32K", "48K", "1024K", None, 1800000, 600000, "Raspberry Pi 4"),
    Core("cortex-a76", "0xd0b", "0x4", 1,
         "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp",
         "64K", "64K", "512K", "2048K", 2400000, 1500000, "Raspberry Pi 5"),
)}


def cpuinfo(core: Core, cores: int = BOARD_CORES) -> str:
    """/proc/cpuinfo of a board with `cores` cores of this type."""
    return "".join(
        f"processor\t: {i}\nBogoMIPS\t: 100.00\nFeatures\t: {core.features}\n"
        f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: {core.variant}\n"
        f"CPU part\t: {core.part}\nCPU revision\t: {core.revision}\n\n" for i in range(cores))


def facts(core: Core) -> str:
    """The line provisioning reads: l1d l1i l2 l3 max_khz min_khz ('-' for no L3)."""
    return f"{core.l1d} {core.l1i} {core.l2} {core.l3 or '-'} {core.max_khz} {core.min_khz}"


def main(argv: list[str]) -> int:
    """cores | cpus | cpuinfo CPU [N] | facts CPU"""
    if argv == ["cores"]:
        print(BOARD_CORES)
    elif argv == ["cpus"]:
        print(" ".join(BOARDS))
    elif len(argv) in (2, 3) and argv[0] == "cpuinfo" and argv[1] in BOARDS:
        sys.stdout.write(cpuinfo(BOARDS[argv[1]], int(argv[2]) if len(argv) == 3 else BOARD_CORES))
    elif len(argv) == 2 and argv[0] == "facts" and argv[1] in BOARDS:
        print(facts(BOARDS[argv[1]]))
    else:
        print(f"usage: python -m pipeline.targets.boards {main.__doc__}; CPU one of {list(BOARDS)}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
