"""Cortex-M targets: firmware built with Debian's Arm GCC and picolibc, run bare-metal on a QEMU system
board (qemu-system-arm) with the instruction-counting plugin of the A-class targets (native/insn_count.c,
regions marked by the addresses of region_begin/region_end in mcu_c/harness.c).

Per scikit-learn model: exact instructions per inference (identical run to run), flash (text, rodata and
the data image) and RAM (data, bss and the stack's high-water mark) from the ELF and the run, and its
top-1 against the host model's on the same clips. The cores, their boards and memory maps are one table.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from pipeline.errors import TargetUnavailable
from pipeline.targets.mcu import MCU_CORES, McuCore  # noqa: F401 (the cores, their boards and memory maps)
from pipeline.targets.qemu_user import ARM_CACHE, PLUGIN, PROVISION_CMD, first_line

HARNESS_DIR = Path(__file__).resolve().parent / "mcu_c"
GCC, QEMU = "arm-none-eabi-gcc", "qemu-system-arm"
INSTALL_CMD = "apt-get install -y --no-install-recommends qemu-system-arm gcc-arm-none-eabi picolibc-arm-none-eabi"
STACK_PAINT = 0x10000   # bytes below the top of RAM painted to find the stack's high-water mark
RUN_TIMEOUT_S = 600


def tool_versions() -> dict[str, str]:
    """The compiler, the emulator and the C library a firmware's counts and sizes come from."""
    stamp = ARM_CACHE / "mcu.stamp"
    return {"gcc": first_line([GCC, "--version"]), "qemu": first_line([QEMU, "--version"]),
            "packages": stamp.read_text() if stamp.exists() else ""}


def check_available() -> None:
    """The toolchain, picolibc, the emulator and the plugin, or TargetUnavailable naming the fix."""
    missing = [tool for tool in (GCC, QEMU) if shutil.which(tool) is None]
    if not missing and not Path(subprocess.run([GCC, "-print-file-name=picolibc.specs"], capture_output=True,
                                               text=True).stdout.strip()).is_file():
        missing.append("picolibc (picolibc.specs)")
    if missing:
        raise TargetUnavailable(f"the Cortex-M toolchain is missing ({', '.join(missing)}); run `make setup` "
                                f"(as root) or: sudo {INSTALL_CMD}")
    if not PLUGIN.is_file():
        raise TargetUnavailable(f"the instruction-counting plugin {PLUGIN} is missing; run: {PROVISION_CMD}")
    if b"begin=" not in PLUGIN.read_bytes():  # built before the bare-metal markers (by content, not dates)
        raise TargetUnavailable(f"the instruction-counting plugin {PLUGIN} predates its bare-metal markers "
                                f"(begin=/end=); run: {PROVISION_CMD}")


def compile_flags(core: McuCore) -> list[str]:
    (flash, flash_size), (ram, ram_size) = core.flash, core.ram
    return [f"-mcpu={core.name}", "-mthumb", *core.fpu, "-O2", "-ffunction-sections", "-fdata-sections",
            "--specs=picolibc.specs", "--oslib=semihost", "-Wl,--gc-sections",
            f"-Wl,--defsym=__flash={flash:#x}", f"-Wl,--defsym=__flash_size={flash_size:#x}",
            f"-Wl,--defsym=__ram={ram:#x}", f"-Wl,--defsym=__ram_size={ram_size:#x}", f"-DSTACK_PAINT={STACK_PAINT}"]


_OVERFLOW = re.compile(r"region `(flash|ram)' overflowed by (\d+) bytes")


class BuildError(RuntimeError):
    """The firmware did not compile or link (too large for the board, say): the compiler's words."""


def _tool(cmd: list[str], error: type[Exception], cwd: Path | None = None) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if res.returncode != 0:
        raise error(f"{Path(cmd[0]).name} failed: {res.stderr.strip()[-300:]}")
    return res.stdout


