"""The background noise mixed into every clip: coloured (a random mix of white, pink and brown)
noise synthesised in the frequency domain, gently fluctuating in level, at unit RMS."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.dsp import TWO_PI, normalise


@lru_cache(maxsize=8)
def _noise_shapes(n: int, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per rfft bin: 1000 Hz / f (pink power), its square (brown power), and a roll-off below
    20 Hz (no DC, no sub-sonic drift)."""
    f_hz = np.fft.rfftfreq(n, 1.0 / sr)
    inv = 1000.0 / np.maximum(f_hz, 20.0)
    shapes = (inv, inv * inv, np.minimum(f_hz / 20.0, 1.0) ** 2)
    for a in shapes:
        a.setflags(write=False)
    return shapes


def background(c: ClipContext) -> np.ndarray:
    """Unit-RMS coloured noise: a random mix of white, pink (1/f) and brown (1/f^2) power,
    synthesised in the frequency domain (random phases, one inverse FFT), gently fluctuating."""
    n = c.n
    if n < 4:
        return c.noise(n)
    w = c.rng.dirichlet((1.0, 1.0, 1.0))
    pink, brown, roll = _noise_shapes(n, c.sr)
    mag = np.sqrt(w[0] + w[1] * pink + w[2] * brown) * roll
    theta = (TWO_PI * c.rng.random(mag.size)).astype(np.float32)
    spec = np.empty(mag.size, dtype=np.complex128)
    spec.real = mag * np.cos(theta)
    spec.imag = mag * np.sin(theta)
    x = np.fft.irfft(spec, n)
    x *= 1.0 + c.uniform(0.0, 0.5) * np.sin(
        (TWO_PI * (c.uniform(0.2, 2.0) * c.t + c.uniform(0.0, 1.0))).astype(np.float32))
    return normalise(x)
