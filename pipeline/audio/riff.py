"""What a WAV file's header promises against what the file holds: libsndfile reads a cut-short file's samples
without a word, so a recording that lost its end would pass as a shorter one."""

from __future__ import annotations

import struct
from pathlib import Path

UNKNOWN_LENGTH = (0, 0xFFFFFFFF)  # what streaming writers leave in a data chunk's size: not a promise


def declared_shortfall(path: Path) -> str | None:
    """'declares N bytes of samples and holds M' for a RIFF/WAVE file whose data chunk runs past its end;
    None for a whole file, or one that is not RIFF/WAVE (the decoder judges those)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        at = 12
        while at + 8 <= size:
            f.seek(at)
            chunk, length = struct.unpack("<4sI", f.read(8))
            if chunk == b"data":
                held = size - at - 8
                if length > held and length not in UNKNOWN_LENGTH:
                    return f"its header declares {length:,} bytes of samples and the file holds {held:,}"
                return None
            at += 8 + length + (length & 1)
    return None
