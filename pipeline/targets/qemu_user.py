"""The qemu kind's emulator: run Python on an emulated aarch64 core (QEMU user mode) and count the
guest instructions executed inside the region marked with
pipeline.bench.region.begin()/end().

Stdlib only. Everything lives in ARM_CACHE, built by scripts/provision_arm.sh:
  sysroot/            aarch64 Python 3.11 from Debian arm64 packages
  cpu/<name>/         per-core views of the sysroot (fake /proc/cpuinfo, 1 CPU)
  site-packages/      aarch64 wheels: numpy, onnxruntime, ai-edge-litert
  insn_count.so       TCG plugin (native/insn_count.c)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from pipeline.bench.child_env import PROJECT_ROOT, workspace_root
from pipeline.errors import PipelineError, TargetUnavailable
from pipeline.targets.boards import BOARD_CORES, BOARDS

ARM_CACHE = Path(os.environ.get("PIPELINE_ARM_CACHE") or workspace_root() / ".cache" / "arm")
SYSROOT = ARM_CACHE / "sysroot"
GUEST_PYTHON = SYSROOT / "usr" / "bin" / "python3.11"
GUEST_SITE = ARM_CACHE / "site-packages"
PLUGIN = ARM_CACHE / "insn_count.so"
CPU_VIEWS = ARM_CACHE / "cpu"

# QEMU 7.2 -cpu names we model (all accepted by `qemu-aarch64 -cpu help`): the board table's.
CPUS = tuple(BOARDS)

GUEST_ADDRESS_SPACE = "64G"

# The modelled board has BOARD_CORES cores (scripts/provision_arm.sh describes them in /proc and
# /sys from pipeline/targets/boards.py). QEMU passes getcpu() and sched_getaffinity() through to the host: MLAS picks its kernels
# by the core getcpu() reports (before the board described every core, 25 instructions per call
# flipped with the host core), and the runtimes size themselves by the affinity mask (a 2-CPU mask
# against a 1-CPU one: 400). So the guest shim answers getcpu() with core 0, and each emulator is
# pinned to ONE host CPU that the board also has: every guest sees the same single core, whichever
# host CPU runs it, and one guest per allowed CPU can run side by side.

PROVISION_CMD = "bash scripts/provision_arm.sh"

# The fixed guest environment (nothing is inherited from the host).
_BASE_ENV = {
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    "PYTHONUNBUFFERED": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # onnxruntime >= 1.2x official Linux wheels start a 1DS telemetry thread
    # (sqlite store, uploader): background work that perturbs the counts
    "ORT_DISABLE_TELEMETRY": "1",
}


class GuestError(PipelineError):
    """The guest Python exited non-zero (or timed out)."""

    def __init__(self, message: str, result: subprocess.CompletedProcess | None = None):
        super().__init__(message)
        self.result = result


def qemu_binary() -> str | None:
    """Path of qemu-aarch64 (PIPELINE_QEMU overrides the PATH lookup)."""
    return os.environ.get("PIPELINE_QEMU") or shutil.which("qemu-aarch64")


def first_line(cmd: list[str]) -> str:
    """A tool's `--version` line ("" when it cannot run: check_available says why)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def tool_versions() -> dict[str, str]:
    """What besides the code decides a count: the emulator, the guest's packages (the stamps provisioning
    writes), the counting plugin's source."""
    stamps = {f.name: f.read_text() for f in sorted(ARM_CACHE.glob("*.stamp")) if f.name != "mcu.stamp"}
    plugin = PROJECT_ROOT / "native" / "insn_count.c"
    return {"qemu": first_line([qemu_binary() or "qemu-aarch64", "--version"]), **stamps,
            "plugin_source": hashlib.sha256(plugin.read_bytes()).hexdigest() if plugin.exists() else ""}


def check_available() -> None:
    """Raise TargetUnavailable naming what is missing and how to install it."""
    missing = []
    qemu = qemu_binary()
    if not qemu:
        missing.append("qemu-aarch64 (Debian package qemu-user; "
                       "`apt-get install --no-install-recommends qemu-user`)")
    if not GUEST_PYTHON.exists():
        missing.append(f"the aarch64 Python sysroot ({SYSROOT})")
    if not all((CPU_VIEWS / c / "proc" / "cpuinfo").exists() for c in CPUS):
        missing.append(f"the per-core sysroot views ({CPU_VIEWS})")
    if not (GUEST_SITE / "onnxruntime").is_dir() or not (GUEST_SITE / "ai_edge_litert").is_dir() \
            or not (GUEST_SITE / "numpy").is_dir():
        missing.append(f"the aarch64 wheels ({GUEST_SITE})")
    if not PLUGIN.exists():
        missing.append(f"the instruction-count plugin ({PLUGIN})")
    if not (SYSROOT / GUEST_SHIM.lstrip("/")).exists():
        missing.append(f"the guest shim ({SYSROOT / GUEST_SHIM.lstrip('/')})")
    if missing:
        raise TargetUnavailable(
            "emulated ARM target unavailable, missing: " + "; ".join(missing)
            + f". Install it with `{PROVISION_CMD}` from {PROJECT_ROOT} (or `make arm`).")


