"""Events in time: the samples a note or hit writes (stopped by the next onset for a monophonic
voice), the short fade that keeps a cut-off note from clicking, placing a pre-rendered sound at
every onset like a sampler, and the metrical grid (beats, eighths, sixteenths) of a clip."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from pipeline.audio.synth.context import ClipContext


def event_spans(c: ClipContext, onsets, lengths=None, choke: bool = True):
    """Yield (k, a, e, dt) per event k: the event writes clip samples [a, e); dt is the seconds
    since its onset at those samples. An event lasts `lengths[k]` seconds (default: forever);
    with `choke` it also stops at the next onset (a monophonic voice). Onsets must be sorted."""
    onsets = np.asarray(onsets, dtype=np.float64)
    s = np.round(onsets * c.sr).astype(np.int64)
    end = np.full(s.size, np.iinfo(np.int64).max // 4) if lengths is None else \
        s + np.round(np.broadcast_to(np.asarray(lengths, dtype=np.float64), s.shape) * c.sr).astype(np.int64)
    if choke and s.size > 1:
        end[:-1] = np.minimum(end[:-1], s[1:])
    for k in range(s.size):
        a, e = max(int(s[k]), 0), min(int(end[k]), c.n)
        if e > a:
            yield k, a, e, c.since(a - int(s[k]), e - int(s[k]))


@lru_cache(maxsize=8)
def _ramp_down(m: int) -> np.ndarray:
    r = np.linspace(1.0, 0.0, m, dtype=np.float32)
    r.setflags(write=False)
    return r


def fade_end(seg: np.ndarray, c: ClipContext) -> np.ndarray:
    """Ramp the last 4 ms of a choked note down (no click when the next note cuts it)."""
    ramp = _ramp_down(max(1, int(0.004 * c.sr)))
    m = min(seg.size, ramp.size)
    seg[-m:] *= ramp[ramp.size - m:]
    return seg


def place(c: ClipContext, out: np.ndarray, onsets, vels, template: np.ndarray) -> None:
    """Add vel * template at every onset (a sampler: overlapping hits ring on together)."""
    L = template.size
    for k, a, e, _ in event_spans(c, onsets, np.full(len(onsets), L / c.sr), choke=False):
        s = int(round(onsets[k] * c.sr))               # the onset sample (may be before the clip)
        out[a:e] += vels[k] * template[a - s:e - s]


def metric_grid(c: ClipContext, step: float, offset: float, lead: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """A metrical grid: integer positions k (k=0 is a bar start, `offset` seconds before the clip
    starts) and their times relative to the clip, from `lead` seconds before the clip to its end."""
    k = np.arange(-int(math.ceil(lead / step)), int(math.ceil((c.dur + offset) / step)) + 1)
    return k * step - offset, k
