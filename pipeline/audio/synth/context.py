"""The per-clip state every generator works on: the random generator and the draws made from it
(uniform, widened by the overlap, coin flips, choices, white noise, human timing), the sample rate
and length, and the time axis. Every random number of a clip is drawn through it, in order."""

from __future__ import annotations

import math

import numpy as np

from pipeline.audio.synth.dsp import time_axis


class ClipContext:
    """Per-clip state shared by the generators."""

    def __init__(self, rng: np.random.Generator, sr: int, n: int, overlap: float) -> None:
        self.rng = rng
        self.sr = sr
        self.n = n
        self.overlap = overlap
        self.dur = n / sr
        self.nyq = 0.45 * sr
        # Time axis long enough for "seconds since an onset" of any event (onsets start <= 3 s
        # early). float32: note-local phases f*dt stay below ~1e4 cycles, where float32 is exact
        # to ~1e-3 cycle, and float32 arithmetic is twice as fast.
        self._t_long = time_axis(sr, n + 4 * sr)
        self.t = self._t_long[:n]

    def since(self, lo: int, hi: int) -> np.ndarray:
        """Seconds at samples lo..hi-1 after an onset."""
        if hi <= self._t_long.size:
            return self._t_long[lo:hi]
        return (np.arange(lo, hi, dtype=np.float64) / self.sr).astype(np.float32)

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def span(self, base: tuple[float, float], wide: tuple[float, float]) -> float:
        """Uniform draw from `base` widened towards `wide` by the overlap."""
        o = self.overlap
        return self.uniform(base[0] + (wide[0] - base[0]) * o, base[1] + (wide[1] - base[1]) * o)

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def noise(self, m: int) -> np.ndarray:
        """Unit-variance uniform white noise (cheaper than Gaussian, spectrally the same)."""
        return (self.rng.random(m) - 0.5) * math.sqrt(12.0)

    def humanise(self, times: np.ndarray, vel: np.ndarray, sd_t: float, sd_v: float):
        """Human timing and dynamics: onsets moved by N(0, sd_t) s (kept in order), velocities
        scaled by 1 + N(0, sd_v)."""
        times = np.asarray(times, dtype=np.float64)
        if sd_t > 0 and times.size:
            times = np.sort(times + self.rng.normal(0.0, sd_t, times.size))
        vel = np.asarray(vel, dtype=np.float64)
        if sd_v > 0 and vel.size:
            vel = np.clip(vel * (1.0 + self.rng.normal(0.0, sd_v, vel.size)), 0.05, 1.5)
        return times, vel
