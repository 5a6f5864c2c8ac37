"""What the server puts between a request's windows and the runtime (python -m pipeline serve):

- Batcher (--max-batch, --max-wait-ms): the windows of concurrent requests gathered into one call, where the
  artefact takes a batch dimension. One worker per loaded runtime takes what is queued when it comes free (up to
  max_batch), waiting at most max_wait for more; each window gets its own row of the answer back.
- AnswerCache (--cache-mb, --cache-ttl-s): answers kept by the window's content (SHA-256 of its samples), least
  recently used evicted within a memory bound, each for at most a TTL (cachetools.TTLCache): a repeated recording
  or digital silence is answered without running the model. A request sent with `Cache-Control: no-cache` skips it.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

ENTRY_OVERHEAD_BYTES = 250  # an entry's key (64 hex characters), its array header and the cache's slot, roughly


def takes_batch(run, window: int) -> bool:
    """Whether the loaded artefact answers a batch of two windows with two rows (its input's first dimension is
    free: scikit-learn's ONNX graphs; tf2onnx's and the TFLite files are fixed at one)."""
    try:
        out = np.asarray(run(np.zeros((2, window), np.float32)))
    except Exception:  # noqa: BLE001 - the runtime's refusal is the answer: no batch dimension
        return False
    return out.ndim >= 1 and out.shape[0] == 2


class Batcher:
    """Callable like a runner: (1, window) -> that window's raw output (1, classes), computed in a batch."""

    def __init__(self, runs: list, max_batch: int, max_wait_s: float):
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.calls = self.windows = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        for i, run in enumerate(runs):  # one loaded runtime each: interpreters are not shared between threads
            threading.Thread(target=self._work, args=(run,), daemon=True, name=f"batcher-{i}").start()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        done: Future = Future()
        self._queue.put((x, done))
        return done.result()

    def _gather(self) -> list:
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())  # queued while this worker was busy: no wait
            except queue.Empty:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
        return batch

    def _work(self, run) -> None:
        while True:
            batch = self._gather()
            try:
                out = np.asarray(run(np.concatenate([x for x, _ in batch])))
            except Exception as err:  # noqa: BLE001 - every request of the batch gets the runtime's error
                for _, done in batch:
                    done.set_exception(err)
                continue
            with self._lock:
                self.calls += 1
                self.windows += len(batch)
            for i, (_, done) in enumerate(batch):
                done.set_result(out[i:i + 1])

    def stats(self) -> dict:
        with self._lock:
            return {"calls": self.calls, "windows": self.windows,
                    "mean_batch": round(self.windows / self.calls, 3) if self.calls else None}


class AnswerCache:
    """answer(x, run): run(x), or the answer kept for the same samples."""

    def __init__(self, max_bytes: int, ttl_s: float):
        from cachetools import TTLCache

        self.max_bytes, self.ttl_s = max_bytes, ttl_s
        self._cache = TTLCache(maxsize=max_bytes, ttl=ttl_s, getsizeof=lambda a: a.nbytes + ENTRY_OVERHEAD_BYTES)
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe
        self.hits = self.misses = 0

    def answer(self, x: np.ndarray, run) -> np.ndarray:
        key = hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()
        with self._lock:
            kept = self._cache.get(key)
            if kept is not None:
                self.hits += 1
                return kept.copy()
        out = np.array(run(x))
        with self._lock:
            self.misses += 1
            if out.nbytes + ENTRY_OVERHEAD_BYTES <= self.max_bytes:
                self._cache[key] = out
        return out.copy()

    def stats(self) -> dict:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "entries": len(self._cache),
                    "bytes": int(self._cache.currsize), "max_bytes": self.max_bytes, "ttl_s": self.ttl_s}
