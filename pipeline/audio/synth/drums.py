"""Drum sounds shared by rock, jazz and electronic: kick, snare (or clap), hi-hat and ride cymbal,
each rendered once per clip as a template that events.place puts at every hit; and the level of
the drum bus, which may be zero when the drums sit out the clip."""

from __future__ import annotations

import numpy as np

from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.dsp import biquad_filter, sin_cycles


def kick_sound(c: ClipContext, f_hi: float, f_lo: float, sweep: float, decay: float) -> np.ndarray:
    """Sine with a falling pitch and a click."""
    dt = c.since(0, int(min(4.0 * decay, 0.8) * c.sr))
    cycles = f_lo * dt + (f_hi - f_lo) * sweep * (1.0 - np.exp(dt * (-1.0 / sweep)))
    click = c.noise(dt.size) * np.exp(dt * -300.0) * 0.3
    return sin_cycles(cycles) * np.exp(dt * (-1.0 / decay)) + click


def snare_sound(c: ClipContext, tone_hz: float, decay: float, centre_hz: float) -> np.ndarray:
    """Band-passed noise (the wires) plus a short drum-head tone."""
    dt = c.since(0, int(min(5.0 * decay, 1.0) * c.sr))
    wires = biquad_filter("band", c.noise(dt.size), centre_hz, 0.7, c.sr) * 2.0
    return wires * np.exp(dt * (-1.0 / decay)) + sin_cycles(tone_hz * dt) * np.exp(dt * -30.0) * 0.6


def hat_sound(c: ClipContext, decay: float, cutoff: float) -> np.ndarray:
    """High-passed noise with a short decay."""
    dt = c.since(0, int(min(5.0 * decay, 1.0) * c.sr))
    return biquad_filter("high", c.noise(dt.size), min(cutoff, c.nyq), 0.7, c.sr) * np.exp(dt * (-1.0 / decay))


def cymbal_sound(c: ClipContext, base_hz: float, decay: float, cutoff: float) -> np.ndarray:
    """Ride: inharmonic partials (bell) over high-passed noise (wash), stick click, long ring."""
    dt = c.since(0, int(min(3.0 * decay, 0.8) * c.sr))
    ratios = np.array([1.0, 1.483, 1.932, 2.546, 2.630, 3.897])
    f = np.minimum(base_hz * ratios, c.nyq).astype(np.float32)
    bell = sin_cycles(f[:, None] * dt[None, :] + c.rng.random((f.size, 1)).astype(np.float32)).sum(axis=0) * 0.08
    wash = biquad_filter("high", c.noise(dt.size), min(cutoff, c.nyq), 0.7, c.sr)
    return (bell + wash * c.uniform(0.5, 1.2)) * (np.exp(dt * (-1.0 / decay)) + 0.6 * np.exp(dt * -80.0))


def drum_level(c: ClipContext) -> float:
    """Drum bus level relative to the band (dB drawn; quieter drums at high overlap). With
    probability 0.3*overlap the drums sit out this second (an intro, break or breakdown)."""
    level = 10.0 ** (c.span((-2.0, 3.0), (-16.0, 3.0)) / 20.0)
    return 0.0 if c.chance(0.3 * c.overlap) else level