def build(core: McuCore, model_c: Path, n_values: int, include_dirs: tuple[str, ...], elf: Path) -> None:
    """model_c and elf in one folder, which the compiler runs in: its messages name no temporary path."""
    cmd = [GCC, *compile_flags(core), f"-DN_VALUES={n_values}", f"-I{HARNESS_DIR}",
           *(f"-I{d}" for d in include_dirs), "-o", elf.name, str(HARNESS_DIR / "harness.c"), model_c.name, "-lm"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=model_c.parent)
    if res.returncode != 0:
        over = {m[1]: int(m[2]) for m in _OVERFLOW.finditer(res.stderr)}
        if over:  # the linker's words, as what the board lacks
            sizes = {"flash": core.flash[1], "ram": core.ram[1]}
            raise BuildError("does not fit " + core.board.split(":")[0] + ": " + ", ".join(
                f"{sizes[r] + n:,} B of {'code' if r == 'flash' else 'data'} for {sizes[r]:,} B"
                for r, n in over.items()))
        said = [line for line in res.stderr.splitlines() if "error" in line]
        raise BuildError(f"{GCC} for {core.name} failed: {'; '.join(said[:3]) or res.stderr[-500:]}")


def sizes(elf: Path, core: McuCore) -> dict[str, int]:
    """From the ELF's section headers: flash holds every allocated section with contents (code, constants,
    the vector table, the data image); RAM holds the ones placed in the board's data memory (data, bss;
    the stack is measured, not its reserve)."""
    out = _tool(["arm-none-eabi-readelf", "-S", "-W", str(elf)], BuildError)
    flash = data = bss = 0
    for m in _SECTION.finditer(out):
        name, kind, size, flags = m["name"], m["type"], int(m["size"], 16), m["flags"]
        in_ram = core.ram[0] <= int(m["addr"], 16) < core.ram[0] + core.ram[1]
        if "A" not in flags or name in (".stack", ".tbss_space"):
            continue
        if kind == "NOBITS":
            bss += size
        else:
            flash += size
            data += size if in_ram else 0
    return {"flash_bytes": flash, "data_bytes": data, "bss_bytes": bss}


_SECTION = re.compile(r"^\s*\[\s*\d+\]\s+(?P<name>\S+)\s+(?P<type>\S+)\s+(?P<addr>[0-9a-f]+)\s+\S+\s+(?P<size>[0-9a-f]+)\s+\S+\s+"
                      r"(?P<flags>[A-Z]*)\s", re.M)


def symbol(elf: Path, name: str) -> int:
    for line in _tool(["arm-none-eabi-nm", str(elf)], BuildError).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise BuildError(f"{elf.name} has no symbol {name}")


class RunError(RuntimeError):
    """The firmware did not run to its end under QEMU: the emulator's last words."""


def run(core: McuCore, elf: Path, inputs: np.ndarray, workdir: Path) -> dict:
    """Run the firmware on `inputs` (clips, values) float32: predictions, instructions per inference
    (one plugin region each), the stack's high-water mark."""
    inputs.astype(np.float32).tofile(workdir / "inputs.bin")
    counts = workdir / "counts.json"
    plugin = f"{PLUGIN},out={counts},begin={symbol(elf, 'region_begin'):x},end={symbol(elf, 'region_end'):x}"
    cmd = [QEMU, "-M", core.machine, "-nographic", "-monitor", "none", "-semihosting-config",
           "enable=on,target=native", "-kernel", str(elf), "-plugin", plugin]
    try:
        res = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RunError(f"{elf.name} on {core.machine} did not finish within {RUN_TIMEOUT_S} s") from None
    # the semihosting console is QEMU's stderr
    said = dict(line.split(" ", 1) for line in res.stderr.splitlines()
                if line.startswith(("inferences ", "stack_", "heap_")))
    if res.returncode != 0 or int(said.get("inferences", -1)) != len(inputs):
        raise RunError(f"{elf.name} on {core.machine} exited {res.returncode}: "
                       f"{(res.stdout + res.stderr).strip()[-400:]}")
    if not counts.is_file() or not (workdir / "predictions.bin").is_file():
        raise RunError(f"{elf.name} on {core.machine} left no {'counts' if not counts.is_file() else 'predictions'}")
    regions = json.loads(counts.read_text())
    per = regions["per_region"]
    if regions["regions"] != len(inputs) or len(per) != len(inputs) or regions["unbalanced"]:
        raise RunError(f"{elf.name}: the counter saw {regions['regions']} regions "
                       f"(unbalanced {regions['unbalanced']}), expected {len(inputs)}")
    return {"predictions": np.fromfile(workdir / "predictions.bin", dtype=np.int32).tolist(),
            "instructions": per, "stack_bytes": int(said["stack_bytes"]), "heap_bytes": int(said["heap_bytes"])}
