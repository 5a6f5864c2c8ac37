"""Library chatter off in the converting and training stages: the start-up lines of TensorFlow's C++ (absl,
oneDNN), the TFLite converter's settings dump, onnxruntime's advice on every quantization, and the named
deprecation warnings of our pinned versions. Nothing is lost: what native code printed is shown when the
block raises, and PIPELINE_VERBOSE=1 turns all of it back on.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager

VERBOSE_ENV = "PIPELINE_VERBOSE"

# (category, message regex) of warnings our pinned versions give on every run and that no user can act on
KNOWN_WARNINGS = (
    (UserWarning, r"\s*Warning: tf\.lite\.Interpreter is deprecated"),  # TF's own QuantizationDebugger uses it
    (FutureWarning, r"Attribute `prob[AB]_` was deprecated"),           # sklearn 1.9; skl2onnx reads them
    (FutureWarning, r"The `probability` parameter was deprecated"),     # sklearn 1.9: SVC(probability=True)
)
# onnxruntime.quantization logs these through the root logger on every call
KNOWN_LOG_LINES = ("consider to run pre-processing before quantization", "consider pre-processing before quantization",
                   "does not support 16-bit integer quantization natively")


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV) == "1"


class _KnownLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(line in record.getMessage() for line in KNOWN_LOG_LINES)


@contextmanager
def known_chatter_off():
    """The known warnings and log lines above are dropped inside the block; every other one still shows."""
    if verbose():
        yield
        return
    known = _KnownLines()
    root = logging.getLogger()
    with warnings.catch_warnings():
        for category, message in KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        root.addFilter(known)
        try:
            yield
        finally:
            root.removeFilter(known)


@contextmanager
def native_stderr_held(expected: tuple[type[BaseException], ...] = ()):
    """What native code writes to file descriptor 2 inside the block goes to a temporary file, shown only when
    the block raises something other than `expected` (Python's own messages before and after are untouched)."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except expected:
            raise
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace")[-5000:])
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
