"""Synthetic labelled audio: five classes a listener would tell apart by their musical traits.

Pure numpy/scipy signal code, no file I/O. Every class is built from the traits a person would
name, never from a single trivial cue (loudness is normalised away and then randomised; pitches,
keys, tempi and timbres are drawn per clip):

* speech     - source-filter voice: a glottal pulse train with a gliding pitch contour (declination
               and syllable accents) through cascaded formant resonators, one vowel per syllable;
               consonants as unvoiced noise bursts (fricatives, plosive bursts after a silent
               closure), syllable rhythm of ~3-7 Hz and pauses between phrases.
* rock       - distorted power chords (root + fifth + octave through a soft/hard clipper and a
               cabinet low-pass), a root bass, backbeat drums: kick on 1 and 3, snare on 2 and 4,
               hi-hat eighths, played with human timing.
* jazz       - swung ride cymbal ("ding, ding-a ding"), hi-hat foot on 2 and 4, a walking bass of
               quarter notes through chord tones with chromatic approaches, rootless seventh-chord
               comping on an electric-piano (FM) or soft-piano timbre, a little room reverb.
* electronic - four-on-the-floor kick on a quantised grid, a saw/square/supersaw arpeggio lead
               through a resonant low-pass whose cut-off sweeps, off-beat hats, clap on 2 and 4,
               an off-beat or rolling bass, side-chain pumping.
* classical  - bowed strings (sawtooth through a body/bridge filter, slow bow attack, 5-6.5 Hz
               vibrato, bow noise), a legato melody over sustained harmony, no drums, hall reverb.

`Difficulty.overlap` (0..1) makes the classes overlap the way real genres do:
* ranges widen towards shared ones: tempi (rock and electronic meet), registers (speech pitch
  reaches melody range), swing towards straight eighths, distortion down to nearly clean,
  attack/reverb/brightness ranges, drum level down to -16 dB;
* borrowed parts appear with probability ~0.6*overlap at -18..-3 dB: string pads or organ/piano
  chords in rock, house-piano stabs or string pads in electronic, organ/string comping and an
  electric bass in jazz, a piano accompaniment in classical, a music bed under speech (radio);
* with probability 0.3*overlap the drums sit out the clip (an intro, break or breakdown), so the
  other traits must carry the class.
Then coloured background noise is mixed in at a drawn SNR and a random gain is applied; the clip
is scaled down (never clipped) if its peak would exceed 0.99.

Speed (~2-4 ms for 1 s at 16 kHz): nothing runs per sample in Python. Notes and hits are
rendered per event on their own span of samples (a Python loop over the few events of a clip,
numpy inside), drums are pre-rendered once per clip and placed like samples, phases are
frequency x time-since-onset in float32 (vibrato via its closed-form phase integral; the speech
pitch contour via one cumulative sum), filters are scipy.signal.lfilter calls (cascades merged
into one call; the swept filter runs block-wise with its state carried over), reverb is one FFT
convolution and the background noise one inverse FFT. Sines are evaluated in float32 on the
fractional phase (numpy's float32 sin is SIMD-vectorised; the float64 one is ~15x slower).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import lfilter

CLASSES = ("speech", "rock", "jazz", "electronic", "classical")


@dataclass(frozen=True)
class Difficulty:
    """How hard the clips are to tell apart.

    The defaults were chosen with scripts/calibrate_synth.py: with 300 clips per class a small
    DS-CNN on the 20x51 MFCCs reaches ~92% test accuracy (a logistic regression on MFCC
    mean+std about the same), so the classes are learnable and quantization losses can show.
    Without noise and overlap both models are at ~100%.
    """

    overlap: float = 0.8                         # 0..1: how far tempo/key/timbre ranges of classes overlap
    snr_db: tuple[float, float] = (-5.0, 15.0)   # background noise SNR (dB) drawn uniformly
    gain_db: tuple[float, float] = (-24.0, 0.0)  # random gain (dB) drawn uniformly; 0 dB = -20 dBFS RMS


DEFAULT_DIFFICULTY = Difficulty()

_REF_RMS = 0.1          # -20 dBFS: the level every clip has before the random gain
_PEAK = 0.99            # the clip is scaled down (not clipped) if its peak would exceed this
_MIN_SAMPLE_RATE = 4000
_LONG_AGO = 1.0e3       # onset time (s) of the "nothing has happened yet" event
_TWO_PI = 2.0 * math.pi


# ============================================================================ validation / API


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
                    difficulty: Difficulty = DEFAULT_DIFFICULTY) -> np.ndarray:
    """One clip of class `label`: float32 mono in [-1, 1], exactly round(sample_rate*duration_s)
    samples. The same generator state gives byte-identical output."""
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

    c = _Ctx(rng, int(sample_rate), n, overlap)
    # the recording chain's high-pass: no DC offset or sub-sonic drift (decaying kicks have some)
    x = _normalise(lfilter(*_rbj("high", 20.0, 0.7, c.sr), _GENERATORS[label](c)))

    # background: a random mix of white, pink and brown noise, gently fluctuating in level
    noise = _background(c)
    snr_db = c.u(*snr_range)
    x = x + noise * 10.0 ** (-snr_db / 20.0)
    x = _normalise(x) * (_REF_RMS * 10.0 ** (c.u(*gain_range) / 20.0))
    peak = float(np.max(np.abs(x)))
    if peak > _PEAK:
        x *= _PEAK / peak
    return x.astype(np.float32)


# ============================================================================ building blocks


class _Ctx:
    """Per-clip state shared by the generators."""

    def __init__(self, rng: np.random.Generator, sr: int, n: int, overlap: float) -> None:
        self.rng = rng
        self.sr = sr
        self.n = n
        self.o = overlap
        self.dur = n / sr
        self.nyq = 0.45 * sr
        # Time axis long enough for "seconds since an onset" of any event (onsets start <= 3 s
        # early). float32: note-local phases f*dt stay below ~1e4 cycles, where float32 is exact
        # to ~1e-3 cycle, and float32 arithmetic is twice as fast.
        self._tl = _time_axis(sr, n + 4 * sr)
        self.t = self._tl[:n]

    def since(self, lo: int, hi: int) -> np.ndarray:
        """Seconds at samples lo..hi-1 after an onset."""
        if hi <= self._tl.size:
            return self._tl[lo:hi]
        return (np.arange(lo, hi, dtype=np.float64) / self.sr).astype(np.float32)

    def u(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def span(self, base: tuple[float, float], wide: tuple[float, float]) -> float:
        """Uniform draw from `base` widened towards `wide` by the overlap."""
        o = self.o
        return self.u(base[0] + (wide[0] - base[0]) * o, base[1] + (wide[1] - base[1]) * o)

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


@lru_cache(maxsize=8)
def _time_axis(sr: int, m: int) -> np.ndarray:
    t = (np.arange(m, dtype=np.float64) / sr).astype(np.float32)
    t.setflags(write=False)
    return t


def _midi_hz(m) -> np.ndarray:
    """MIDI note number(s) to Hz, float32 (multiplied with the float32 time axis)."""
    return (440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)).astype(np.float32)


def _frac(cycles: np.ndarray) -> np.ndarray:
    return cycles - np.floor(cycles)


def _sin(cycles: np.ndarray) -> np.ndarray:
    """sin(2*pi*cycles): phase reduced first (in the input's precision), sine in float32
    (numpy's float32 sine is SIMD-vectorised; the float64 one is an order of magnitude slower)."""
    return np.sin((_TWO_PI * _frac(cycles)).astype(np.float32, copy=False))


def _rms(x: np.ndarray) -> float:
    # einsum, not np.dot: OpenBLAS threads dot products of this size, slow on a busy machine
    return math.sqrt(float(np.einsum("i,i->", x, x)) / x.size) if x.size else 0.0


def _normalise(x: np.ndarray) -> np.ndarray:
    r = _rms(x)
    return x / r if r > 1e-12 else x


def _spans(c: _Ctx, onsets, lengths=None, choke: bool = True):
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


def _fade_end(seg: np.ndarray, c: _Ctx) -> np.ndarray:
    """Ramp the last 4 ms of a choked note down (no click when the next note cuts it)."""
    ramp = _ramp_down(max(1, int(0.004 * c.sr)))
    m = min(seg.size, ramp.size)
    seg[-m:] *= ramp[ramp.size - m:]
    return seg


def _place(c: _Ctx, out: np.ndarray, onsets, vels, template: np.ndarray) -> None:
    """Add vel * template at every onset (a sampler: overlapping hits ring on together)."""
    L = template.size
    for k, a, e, _ in _spans(c, onsets, np.full(len(onsets), L / c.sr), choke=False):
        s = int(round(onsets[k] * c.sr))               # the onset sample (may be before the clip)
        out[a:e] += vels[k] * template[a - s:e - s]


def _env(dt: np.ndarray, attack: float, decay: float, sustain: float = 0.0) -> np.ndarray:
    """Linear attack, exponential decay towards `sustain`."""
    d = sustain + (1.0 - sustain) * np.exp(dt * (-1.0 / decay))
    return d * np.minimum(dt * (1.0 / attack), 1.0) if attack > 0 else d


def _rbj(kind: str, f0: float, q: float, sr: int, gain_db: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Biquad coefficients (Audio EQ Cookbook)."""
    f0 = min(max(f0, 10.0), 0.45 * sr)
    w0 = _TWO_PI * f0 / sr
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


def _chain(*sections: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Cascade biquads into one filter (one lfilter pass instead of several)."""
    b, a = np.array([1.0]), np.array([1.0])
    for bs, as_ in sections:
        b, a = np.convolve(b, bs), np.convolve(a, as_)
    return b, a


def _filt(kind: str, x: np.ndarray, f0: float, q: float, sr: int, gain_db: float = 0.0) -> np.ndarray:
    b, a = _rbj(kind, f0, q, sr, gain_db)
    return lfilter(b, a, x)


def _swept_lowpass(c: _Ctx, x: np.ndarray, cutoff_at: Callable[[np.ndarray], np.ndarray], q: float,
                   block_s: float = 0.025) -> np.ndarray:
    """Resonant low-pass whose cut-off follows cutoff_at(t): block-wise biquads, state carried."""
    block = max(16, int(block_s * c.sr))
    starts = np.arange(0, c.n, block)
    fc = np.clip(cutoff_at((starts + block / 2) / c.sr), 30.0, c.nyq)
    w0 = _TWO_PI * fc / c.sr
    cw, alpha = np.cos(w0), np.sin(w0) / (2.0 * q)
    a0 = 1.0 + alpha
    bs = np.stack([(1 - cw) / 2, 1 - cw, (1 - cw) / 2], axis=1) / a0[:, None]
    as_ = np.stack([np.ones_like(cw), -2 * cw / a0, (1 - alpha) / a0], axis=1)
    y = np.empty_like(x)
    zi = np.zeros(2)
    for i, s in enumerate(starts):
        y[s:s + block], zi = lfilter(bs[i], as_[i], x[s:s + block], zi=zi)
    return y


def _reverb(c: _Ctx, x: np.ndarray, rt60: float, wet: float) -> np.ndarray:
    """Room/hall: an impulse response of exponentially decaying noise (tail cut at 0.5 s),
    darkened by a low-pass, after an 8 ms pre-delay; FFT convolution at the full rate."""
    length = int(min(rt60, 0.5) * c.sr)
    if length < 16 or c.n < 16:
        return x
    tt = c.since(0, length)
    ir = (c.rng.random(length) - 0.5) * np.exp(tt * (-6.91 / rt60))
    ir = lfilter(*_rbj("low", c.u(2000.0, 5000.0), 0.6, c.sr), ir)
    ir[: int(0.008 * c.sr)] = 0.0
    size = next_fast_len(c.n + length - 1, real=True)
    rev = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: c.n]
    return (1.0 - wet) * x + wet * _normalise(rev) * _rms(x)


def _grid(c: _Ctx, step: float, offset: float, lead: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """A metrical grid: integer positions k (k=0 is a bar start, `offset` seconds before the clip
    starts) and their times relative to the clip, from `lead` seconds before the clip to its end."""
    k = np.arange(-int(math.ceil(lead / step)), int(math.ceil((c.dur + offset) / step)) + 1)
    return k * step - offset, k


# ---------------------------------------------------------------------------- drum sounds


def _kick_sound(c: _Ctx, f_hi: float, f_lo: float, sweep: float, decay: float) -> np.ndarray:
    """Sine with a falling pitch and a click."""
    dt = c.since(0, int(min(4.0 * decay, 0.8) * c.sr))
    cycles = f_lo * dt + (f_hi - f_lo) * sweep * (1.0 - np.exp(dt * (-1.0 / sweep)))
    click = c.noise(dt.size) * np.exp(dt * -300.0) * 0.3
    return _sin(cycles) * np.exp(dt * (-1.0 / decay)) + click


def _snare_sound(c: _Ctx, tone_hz: float, decay: float, centre_hz: float) -> np.ndarray:
    """Band-passed noise (the wires) plus a short drum-head tone."""
    dt = c.since(0, int(min(5.0 * decay, 1.0) * c.sr))
    wires = _filt("band", c.noise(dt.size), centre_hz, 0.7, c.sr) * 2.0
    return wires * np.exp(dt * (-1.0 / decay)) + _sin(tone_hz * dt) * np.exp(dt * -30.0) * 0.6


def _hat_sound(c: _Ctx, decay: float, cutoff: float) -> np.ndarray:
    """High-passed noise with a short decay."""
    dt = c.since(0, int(min(5.0 * decay, 1.0) * c.sr))
    return _filt("high", c.noise(dt.size), min(cutoff, c.nyq), 0.7, c.sr) * np.exp(dt * (-1.0 / decay))


def _cymbal_sound(c: _Ctx, base_hz: float, decay: float, cutoff: float) -> np.ndarray:
    """Ride: inharmonic partials (bell) over high-passed noise (wash), stick click, long ring."""
    dt = c.since(0, int(min(3.0 * decay, 0.8) * c.sr))
    ratios = np.array([1.0, 1.483, 1.932, 2.546, 2.630, 3.897])
    f = np.minimum(base_hz * ratios, c.nyq).astype(np.float32)
    bell = _sin(f[:, None] * dt[None, :] + c.rng.random((f.size, 1)).astype(np.float32)).sum(axis=0) * 0.08
    wash = _filt("high", c.noise(dt.size), min(cutoff, c.nyq), 0.7, c.sr)
    return (bell + wash * c.u(0.5, 1.2)) * (np.exp(dt * (-1.0 / decay)) + 0.6 * np.exp(dt * -80.0))


def _chords(c: _Ctx, onsets, lengths, hz: np.ndarray, timbre: str) -> np.ndarray:
    """Chords (one row of Hz per onset) on a keyboard or string timbre shared by several classes:
    'ep' (electric piano: 1:1 FM with a decaying index), 'piano' (two partials, decaying),
    'organ' (sustained saws) or 'strings' (saws with a slow bow attack). Each chord stops at the
    next onset or after its length (plus a short release)."""
    out = np.zeros(c.n)
    if len(onsets) == 0:
        return out
    lengths = np.broadcast_to(np.asarray(lengths, dtype=np.float64), (len(onsets),))
    ph = c.rng.random((hz.shape[1], 1)).astype(np.float32)
    fm_index, fm_decay, decay = c.u(0.15, 0.45), c.u(0.08, 0.3), c.u(0.5, 1.5)
    attack = c.u(0.08, 0.3)
    for i, a, e, dt in _spans(c, onsets, lengths + 0.1):
        cyc = hz[i][:, None] * dt[None, :] + ph
        if timbre == "ep":
            tone = _sin(cyc + (fm_index * np.exp(dt * (-1.0 / fm_decay))) * _sin(cyc)).sum(axis=0)
            env = _env(dt, 0.003, decay)
        elif timbre == "piano":
            tone = (_sin(cyc) + 0.3 * _sin(2.0 * cyc)).sum(axis=0)
            env = _env(dt, 0.004, decay * 0.7)
        elif timbre == "organ":
            tone = (2.0 * _frac(cyc).sum(axis=0) - hz.shape[1]) * 0.3
            env = _env(dt, 0.04, 1.0, 1.0)
        else:  # strings
            tone = (2.0 * _frac(cyc).sum(axis=0) - hz.shape[1]) * 0.3
            env = _env(dt, attack, 1.0, 1.0)
        env = env * np.minimum((lengths[i] + 0.1 - dt) * 10.0, 1.0)     # release at the end
        out[a:e] += _fade_end(tone * env, c)
    if timbre in ("organ", "strings"):
        out = lfilter(*_rbj("low", c.u(1200.0, 3000.0), 0.7, c.sr), out)
    return out


def _triads(roots_midi: np.ndarray, minor: np.ndarray | bool, base: float) -> np.ndarray:
    """Close-position triads (root, third, fifth) of the given roots, voiced from `base` up."""
    r = base + (np.asarray(roots_midi, dtype=np.float64) - base) % 12.0
    third = np.where(minor, 3.0, 4.0) + np.zeros_like(r)
    return _midi_hz(np.stack([r, r + third, r + 7.0], axis=1))


def _guest_level(c: _Ctx) -> float:
    """Level of a borrowed (cross-genre) part relative to the class's own parts."""
    return 10.0 ** (c.span((-18.0, -12.0), (-14.0, -3.0)) / 20.0)


def _drum_level(c: _Ctx) -> float:
    """Drum bus level relative to the band (dB drawn; quieter drums at high overlap). With
    probability 0.3*overlap the drums sit out this second (an intro, break or breakdown)."""
    level = 10.0 ** (c.span((-2.0, 3.0), (-16.0, 3.0)) / 20.0)
    return 0.0 if c.chance(0.3 * c.o) else level


# ============================================================================ classes


def _rock(c: _Ctx) -> np.ndarray:
    bpm = c.span((100.0, 150.0), (80.0, 175.0))
    beat = 60.0 / bpm
    offset = c.u(0.0, 4 * beat)
    te, k = _grid(c, beat / 2, offset)              # eighth notes
    pos = k % 8
    sd_t = c.u(0.003, 0.012)                         # played by people: loose timing

    # backbeat: kick on 1 and 3 (+ variations), snare on 2 and 4, hi-hat eighths
    kick_m = (pos == 0) | (pos == 4)
    if c.chance(0.5):
        kick_m |= pos == 5
    if c.chance(0.25):
        kick_m |= pos == 7
    snare_m = (pos == 2) | (pos == 6)
    drums = np.zeros(c.n)
    _place(c, drums, *c.humanise(te[kick_m], np.ones(kick_m.sum()), sd_t, 0.08),
           _kick_sound(c, c.u(90, 150), c.u(45, 62), c.u(0.02, 0.05), c.u(0.12, 0.3)) * c.u(0.8, 1.2))
    _place(c, drums, *c.humanise(te[snare_m], np.ones(snare_m.sum()), sd_t, 0.08),
           _snare_sound(c, c.u(160, 230), c.u(0.08, 0.18), c.u(1500, 4000)) * c.u(0.6, 1.0))
    hat_decay = c.u(0.03, 0.07) if c.chance(0.8) else c.u(0.15, 0.3)
    _place(c, drums, *c.humanise(te, np.where(pos % 2 == 0, 1.0, 0.6), sd_t, 0.15),
           _hat_sound(c, hat_decay, c.u(6000.0, 9000.0)) * c.u(0.3, 0.6))

    # power chords: root + fifth + octave (+ a detuned double), strummed, into a clipper
    progs = ((0, 10, 5, 0), (0, 5, 7, 5), (0, 8, 10, 0), (0, 3, 5, 3), (0, 7, 5, 7), (0, 5, 10, 5))
    prog = np.array(c.pick(progs))
    root = c.span((40.0, 50.0), (36.0, 57.0))
    chord_len = c.pick((4, 8))                       # eighths per chord
    chug = c.chance(0.6)                             # palm-muted eighths, or ringing chords
    gm = np.ones(k.size, dtype=bool) if chug else \
        (k % chord_len == 0) | ((pos == 3) & c.chance(0.5)) | ((pos == 7) & c.chance(0.5))
    g_t, _ = c.humanise(te[gm], np.ones(gm.sum()), sd_t * 0.7, 0.0)
    g_root = root + prog[(k[gm] // chord_len) % 4]
    g_hz = _midi_hz(np.stack([g_root, g_root + 7, g_root + 12, g_root + c.u(0.05, 0.15)], axis=1))
    decay, sustain = (c.u(0.06, 0.18), c.u(0.0, 0.3)) if chug else (c.u(0.5, 1.5), c.u(0.4, 0.8))
    bass_decay = c.u(0.15, 0.5)
    ph = c.rng.random((4, 1)).astype(np.float32)
    raw, bass = np.zeros(c.n), np.zeros(c.n)
    for i, a, e, dt in _spans(c, g_t):
        cyc = g_hz[i][:, None] * dt[None, :] + ph
        saws = 2.0 * _frac(cyc).sum(axis=0) - 4.0
        raw[a:e] = _fade_end(saws * _env(dt, 0.003, decay, sustain), c)
        bcyc = g_hz[i, 0] * 0.5 * dt
        bass[a:e] = _fade_end((_sin(bcyc) + 0.3 * (2.0 * _frac(bcyc) - 1.0)) * _env(dt, 0.004, bass_decay, 0.3), c)
    drive = c.span((4.0, 14.0), (1.3, 14.0))
    pre = raw * (drive * 0.35)
    dist = np.tanh(pre) if c.chance(0.7) else np.clip(pre, -1.0, 1.0)
    cab = _chain(_rbj("low", c.span((2500.0, 5000.0), (1800.0, 6500.0)), 0.9, c.sr),
                 _rbj("peak", c.u(600.0, 1500.0), 1.0, c.sr, c.u(-6.0, 4.0)),
                 _rbj("high", c.u(80.0, 150.0), 0.7, c.sr))
    guitar = lfilter(*cab, dist)

    mix = _normalise(guitar) + _normalise(bass) * c.u(0.3, 0.6) + _normalise(drums) * _drum_level(c)
    if c.chance(0.6 * c.o):
        # crossover: a string pad (power ballad) or organ/piano chords borrowed from other genres
        chord_t = te[k % chord_len == 0]
        roots = root + prog[(k[k % chord_len == 0] // chord_len) % 4] + 12.0
        timbre = c.pick(("strings", "organ", "piano", "ep"))
        extra = _chords(c, chord_t, beat * chord_len / 2, _triads(roots, c.chance(0.4), 55.0), timbre)
        mix += _normalise(extra) * _guest_level(c)
    return mix


_JAZZ_VOICING = {   # rootless voicings: 3rd, 5th/13th, 7th, 9th above the root
    "maj7": (4, 7, 11, 14), "m7": (3, 7, 10, 14), "7": (4, 9, 10, 14),
    "m7b5": (3, 6, 10, 13), "m6": (3, 7, 9, 14),
}
_JAZZ_TONES = {"maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10), "7": (0, 4, 7, 10),
               "m7b5": (0, 3, 6, 10), "m6": (0, 3, 7, 9)}
_JAZZ_PROGS = (
    ((2, "m7"), (7, "7"), (0, "maj7"), (9, "7")),
    ((0, "maj7"), (9, "m7"), (2, "m7"), (7, "7")),
    ((4, "m7"), (9, "7"), (2, "m7"), (7, "7")),
    ((2, "m7b5"), (7, "7"), (0, "m6"), (0, "m6")),
    ((0, "7"), (5, "7"), (0, "7"), (7, "7")),
)


def _jazz(c: _Ctx) -> np.ndarray:
    bpm = c.span((110.0, 220.0), (75.0, 240.0))
    beat = 60.0 / bpm
    swing = c.span((0.6, 0.72), (0.52, 0.72))       # where the swung off-beat falls (0.5 = straight)
    offset = c.u(0.0, 4 * beat)
    key = int(c.rng.integers(12))
    prog = c.pick(_JAZZ_PROGS)
    beats_per_chord = c.pick((2, 4))
    bt, bk = _grid(c, beat, offset, lead=2.0)       # quarter notes
    sd_t = c.u(0.004, 0.012)

    # swung ride: "ding, ding-a ding" - every beat plus the skip note on the swung "and" of 2 and 4
    two_four = (bk % 4 == 1) | (bk % 4 == 3)
    rt = np.concatenate((bt, bt[two_four] + swing * beat))
    rv = np.concatenate((np.where(two_four, 1.0, 0.8), np.full(two_four.sum(), 0.55)))
    order = np.argsort(rt, kind="stable")
    drums = np.zeros(c.n)
    _place(c, drums, *c.humanise(rt[order], rv[order], sd_t, 0.1),
           _cymbal_sound(c, c.u(650.0, 1100.0), c.u(0.35, 0.9), c.u(4000.0, 7000.0)))
    # hi-hat foot "chick" on 2 and 4
    _place(c, drums, *c.humanise(bt[two_four], np.ones(two_four.sum()), sd_t, 0.1),
           _hat_sound(c, c.u(0.015, 0.04), c.u(5000.0, 8000.0)) * c.u(0.3, 0.8))

    def chord_at(beat_index: int) -> tuple[int, str]:
        deg, qual = prog[(beat_index // beats_per_chord) % len(prog)]
        return key + deg, qual

    # walking bass: quarter notes through chord tones, chromatic approach into the next chord
    notes = []
    prev = 28.0 + float(c.rng.integers(0, 12))
    for b in bk.tolist():
        root, qual = chord_at(b)
        if b % beats_per_chord == 0:
            pc = root
        elif b % beats_per_chord == beats_per_chord - 1 and c.chance(0.5):
            pc = chord_at(b + 1)[0] + c.pick((-1, 1))
        else:
            pc = root + c.pick(_JAZZ_TONES[qual][1:])
        cands = pc % 12 + 12.0 * np.arange(2, 5)
        cands = cands[(cands >= 28) & (cands <= 50)]
        near = cands[np.argsort(np.abs(cands - prev))[:2]]
        prev = float(near[0] if near.size < 2 or c.chance(0.7) else near[1])
        notes.append(prev)
    b_hz = _midi_hz(notes)
    b_t, _ = c.humanise(bt, bt, sd_t, 0.0)
    bass = np.zeros(c.n)
    b_att, b_dec = c.u(0.004, 0.012), c.u(0.25, 0.7)
    electric = c.chance(0.4 * c.o)                   # fusion: electric bass instead of upright
    for i, a, e, dt in _spans(c, b_t):
        cyc = b_hz[i] * dt
        if electric:
            tone = _sin(cyc) + 0.4 * (2.0 * _frac(cyc) - 1.0)
        else:
            tone = _sin(cyc) + 0.45 * _sin(2.0 * cyc) + 0.15 * _sin(3.0 * cyc)
        bass[a:e] = _fade_end(tone * _env(dt, b_att, b_dec, 0.25), c)

    # comping: rootless 7th-chord voicings at swung, syncopated positions
    hits_t, hits_m, hits_len = [], [], []
    for bar in range(int(bk.min()) // 4, int(bk.max()) // 4 + 1):
        for p in np.sort(c.rng.choice(8, size=int(c.rng.integers(1, 4)), replace=False)).tolist():
            b = bar * 4 + p // 2
            root, qual = chord_at(b)
            midi = np.array(_JAZZ_VOICING[qual], dtype=np.float64) + root
            hits_t.append(b * beat + (p % 2) * swing * beat - offset)
            hits_m.append(np.sort(54.0 + (midi - 54.0) % 12.0))   # close voicing in [54, 66)
            hits_len.append(beat * c.pick((0.4, 0.8, 1.5, 2.5)))
    h_t, _ = c.humanise(hits_t, hits_t, sd_t, 0.0)
    # electric or soft piano; at high overlap also organ or string-pad comping (like classical)
    timbre = "ep" if c.chance(0.6 - 0.3 * c.o) else ("piano" if c.chance(1.0 - 0.6 * c.o) else c.pick(("organ", "strings")))
    comp = _chords(c, h_t, hits_len, _midi_hz(hits_m), timbre)

    mix = _normalise(bass) * c.u(0.7, 1.1) + _normalise(comp) * c.u(0.5, 1.0) \
        + _normalise(drums) * _drum_level(c) * 0.7
    return _reverb(c, mix, c.span((0.3, 0.8), (0.3, 1.8)), c.span((0.08, 0.2), (0.05, 0.35)))


def _electronic(c: _Ctx) -> np.ndarray:
    bpm = c.span((120.0, 132.0), (95.0, 160.0))
    beat = 60.0 / bpm
    offset = c.u(0.0, 4 * beat)
    te, k = _grid(c, beat / 4, offset)              # sixteenths, quantised: a machine plays
    pos = k % 16

    # four-on-the-floor kick, clap on 2 and 4, off-beat open hats, maybe 16th closed hats
    kick_t = te[pos % 4 == 0]
    drums = np.zeros(c.n)
    _place(c, drums, kick_t, np.ones(kick_t.size),
           _kick_sound(c, c.u(120.0, 240.0), c.u(40.0, 56.0), c.u(0.02, 0.045), c.u(0.2, 0.45)) * 1.3)
    if c.chance(0.7):
        ct = te[(pos == 4) | (pos == 12)]
        _place(c, drums, ct, np.ones(ct.size), _snare_sound(c, c.u(180, 260), c.u(0.1, 0.2), c.u(1000, 2500)) * c.u(0.4, 0.8))
    if c.chance(0.8):
        ot = te[pos % 4 == 2]
        _place(c, drums, ot, np.ones(ot.size), _hat_sound(c, c.u(0.06, 0.15), c.u(7000.0, 10000.0)) * c.u(0.3, 0.6))
    if c.chance(0.4):
        _place(c, drums, te, np.where(pos % 2 == 0, 0.6, 0.35), _hat_sound(c, 0.02, c.u(7000.0, 10000.0)) * c.u(0.2, 0.4))

    # harmony: minor-key loop, one chord per bar
    key = 33.0 + float(c.rng.integers(12))
    prog = np.array(c.pick(((0, 8, 3, 10), (0, 5, 0, 5), (0, 10, 8, 10), (0, 8, 5, 7), (0, 3, 10, 5))))
    chord_root = key + prog[(k // 16) % 4]

    # side-chain pump: everything but the drums ducks under each kick
    rel = c.u(0.06, 0.16)
    duck = np.zeros(c.n)
    _place(c, duck, kick_t, np.ones(kick_t.size), np.exp(c.since(0, int(5 * rel * c.sr)) * (-1.0 / rel)))
    pump = 1.0 - c.u(0.3, 0.8) * np.minimum(duck, 1.0)

    # bass: off-beat eighths or rolling sixteenths
    bm = (pos % 4 == 2) if c.chance(0.5) else (pos % 4 != 0)
    b_hz = _midi_hz(chord_root[bm])
    square = c.chance(0.5)
    bass = np.zeros(c.n)
    for i, a, e, dt in _spans(c, te[bm], beat * 0.22):
        cyc = b_hz[i] * dt
        wave = np.where(_frac(cyc) < 0.5, 1.0, -1.0) if square else 2.0 * _frac(cyc) - 1.0
        bass[a:e] = _fade_end(wave * _env(dt, 0.003, 0.1, 0.6), c)
    bass = lfilter(*_rbj("low", c.u(250.0, 700.0), c.u(1.0, 3.0), c.sr), bass)

    # lead: saw/square/supersaw arpeggio through a resonant low-pass with a sweeping cut-off
    arp = np.array(c.pick(((0, 3, 7, 12), (0, 7, 12, 15), (0, 12, 7, 3), (0, 3, 7, 10, 12, 10, 7, 3))))
    step = c.pick((1, 2))                            # sixteenths or eighths
    lm = k % step == 0
    l_midi = chord_root[lm] + 12.0 * round(c.span((2.0, 2.0), (1.0, 3.0))) + arp[(k[lm] // step) % arp.size]
    l_hz = _midi_hz(l_midi)
    kind = c.pick(("saw", "square", "supersaw"))
    d = c.u(0.003, 0.01)
    detune = np.array([[1.0], [1.0 + d], [1.0 - d]], dtype=np.float32)
    pw = c.u(0.25, 0.5)
    gate = beat * step * 0.25 * c.u(0.4, 0.9)
    l_dec, l_sus = c.u(0.05, 0.25), c.u(0.3, 0.7)
    ph = c.rng.random((3, 1)).astype(np.float32)
    lead = np.zeros(c.n)
    for i, a, e, dt in _spans(c, te[lm], gate + 0.03):
        if kind == "supersaw":
            osc = 2.0 * _frac(l_hz[i] * detune * dt[None, :] + ph).sum(axis=0) / 3.0 - 1.0
        elif kind == "square":
            osc = np.where(_frac(l_hz[i] * dt) < pw, 1.0, -1.0)
        else:
            osc = 2.0 * _frac(l_hz[i] * dt) - 1.0
        env = _env(dt, 0.003, l_dec, l_sus) * np.minimum((gate + 0.03 - dt) / 0.03, 1.0)
        lead[a:e] = _fade_end(osc * env, c)
    if c.chance(0.5 * c.o):                          # a driven synth (overlaps the rock guitar)
        lead = np.tanh(lead * c.u(1.5, 5.0))
    lo, hi = c.u(250.0, 900.0), c.u(2500.0, 7000.0)
    period, phase0 = c.u(1.0, 8.0), c.u(0.0, 1.0)
    if c.chance(0.5):
        def sweep(t):
            return lo * (hi / lo) ** (0.5 + 0.5 * np.sin(_TWO_PI * (t / period + phase0)))
    else:
        direction = c.pick((1.0, -1.0))

        def sweep(t):
            return lo * (hi / lo) ** np.clip(phase0 + direction * t / period * 2.0, 0.0, 1.0)
    lead = _swept_lowpass(c, lead, sweep, c.u(2.0, 8.0))

    mix = _normalise(lead) + _normalise(bass) * c.u(0.5, 0.9)
    if c.chance(0.5):
        # pad: a sustained minor chord per bar, slow attack
        bars = pos == 0
        p_hz = _midi_hz(np.stack([chord_root[bars] + 24, chord_root[bars] + 27, chord_root[bars] + 31], axis=1))
        pad = np.zeros(c.n)
        ph3 = c.rng.random((3, 1)).astype(np.float32)
        for i, a, e, dt in _spans(c, te[bars]):
            pad[a:e] = (2.0 * _frac(p_hz[i][:, None] * dt[None, :] + ph3).sum(axis=0) - 3.0) * np.minimum(dt / 0.2, 1.0)
        pad = lfilter(*_rbj("low", c.u(800.0, 2000.0), 0.7, c.sr), pad)
        mix += _normalise(pad) * c.u(0.2, 0.5)
    if c.chance(0.6 * c.o):
        # crossover: house-piano / electric-piano stabs on the off-beats, or a string pad
        timbre = c.pick(("piano", "ep", "strings"))
        sm = (pos % 4 == 2) if timbre != "strings" else (pos == 0)
        extra = _chords(c, te[sm], beat * (0.4 if timbre != "strings" else 4.0),
                        _triads(chord_root[sm] + 24.0, True, 57.0), timbre)
        mix += _normalise(extra) * _guest_level(c)
    level = _drum_level(c)
    return (mix * pump if level > 0 else mix) + _normalise(drums) * (1.5 * level)


_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])


def _classical(c: _Ctx) -> np.ndarray:
    bpm = c.span((56.0, 110.0), (50.0, 150.0))
    beat = 60.0 / bpm
    scale = _MAJOR if c.chance(0.6) else _MINOR
    key = float(c.rng.integers(12))
    chords = c.pick(((0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 0, 4), (0, 4, 5, 3), (5, 1, 4, 0)))  # scale degrees
    beats_per_chord = c.pick((2, 4))
    start = -c.u(0.5, 2.0)

    def deg_midi(d, base: float) -> np.ndarray:
        d = np.asarray(d)
        return base + key + scale[d % 7] + 12.0 * (d // 7)

    # melody: legato, mostly stepwise, notes of 1/2 to 2 beats
    lo_m = c.span((62.0, 66.0), (50.0, 62.0))
    t_cur, deg = start, int(c.rng.integers(7, 12))
    m_t, m_deg = [], []
    while t_cur < c.dur:
        m_t.append(t_cur)
        m_deg.append(deg)
        t_cur += beat * c.pick((0.5, 1.0, 1.0, 1.5, 2.0))
        deg = min(max(deg + int(c.pick((-2, -1, -1, 1, 1, 2, 0, 3, -3))), 5), 16)
    m_hz = _midi_hz(np.maximum(deg_midi(m_deg, 48.0), lo_m))
    # harmony: cello on the root, viola and second violin on the third and fifth, sustained
    h_t = start + np.arange(int(math.ceil((c.dur - start) / (beat * beats_per_chord))) + 1) * beat * beats_per_chord
    ch = np.array(chords)[np.arange(h_t.size) % 4]
    h_hz = _midi_hz(np.stack([deg_midi(ch, 36.0), deg_midi(ch + 2, 48.0), deg_midi(ch + 4, 48.0)], axis=1))

    # vibrato: f(t) = f0 (1 + depth sin(2 pi r t + phi)); its phase integral G(t) is closed-form
    rates = c.u(4.8, 6.5) * (1.0 + 0.05 * c.rng.standard_normal(4))
    phis = c.rng.random(4)
    depth = c.u(0.002, 0.007) * np.array([1.0, 0.6, 0.6, 0.6])
    G = -np.cos((_TWO_PI * (rates[:, None] * c.t[None, :] + phis[:, None])).astype(np.float32)) \
        * (depth / (_TWO_PI * rates)).astype(np.float32)[:, None]

    def G_at(v: int, t: float) -> float:
        return -math.cos(_TWO_PI * (rates[v] * t + phis[v])) * depth[v] / (_TWO_PI * rates[v])

    attack = c.span((0.06, 0.25), (0.02, 0.3))
    dip_m, dip_h = c.u(0.4, 0.8), c.u(0.5, 0.9)
    pizz = c.chance(0.35 * c.o)                      # plucked accompaniment (overlaps piano timbres)
    pizz_dec = c.u(0.2, 0.5)
    ph = c.rng.random(4).astype(np.float32)
    melody, harmony = np.zeros(c.n), np.zeros(c.n)
    for i, a, e, dt in _spans(c, m_t):
        cyc = m_hz[i] * (dt + G[0, a:e] - G_at(0, m_t[i])) + ph[0]
        bow = np.minimum(dt * 100.0, 1.0) * (1.0 - dip_m * np.exp(dt * (-1.0 / attack)))  # bow change
        melody[a:e] = _fade_end((2.0 * _frac(cyc) - 1.0) * bow, c)
    for i, a, e, dt in _spans(c, h_t):
        t0 = h_t[i]
        g0 = np.array([[G_at(v, t0)] for v in (1, 2, 3)], dtype=np.float32)
        cyc = h_hz[i][:, None] * (dt[None, :] + G[1:, a:e] - g0) + ph[1:, None]
        env = _env(dt, 0.005, pizz_dec) if pizz else \
            np.minimum(dt * 100.0, 1.0) * (1.0 - dip_h * np.exp(dt * (-1.0 / attack)))
        harmony[a:e] = _fade_end((2.0 * _frac(cyc).sum(axis=0) - 3.0) * env, c)
    x = melody * c.u(0.8, 1.3) + harmony * c.u(0.4, 0.7) + c.noise(c.n) * c.u(0.01, 0.04)   # + bow noise
    x *= np.minimum((c.t - start) / 0.3, 1.0) * (1.0 + c.u(-0.3, 0.3) * c.t / max(c.dur, 1e-3))  # swell

    # the instrument body: a low-pass and two resonances (like a violin/viola body), one pass
    body = _chain(_rbj("low", c.span((2500.0, 5000.0), (2000.0, 6500.0)), 0.7, c.sr),
                  _rbj("peak", c.u(250.0, 500.0), 1.5, c.sr, c.u(2.0, 7.0)),
                  _rbj("peak", c.u(2000.0, 3200.0), 1.5, c.sr, c.u(2.0, 7.0)))
    x = lfilter(*body, x)
    if c.chance(0.5 * c.o):
        # crossover: a piano playing broken chords (Alberti figure) under the strings
        a_t = h_t[0] + np.arange(int((c.dur - h_t[0]) / (beat / 2)) + 1) * (beat / 2)
        a_chord = ((a_t - h_t[0]) // (beat * beats_per_chord)).astype(int)
        figure = np.array([0, 2, 1, 2])[np.arange(a_t.size) % 4]          # root, fifth, third, fifth
        a_midi = np.stack([deg_midi(ch[a_chord], 48.0), deg_midi(ch[a_chord] + 2, 48.0),
                           deg_midi(ch[a_chord] + 4, 48.0)], axis=1)[np.arange(a_t.size), figure]
        piano = _chords(c, a_t, beat / 2, _midi_hz(a_midi)[:, None], "piano")
        x = _normalise(x) + _normalise(piano) * _guest_level(c)
    return _reverb(c, x, c.span((1.2, 2.5), (0.5, 2.5)), c.span((0.25, 0.45), (0.1, 0.45)))


_VOWELS = np.array([   # F1, F2, F3 (Hz) of an adult male voice
    [730, 1090, 2440],   # a
    [270, 2290, 3010],   # i
    [300, 870, 2240],    # u
    [530, 1840, 2480],   # e
    [570, 840, 2410],    # o
    [660, 1720, 2410],   # ae
    [440, 1020, 2240],   # schwa-ish
], dtype=np.float64)
_BANDWIDTHS = np.array([80.0, 110.0, 160.0])


def _formant_filter(freqs, bws, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Cascade of 2-pole resonators (Klatt style, unity gain at DC) as one b, a."""
    a = np.array([1.0])
    gain = 1.0
    for f, bw in zip(freqs, bws):
        r = math.exp(-math.pi * bw / sr)
        sec = np.array([1.0, -2.0 * r * math.cos(_TWO_PI * min(f, 0.45 * sr) / sr), r * r])
        a = np.convolve(a, sec)
        gain *= sec.sum()
    return np.array([gain]), a


def _speech(c: _Ctx) -> np.ndarray:
    sr, n = c.sr, c.n
    f0_base = c.span((85.0, 230.0), (75.0, 380.0))
    fscale = c.u(0.88, 1.22)                         # vocal-tract length: male .. female/child
    rate = c.u(3.5, 6.5)                             # syllables per second
    p_pause = c.span((0.22, 0.32), (0.1, 0.3))
    accent_st = c.span((1.5, 3.5), (1.5, 6.0))
    bw = _BANDWIDTHS * c.u(0.8, 1.3)

    voiced = []     # (start, end, formants, amplitude)
    unvoiced = []   # (start, end, centre, q, amplitude)
    targets_t, targets_st = [], []
    t_cur = -c.u(0.0, 0.4)
    phrase_t = t_cur
    while t_cur < c.dur:
        if c.chance(p_pause):
            t_cur += c.u(0.12, 0.45)                 # a pause between phrases
            phrase_t = t_cur
        syl = c.u(0.6, 1.4) / rate
        kind = c.pick(("none", "plosive", "plosive", "fricative", "fricative", "nasal"))
        t0 = t_cur
        if kind == "plosive":
            t0 += c.u(0.03, 0.07)                    # silent closure, then burst and aspiration
            unvoiced.append((t0, t0 + c.u(0.008, 0.02), c.u(1200.0, 4000.0), 0.8, c.u(0.4, 0.9)))
            t0 += c.u(0.015, 0.05)
            unvoiced.append((t0 - 0.015, t0 + 0.02, c.u(1000.0, 2500.0), 0.6, c.u(0.1, 0.25)))
        elif kind == "fricative":
            d = c.u(0.05, 0.13)
            centre = c.pick((c.u(4500.0, 7000.0), c.u(2500.0, 3800.0), c.u(1500.0, 6000.0)))
            unvoiced.append((t0, t0 + d, centre, c.u(1.0, 3.0), c.u(0.15, 0.5)))
            t0 += d * c.u(0.7, 1.0)
        elif kind == "nasal":
            d = c.u(0.04, 0.08)
            voiced.append((t0, t0 + d, np.array([250.0, 1100.0, 2500.0]) * fscale, 0.25))
            t0 += d
        v_len = max(0.05, syl - (t0 - t_cur)) * c.u(0.7, 1.0)
        vowel = _VOWELS[int(c.rng.integers(len(_VOWELS)))] * fscale * (1.0 + 0.05 * c.rng.standard_normal(3))
        stress = c.u(0.5, 1.0)
        voiced.append((t0, t0 + v_len, vowel, stress))
        targets_t.append(t0)
        targets_st.append(accent_st * (0.5 * c.rng.standard_normal() + 0.5 * stress)
                          - c.u(1.0, 3.0) * (t0 - phrase_t))     # accents on a declining line
        t_end = t0 + v_len
        if c.chance(0.3):                            # coda consonant
            unvoiced.append((t_end - 0.01, t_end + c.u(0.03, 0.08), c.u(2500.0, 6500.0), 1.5, c.u(0.1, 0.3)))
            t_end += 0.05
        t_cur = t_end + c.u(0.0, 0.05)

    # pitch contour: per-syllable targets, glided (one-pole smoother), with slow wobble
    st = np.full(n, targets_st[0])
    for i, a, e, _ in _spans(c, targets_t):
        st[a:e] = targets_st[i]
    p = math.exp(-1.0 / (c.u(0.03, 0.07) * sr))
    st = lfilter([1.0 - p], [1.0, -p], st, zi=[p * st[0]])[0]
    wobble = (0.3 * np.sin((_TWO_PI * (c.u(3.0, 7.0) * c.t + c.u(0, 1))).astype(np.float32))
              + 0.2 * np.sin((_TWO_PI * (c.u(8.0, 13.0) * c.t + c.u(0, 1))).astype(np.float32)))
    f0 = f0_base * np.exp2((st + wobble) / 12.0)
    # glottal pulses: raised-cosine flow over the open phase; its derivative drives the tract
    frac = _frac(np.cumsum(f0) / sr)
    oq = c.u(0.45, 0.7)
    flow = np.where(frac < oq, 0.5 - 0.5 * np.cos((_TWO_PI / oq * frac).astype(np.float32)), 0.0)
    source = np.diff(flow, prepend=flow[:1])
    breath = c.u(0.002, 0.01)

    out = np.zeros(n)
    for t0, t1, formants, amp in voiced:
        s0, s1 = max(int(t0 * sr), 0), min(int(t1 * sr), n)
        if s1 <= s0:
            continue
        seg_t = c.t[s0:s1]
        env = amp * np.clip(np.minimum(seg_t - t0, t1 - seg_t) * (1.0 / 0.015), 0.0, 1.0)
        tail = min(n, s1 + int(0.02 * sr))
        x = np.zeros(tail - s0)
        x[: s1 - s0] = (source[s0:s1] + breath * c.noise(s1 - s0)) * env
        out[s0:tail] += lfilter(*_formant_filter(formants, bw, sr), x)
    for t0, t1, centre, q, amp in unvoiced:
        s0, s1 = max(int(t0 * sr), 0), min(int(t1 * sr), n)
        if s1 <= s0:
            continue
        seg_t = c.t[s0:s1]
        env = amp * np.clip(np.minimum(seg_t - t0, t1 - seg_t) * (1.0 / 0.005), 0.0, 1.0)
        out[s0:s1] += _filt("band", c.noise(s1 - s0) * env, centre, q, sr) * 0.02
    if c.chance(0.5):
        out = _reverb(c, out, c.u(0.2, 0.5), c.u(0.05, 0.2))
    if c.chance(0.6 * c.o):
        # overlap: talk over a music bed (radio, podcast, video), well below the voice
        bed = _GENERATORS[c.pick(CLASSES[1:])](c)
        out = _normalise(out) + _normalise(bed) * 10.0 ** (c.span((-26.0, -18.0), (-22.0, -8.0)) / 20.0)
    return out


# ---------------------------------------------------------------------------- background


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


def _background(c: _Ctx) -> np.ndarray:
    """Unit-RMS coloured noise: a random mix of white, pink (1/f) and brown (1/f^2) power,
    synthesised in the frequency domain (random phases, one inverse FFT), gently fluctuating."""
    n = c.n
    if n < 4:
        return c.noise(n)
    w = c.rng.dirichlet((1.0, 1.0, 1.0))
    pink, brown, roll = _noise_shapes(n, c.sr)
    mag = np.sqrt(w[0] + w[1] * pink + w[2] * brown) * roll
    theta = (_TWO_PI * c.rng.random(mag.size)).astype(np.float32)
    spec = np.empty(mag.size, dtype=np.complex128)
    spec.real = mag * np.cos(theta)
    spec.imag = mag * np.sin(theta)
    x = np.fft.irfft(spec, n)
    x *= 1.0 + c.u(0.0, 0.5) * np.sin((_TWO_PI * (c.u(0.2, 2.0) * c.t + c.u(0.0, 1.0))).astype(np.float32))
    return _normalise(x)


_GENERATORS: dict[str, Callable[[_Ctx], np.ndarray]] = {
    "speech": _speech, "rock": _rock, "jazz": _jazz, "electronic": _electronic, "classical": _classical,
}
assert tuple(_GENERATORS) == CLASSES
