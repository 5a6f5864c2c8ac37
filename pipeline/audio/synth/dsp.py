"""Stateless signal helpers shared by every part of the generator: the float32 time axis, MIDI
to Hz, phase-to-sine in float32, RMS and normalisation, the attack/decay envelope, and Audio EQ
Cookbook biquads (coefficients, cascades of them, one filter call). Nothing here draws random
numbers or knows about a clip."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.signal import lfilter

TWO_PI = 2.0 * math.pi


@lru_cache(maxsize=8)
def time_axis(sr: int, m: int) -> np.ndarray:
    t = (np.arange(m, dtype=np.float64) / sr).astype(np.float32)
    t.setflags(write=False)
    return t


def midi_hz(m) -> np.ndarray:
    """MIDI note number(s) to Hz, float32 (multiplied with the float32 time axis)."""
    return (440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)).astype(np.float32)


def frac(cycles: np.ndarray) -> np.ndarray:
    return cycles - np.floor(cycles)


def sin_cycles(cycles: np.ndarray) -> np.ndarray:
    """sin(2*pi*cycles): phase reduced first (in the input's precision), sine in float32
    (numpy's float32 sine is SIMD-vectorised; the float64 one is an order of magnitude slower)."""
    return np.sin((TWO_PI * frac(cycles)).astype(np.float32, copy=False))


def rms(x: np.ndarray) -> float:
    # einsum, not np.dot: OpenBLAS threads dot products of this size, slow on a busy machine
    return math.sqrt(float(np.einsum("i,i->", x, x)) / x.size) if x.size else 0.0


def normalise(x: np.ndarray) -> np.ndarray:
    r = rms(x)
    return x / r if r > 1e-12 else x


def envelope(dt: np.ndarray, attack: float, decay: float, sustain: float = 0.0) -> np.ndarray:
    """Linear attack, exponential decay towards `sustain`."""
    d = sustain + (1.0 - sustain) * np.exp(dt * (-1.0 / decay))
    return d * np.minimum(dt * (1.0 / attack), 1.0) if attack > 0 else d


def biquad(kind: str, f0: float, q: float, sr: int, gain_db: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Biquad coefficients (Audio EQ Cookbook)."""
    f0 = min(max(f0, 10.0), 0.45 * sr)
    w0 = TWO_PI * f0 / sr
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2.0 * q)
    if kind == "low":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "high":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "band":
        b = [alpha, 0.0, -alpha]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "peak":
        A = 10.0 ** (gain_db / 40.0)
        b = [1 + alpha * A, -2 * cw, 1 - alpha * A]
        a = [1 + alpha / A, -2 * cw, 1 - alpha / A]
    else:  # pragma: no cover - internal
        raise ValueError(kind)
    return np.array(b) / a[0], np.array(a) / a[0]


def cascade(*sections: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Cascade biquads into one filter (one lfilter pass instead of several)."""
    b, a = np.array([1.0]), np.array([1.0])
    for bs, as_ in sections:
        b, a = np.convolve(b, bs), np.convolve(a, as_)
    return b, a


def biquad_filter(kind: str, x: np.ndarray, f0: float, q: float, sr: int, gain_db: float = 0.0) -> np.ndarray:
    b, a = biquad(kind, f0, q, sr, gain_db)
    return lfilter(b, a, x)
