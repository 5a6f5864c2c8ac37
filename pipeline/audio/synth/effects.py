"""Effects that need the clip's state (its length, time axis or random draws): the resonant
low-pass with a moving cut-off (synth leads) and the room/hall reverb."""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import lfilter

from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.dsp import TWO_PI, biquad, normalise, rms


def swept_lowpass(c: ClipContext, x: np.ndarray, cutoff_at: Callable[[np.ndarray], np.ndarray], q: float,
                  block_s: float = 0.025) -> np.ndarray:
    """Resonant low-pass whose cut-off follows cutoff_at(t): block-wise biquads, state carried."""
    block = max(16, int(block_s * c.sr))
    starts = np.arange(0, c.n, block)
    fc = np.clip(cutoff_at((starts + block / 2) / c.sr), 30.0, c.nyq)
    w0 = TWO_PI * fc / c.sr
    cw, alpha = np.cos(w0), np.sin(w0) / (2.0 * q)
    a0 = 1.0 + alpha
    bs = np.stack([(1 - cw) / 2, 1 - cw, (1 - cw) / 2], axis=1) / a0[:, None]
    as_ = np.stack([np.ones_like(cw), -2 * cw / a0, (1 - alpha) / a0], axis=1)
    y = np.empty_like(x)
    zi = np.zeros(2)
    for i, s in enumerate(starts):
        y[s:s + block], zi = lfilter(bs[i], as_[i], x[s:s + block], zi=zi)
    return y


def reverb(c: ClipContext, x: np.ndarray, rt60: float, wet: float) -> np.ndarray:
    """Room/hall: an impulse response of exponentially decaying noise (tail cut at 0.5 s),
    darkened by a low-pass, after an 8 ms pre-delay; FFT convolution at the full rate."""
    length = int(min(rt60, 0.5) * c.sr)
    if length < 16 or c.n < 16:
        return x
    tt = c.since(0, length)
    ir = (c.rng.random(length) - 0.5) * np.exp(tt * (-6.91 / rt60))
    ir = lfilter(*biquad("low", c.uniform(2000.0, 5000.0), 0.6, c.sr), ir)
    ir[: int(0.008 * c.sr)] = 0.0
    size = next_fast_len(c.n + length - 1, real=True)
    rev = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: c.n]
    return (1.0 - wet) * x + wet * normalise(rev) * rms(x)