# The guest's world has the same shape on every machine: it runs in a workspace whose path has a
# fixed length (mkdtemp under /tmp), sees its interpreter as /usr/bin/python3.11 (-0, and -L maps
# /usr onto the sysroot) and its wheels as <workspace>/site, and reads the artefacts and inputs
# from fixed names inside the workspace. Path lengths change the size of allocations made before
# the measured region (module paths, file names, argv on the initial stack), and the allocator's
# and the kernels' paths depend on heap layout: a longer checkout path moved counts by up to 0.6%.
GUEST_WORKSPACE_PARENT = "/tmp"
GUEST_ARGV0 = "/usr/bin/python3.11"
# native/guest_shim.S, a guest path inside the sysroot: the guest's wall clock stands still (so
# onnxruntime's wall-clock telemetry inside Run never fires in a counted call) and getcpu() says
# core 0. Set with -E, so that only the guest's loader sees it, not the host's.
GUEST_SHIM = "/usr/lib/pipeline/guest_shim.so"
# The modules the guest imports from this project (stdlib + numpy + the runtimes only).
GUEST_MODULES = ("pipeline/__init__.py", "pipeline/bench/__init__.py", "pipeline/bench/harness.py",
                 "pipeline/bench/region.py", "pipeline/bench/runtimes.py")


@contextmanager
def guest_workspace():
    """A fresh folder of fixed path length holding what the guest needs; removed afterwards."""
    ws = Path(tempfile.mkdtemp(prefix="arm-", dir=GUEST_WORKSPACE_PARENT))
    try:
        (ws / "py").symlink_to(GUEST_PYTHON)
        (ws / "site").symlink_to(GUEST_SITE)
        for rel in GUEST_MODULES:
            (ws / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PROJECT_ROOT / rel, ws / rel)
        yield ws
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def guest_env(workspace: Path, count: bool = True) -> dict[str, str]:
    """The complete environment the guest runs with."""
    env = dict(_BASE_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(workspace / "site"), str(workspace)])
    if count:
        env["PIPELINE_COUNT_REGION"] = "1"
    return env


def command(cpu: str, argv, workspace: Path, *, plugin_out: str | None = None) -> list[str]:
    """The qemu-aarch64 command line (without environment)."""
    if cpu not in CPUS:
        raise ValueError(f"unsupported cpu {cpu!r}; choose one of {', '.join(CPUS)}")
    cmd = [qemu_binary() or "qemu-aarch64", "-cpu", cpu, "-L", str(CPU_VIEWS / cpu),
           # a reserved guest address space: QEMU then places every guest
           # mapping itself, independent of the host's layout and ASLR
           "-R", GUEST_ADDRESS_SPACE, "-0", GUEST_ARGV0, "-E", f"LD_PRELOAD={GUEST_SHIM}"]
    if plugin_out is not None:
        cmd += ["-plugin", f"{PLUGIN},out={plugin_out}"]
    return cmd + [str(workspace / "py")] + [str(a) for a in argv]


def board_cpus() -> list[int]:
    """The host CPUs an emulator may be pinned to: those allowed to us that the board also has."""
    cpus = sorted(c for c in os.sched_getaffinity(0) if c < BOARD_CORES)
    if not cpus:
        raise TargetUnavailable(f"the emulated board has cores 0-{BOARD_CORES - 1}, but this process may only run "
                                f"on host CPUs {sorted(os.sched_getaffinity(0))}: allow one of CPUs "
                                f"0-{BOARD_CORES - 1} (taskset/cgroup cpuset)")
    return cpus


def run_python(cpu: str, argv, *, workspace: Path | None = None, count: bool = True,
               timeout: float | None = None, host_cpu: int | None = None):
    """Run ``python3.11 <argv...>`` on an emulated ``cpu`` core, in ``workspace`` (its cwd; a
    fresh `guest_workspace()` when None), pinned to ``host_cpu`` (one of `board_cpus()`; when None,
    to the board CPUs, where the OS places it). Paths in argv are best relative to the workspace: the
    guest then sees the same strings on every machine.

    Returns ``(completed_process, counts)``; stdout/stderr are captured as
    text. ``counts`` is the plugin's JSON: ``{"regions": N, "instructions":
    TOTAL, "per_region": [...], "unbalanced": U, "process_instructions": ALL}``
    (instructions summed over the regions marked by pipeline.bench.region), or
    None when ``count`` is False. Raises GuestError (with the stderr tail) on a
    non-zero exit or timeout, TargetUnavailable if not provisioned.
    """
    check_available()
    if workspace is None:
        with guest_workspace() as ws:
            return run_python(cpu, argv, workspace=ws, count=count, timeout=timeout, host_cpu=host_cpu)
    env = guest_env(workspace, count)
    allowed = board_cpus()
    if host_cpu is not None and host_cpu not in allowed:
        raise ValueError(f"host_cpu {host_cpu} is not one of the board CPUs allowed here: {allowed}")
    cpus = set(allowed) if host_cpu is None else {host_cpu}
    with tempfile.TemporaryDirectory(prefix="qemu-count-") as tmp:
        out = os.path.join(tmp, "counts.json") if count else None
        cmd = command(cpu, argv, workspace, plugin_out=out)
        try:
            proc = subprocess.run(cmd, cwd=workspace, env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False, preexec_fn=lambda: os.sched_setaffinity(0, cpus))
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise GuestError(f"guest timed out after {timeout}s on {cpu}: {' '.join(map(str, argv))}"
                             f"\n--- stderr tail ---\n{_tail(err)}") from None
        if proc.returncode != 0:
            raise GuestError(
                f"guest python exited with {proc.returncode} on {cpu}: {' '.join(map(str, argv))}"
                f"\n--- stderr tail ---\n{_tail(proc.stderr)}", proc)
        counts = None
        if count:
            try:
                with open(out, encoding="utf-8") as fh:
                    counts = json.load(fh)
            except (OSError, ValueError) as exc:
                raise GuestError(f"no instruction counts from the plugin ({exc})"
                                 f"\n--- stderr tail ---\n{_tail(proc.stderr)}", proc) from None
    return proc, counts


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join((text or "").rstrip().splitlines()[-lines:])
