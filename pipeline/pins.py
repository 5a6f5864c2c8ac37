"""The kernels every stage computes with, fixed before any library loads (pipeline/__main__.py re-executes
the interpreter with them): the same params then give the same bytes on any x86-64 CPU with AVX2 and FMA,
not only on the kind of machine that wrote dvc.lock.

numpy, OpenBLAS and oneDNN pick their kernels by the CPU's instruction sets at run time, and AVX-512
kernels round differently from AVX2 ones (the synthesized audio hashed differently on an AVX-512 machine).
Each pin selects the AVX2 kernels, which every supported CPU has. Stdlib only.
"""

from __future__ import annotations

import os

PINS = {
    # Libraries iterate sets of names (tf2onnx, onnxruntime's quantizer): a fixed hash seed keeps their
    # output order, and so the artefacts' bytes, the same between runs.
    "PYTHONHASHSEED": "0",
    # numpy's own SIMD loops (sin, exp, log... in the synthesizer and librosa): AVX2 (X86_V3) at most.
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    # oneDNN inside TensorFlow (Keras training, the TFLite converter): AVX2 kernels at most.
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}
# numpy's and scipy's OpenBLAS: its Haswell (AVX2 + FMA) kernels. Only where the machine has not set a
# core type itself: some machines set one because other kernels crash there, and that one is kept.
DEFAULTS = {"OPENBLAS_CORETYPE": "Haswell"}


def pinned_env(env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    env.update(PINS)
    for key, value in DEFAULTS.items():
        env.setdefault(key, value)
    return env


def is_pinned(env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return all(env.get(k) == v for k, v in PINS.items()) and all(k in env for k in DEFAULTS)
