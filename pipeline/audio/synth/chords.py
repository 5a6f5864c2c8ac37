"""Chords on timbres shared by several classes (electric piano, piano, organ, strings): a class's
own comping and the parts it borrows from other genres, close-position triads to voice them,
and the level such a borrowed part is mixed at."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.dsp import biquad, envelope, frac, midi_hz, sin_cycles
from pipeline.audio.synth.events import event_spans, fade_end


def play_chords(c: ClipContext, onsets, lengths, hz: np.ndarray, timbre: str) -> np.ndarray:
    """Chords (one row of Hz per onset) on a keyboard or string timbre shared by several classes:
    'ep' (electric piano: 1:1 FM with a decaying index), 'piano' (two partials, decaying),
    'organ' (sustained saws) or 'strings' (saws with a slow bow attack). Each chord stops at the
    next onset or after its length (plus a short release)."""
    out = np.zeros(c.n)
    if len(onsets) == 0:
        return out
    lengths = np.broadcast_to(np.asarray(lengths, dtype=np.float64), (len(onsets),))
    ph = c.rng.random((hz.shape[1], 1)).astype(np.float32)
    fm_index, fm_decay, decay = c.uniform(0.15, 0.45), c.uniform(0.08, 0.3), c.uniform(0.5, 1.5)
    attack = c.uniform(0.08, 0.3)
    for i, a, e, dt in event_spans(c, onsets, lengths + 0.1):
        cyc = hz[i][:, None] * dt[None, :] + ph
        if timbre == "ep":
            tone = sin_cycles(cyc + (fm_index * np.exp(dt * (-1.0 / fm_decay))) * sin_cycles(cyc)).sum(axis=0)
            env = envelope(dt, 0.003, decay)
        elif timbre == "piano":
            tone = (sin_cycles(cyc) + 0.3 * sin_cycles(2.0 * cyc)).sum(axis=0)
            env = envelope(dt, 0.004, decay * 0.7)
        elif timbre == "organ":
            tone = (2.0 * frac(cyc).sum(axis=0) - hz.shape[1]) * 0.3
            env = envelope(dt, 0.04, 1.0, 1.0)
        else:  # strings
            tone = (2.0 * frac(cyc).sum(axis=0) - hz.shape[1]) * 0.3
            env = envelope(dt, attack, 1.0, 1.0)
        env = env * np.minimum((lengths[i] + 0.1 - dt) * 10.0, 1.0)     # release at the end
        out[a:e] += fade_end(tone * env, c)
    if timbre in ("organ", "strings"):
        out = lfilter(*biquad("low", c.uniform(1200.0, 3000.0), 0.7, c.sr), out)
    return out


def triads(roots_midi: np.ndarray, minor: np.ndarray | bool, base: float) -> np.ndarray:
    """Close-position triads (root, third, fifth) of the given roots, voiced from `base` up."""
    r = base + (np.asarray(roots_midi, dtype=np.float64) - base) % 12.0
    third = np.where(minor, 3.0, 4.0) + np.zeros_like(r)
    return midi_hz(np.stack([r, r + third, r + 7.0], axis=1))


def guest_level(c: ClipContext) -> float:
    """Level of a borrowed (cross-genre) part relative to the class's own parts."""
    return 10.0 ** (c.span((-18.0, -12.0), (-14.0, -3.0)) / 20.0)
