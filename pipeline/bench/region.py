"""Mark the measured region for the emulated instruction counter.

Stdlib only: this module is imported both by the x86 host Python and by the
emulated aarch64 Python (pipeline/targets/qemu.py). On aarch64, with
PIPELINE_COUNT_REGION=1 in the environment, begin()/end() issue the magic
syscalls 0x4D0/0x4D1 that native/insn_count.c watches (QEMU answers -ENOSYS,
which is ignored). Everywhere else they are no-ops.

begin() also runs a full garbage collection and disables the collector until
end(), so the counted region does not depend on allocations made before it.
Regions do not nest.
"""

import os
import platform

BEGIN_SYSCALL = 0x4D0
END_SYSCALL = 0x4D1

ENABLED = (platform.machine() == "aarch64"
           and os.environ.get("PIPELINE_COUNT_REGION") == "1")

if ENABLED:
    import ctypes
    import gc

    _syscall = ctypes.CDLL(None).syscall
    _syscall.restype = ctypes.c_long
    _syscall.argtypes = (ctypes.c_long,)
    _collect, _disable, _enable, _isenabled = gc.collect, gc.disable, gc.enable, gc.isenabled
    _gc_was_enabled = True

    def begin() -> None:
        """Start counting (aarch64 + PIPELINE_COUNT_REGION=1 only)."""
        global _gc_was_enabled
        _gc_was_enabled = _isenabled()
        _collect()
        _disable()
        _syscall(BEGIN_SYSCALL)

    def end() -> None:
        """Stop counting; restores the garbage collector's previous state."""
        _syscall(END_SYSCALL)
        if _gc_was_enabled:
            _enable()
else:
    def begin() -> None:
        """No-op: not running under the counting emulator."""

    def end() -> None:
        """No-op: not running under the counting emulator."""


class region:
    """Context manager form: ``with region(): ...``."""

    __slots__ = ()

    def __enter__(self):
        begin()
        return self

    def __exit__(self, *exc):
        end()
        return False
