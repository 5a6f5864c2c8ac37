"""Run Python on an emulated aarch64 core (QEMU user mode) and count the
guest instructions executed inside the region marked with
pipeline.bench.region.begin()/end().

Stdlib only. Everything lives in ARM_CACHE, built by scripts/provision_arm.sh:
  sysroot/            aarch64 Python 3.11 from Debian arm64 packages
  cpu/<name>/         per-core views of the sysroot (fake /proc/cpuinfo, 1 CPU)
  site-packages/      aarch64 wheels: numpy, onnxruntime, ai-edge-litert
  insn_count.so       TCG plugin (native/insn_count.c)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARM_CACHE = Path(os.environ.get("PIPELINE_ARM_CACHE") or PROJECT_ROOT / ".cache" / "arm")
SYSROOT = ARM_CACHE / "sysroot"
GUEST_PYTHON = SYSROOT / "usr" / "bin" / "python3.11"
GUEST_SITE = ARM_CACHE / "site-packages"
PLUGIN = ARM_CACHE / "insn_count.so"
CPU_VIEWS = ARM_CACHE / "cpu"

# QEMU 7.2 -cpu names we model (all accepted by `qemu-aarch64 -cpu help`).
# Keep in sync with CPUS in scripts/provision_arm.sh.
CPUS = ("cortex-a53", "cortex-a72", "cortex-a76")

GUEST_ADDRESS_SPACE = "64G"

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


class TargetUnavailable(RuntimeError):
    """The emulated ARM target is not provisioned on this machine."""


class GuestError(RuntimeError):
    """The guest Python exited non-zero (or timed out)."""

    def __init__(self, message: str, result: subprocess.CompletedProcess | None = None):
        super().__init__(message)
        self.result = result


def qemu_binary() -> str | None:
    """Path of qemu-aarch64 (PIPELINE_QEMU overrides the PATH lookup)."""
    return os.environ.get("PIPELINE_QEMU") or shutil.which("qemu-aarch64")


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
    if missing:
        raise TargetUnavailable(
            "emulated ARM target unavailable, missing: " + "; ".join(missing)
            + f". Install it with `{PROVISION_CMD}` from {PROJECT_ROOT} (or `make arm`).")


def guest_env(cwd: str, extra_pythonpath=(), count: bool = True) -> dict[str, str]:
    """The complete environment the guest runs with."""
    env = dict(_BASE_ENV)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(GUEST_SITE), str(cwd)] + [str(p) for p in extra_pythonpath])
    if count:
        env["PIPELINE_COUNT_REGION"] = "1"
    return env


def command(cpu: str, argv, *, plugin_out: str | None = None) -> list[str]:
    """The qemu-aarch64 command line (without environment)."""
    if cpu not in CPUS:
        raise ValueError(f"unsupported cpu {cpu!r}; choose one of {', '.join(CPUS)}")
    cmd = [qemu_binary() or "qemu-aarch64", "-cpu", cpu, "-L", str(CPU_VIEWS / cpu),
           # a reserved guest address space: QEMU then places every guest
           # mapping itself, independent of the host's layout and ASLR
           "-R", GUEST_ADDRESS_SPACE]
    if plugin_out is not None:
        cmd += ["-plugin", f"{PLUGIN},out={plugin_out}"]
    return cmd + [str(GUEST_PYTHON)] + [str(a) for a in argv]


def run_python(cpu: str, argv, *, cwd: str, extra_pythonpath=(), count: bool = True,
               timeout: float | None = None):
    """Run ``python3.11 <argv...>`` on an emulated ``cpu`` core.

    Returns ``(completed_process, counts)``; stdout/stderr are captured as
    text. ``counts`` is the plugin's JSON: ``{"regions": N, "instructions":
    TOTAL, "per_region": [...], "unbalanced": U, "process_instructions": ALL}``
    (instructions summed over the regions marked by pipeline.bench.region), or
    None when ``count`` is False. Raises GuestError (with the stderr tail) on a
    non-zero exit or timeout, TargetUnavailable if not provisioned.
    """
    check_available()
    env = guest_env(cwd, extra_pythonpath, count)
    with tempfile.TemporaryDirectory(prefix="qemu-count-") as tmp:
        out = os.path.join(tmp, "counts.json") if count else None
        cmd = command(cpu, argv, plugin_out=out)
        try:
            proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
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
