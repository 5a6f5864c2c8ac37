"""The public entry: the class labels, the Difficulty setting and its validation, the per-clip
random generator, and synthesize_clip, which renders a class and passes it through the recording
chain (high-pass, loudness normalisation, background noise at a drawn SNR, random gain, peak
limit by scaling)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.signal import lfilter

from pipeline.audio.synth import speech
from pipeline.audio.synth.background import background
from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.dsp import biquad, normalise
from pipeline.audio.synth.music import MUSIC_GENERATORS

CLASSES = ("speech", "rock", "jazz", "electronic", "classical")


@dataclass(frozen=True)
class Difficulty:
    """How hard the clips are to tell apart. No field has a default: the values the pipeline uses
    live in params.yaml (data.difficulty), and every caller passes its own.

    scripts/calibrate_synth.py measures what a setting does. With overlap 0.8, SNR -5..15 dB and
    gain -24..0 dB (the generator's former built-in default) and 300 clips per class, a small
    DS-CNN on the 20x51 MFCCs reaches ~92% test accuracy (a logistic regression on MFCC mean+std
    about the same), so the classes are learnable and quantization losses can show. Without noise
    and overlap both models are at ~100%.
    """

    overlap: float                               # 0..1: how far tempo/key/timbre ranges of classes overlap
    snr_db: tuple[float, float]                  # background noise SNR (dB) drawn uniformly
    gain_db: tuple[float, float]                 # random gain (dB) drawn uniformly; 0 dB = -20 dBFS RMS


_REF_RMS = 0.1          # -20 dBFS: the level every clip has before the random gain
_PEAK = 0.99            # the clip is scaled down (not clipped) if its peak would exceed this
_MIN_SAMPLE_RATE = 4000

_GENERATORS: dict[str, Callable[[ClipContext], np.ndarray]] = {
    "speech": speech.generate, **MUSIC_GENERATORS,
}
assert tuple(_GENERATORS) == CLASSES


def clip_rng(seed: int, label_index: int, clip_index: int) -> np.random.Generator:
    """The generator for one clip, from SeedSequence([seed, label_index, clip_index]): each clip is
    reproducible on its own, whatever order (or process) clips are generated in."""
    for name, value in (("seed", seed), ("label_index", label_index), ("clip_index", clip_index)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"clip_rng: {name} must be a non-negative integer, got {value!r}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(label_index), int(clip_index)])))


def _check_range(name: str, value: object, lo: float, hi: float) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"difficulty.{name} must be a pair (low, high) of numbers, got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)) or a > b:
        raise ValueError(f"difficulty.{name} must be finite with low <= high, got {value!r}")
    if a < lo or b > hi:
        raise ValueError(f"difficulty.{name} must lie within [{lo}, {hi}], got {value!r}")
    return a, b


def _check_difficulty(difficulty: object) -> tuple[float, tuple[float, float], tuple[float, float]]:
    """Accepts this module's Difficulty or any object with the same three attributes (for
    instance the validated params.yaml model)."""
    missing = [a for a in ("overlap", "snr_db", "gain_db") if not hasattr(difficulty, a)]
    if missing:
        raise ValueError(f"difficulty must have attributes overlap, snr_db and gain_db "
                         f"(missing {missing}), got {difficulty!r}")
    try:
        overlap = float(difficulty.overlap)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"difficulty.overlap must be a number in [0, 1], got {difficulty.overlap!r}") from None  # type: ignore[attr-defined]
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"difficulty.overlap must be in [0, 1], got {overlap!r}")
    snr = _check_range("snr_db", difficulty.snr_db, -60.0, 200.0)  # type: ignore[attr-defined]
    gain = _check_range("gain_db", difficulty.gain_db, -120.0, 60.0)  # type: ignore[attr-defined]
    return overlap, snr, gain


def synthesize_clip(label: str, rng: np.random.Generator, *, sample_rate: int, duration_s: float,
                    difficulty: Difficulty) -> np.ndarray:
    """One clip of class `label`: float32 mono in [-1, 1], exactly round(sample_rate*duration_s)
    samples. The same generator state gives byte-identical output. `difficulty` is required:
    its values live in params.yaml (data.difficulty), not here."""
    if not isinstance(label, str) or label not in _GENERATORS:
        raise ValueError(f"unknown label {label!r}; allowed labels: {list(CLASSES)}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (see clip_rng), got {type(rng).__name__}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or sample_rate < _MIN_SAMPLE_RATE:
        raise ValueError(f"sample_rate must be an integer >= {_MIN_SAMPLE_RATE} Hz, got {sample_rate!r}")
    try:
        duration = float(duration_s)
    except (TypeError, ValueError):
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}") from None
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration_s must be a positive, finite number of seconds, got {duration_s!r}")
    n = int(round(int(sample_rate) * duration))
    if n < 1:
        raise ValueError(f"duration_s={duration_s!r} at sample_rate={sample_rate} gives no samples")
    overlap, snr_range, gain_range = _check_difficulty(difficulty)

    c = ClipContext(rng, int(sample_rate), n, overlap)
    # the recording chain's high-pass: no DC offset or sub-sonic drift (decaying kicks have some)
    x = normalise(lfilter(*biquad("high", 20.0, 0.7, c.sr), _GENERATORS[label](c)))

    # background: a random mix of white, pink and brown noise, gently fluctuating in level
    noise = background(c)
    snr_db = c.uniform(*snr_range)
    x = x + noise * 10.0 ** (-snr_db / 20.0)
    x = normalise(x) * (_REF_RMS * 10.0 ** (c.uniform(*gain_range) / 20.0))
    peak = float(np.max(np.abs(x)))
    if peak > _PEAK:
        x *= _PEAK / peak
    return x.astype(np.float32)
