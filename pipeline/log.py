"""Progress for long stages: per-step lines on stderr (DVC shows them live)."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def info(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def progress(items: Iterable[T], total: int, desc: str, every_s: float = 2.0) -> Iterator[T]:
    """Yield items, printing `desc: i/total` at most every `every_s` seconds and at the end."""
    start = last = time.monotonic()
    i = 0
    for i, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - last >= every_s or i == total:
            info(f"{desc}: {i}/{total} ({now - start:.1f} s)")
            last = now
