"""The machine a run was made on, as reports/machine.json records it: what `compare` needs to tell whether two
runs can be compared figure by figure. TensorFlow, oneDNN and onnxruntime pick kernels by the CPU's instruction
set, so Keras training and every conversion after it give other bytes on another CPU (docs/engineering.md);
the instruction-set flags are what decides it, the model name is for people."""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

# the flags that change which kernels the frameworks dispatch to, shown by name (all flags are hashed)
SHOWN_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
               "asimd", "asimddp", "sve")


def identity(cpuinfo: str | None = None) -> dict:
    """{cpu, arch, cpus, flags (the shown ones present), flags_sha256 (every flag, sorted)}."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model, flags = platform.processor() or "unknown", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model") and model in ("unknown", platform.processor()):
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return {"cpu": model, "arch": platform.machine(), "cpus": os.cpu_count(),
            "flags": [f for f in SHOWN_FLAGS if f in flags],
            "flags_sha256": hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()}


def same_kind(a: dict | None, b: dict | None) -> bool | None:
    """Whether two recorded machines dispatch the same kernels (arch and every flag); None: one is not recorded."""
    if not a or not b:
        return None
    return (a.get("arch"), a.get("flags_sha256")) == (b.get("arch"), b.get("flags_sha256"))


def describe(m: dict) -> str:
    flags = " ".join(m.get("flags") or []) or "no listed flags"
    return f"{m.get('cpu', 'unknown')} ({m.get('arch')}, {m.get('cpus')} CPUs; {flags})"
