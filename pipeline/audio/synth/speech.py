"""The speech class: a source-filter voice (glottal pulses with a gliding pitch contour through
formant resonators, one vowel per syllable), unvoiced consonants, syllable rhythm and pauses
between phrases; with the overlap a music bed under the voice, as on the radio."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.dsp import TWO_PI, biquad_filter, frac, normalise
from pipeline.audio.synth.effects import reverb
from pipeline.audio.synth.events import event_spans
from pipeline.audio.synth.music import MUSIC_GENERATORS


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
        sec = np.array([1.0, -2.0 * r * math.cos(TWO_PI * min(f, 0.45 * sr) / sr), r * r])
        a = np.convolve(a, sec)
        gain *= sec.sum()
    return np.array([gain]), a


def generate(c: ClipContext) -> np.ndarray:
    sr, n = c.sr, c.n
    f0_base = c.span((85.0, 230.0), (75.0, 380.0))
    fscale = c.uniform(0.88, 1.22)                   # vocal-tract length: male .. female/child
    rate = c.uniform(3.5, 6.5)                       # syllables per second
    p_pause = c.span((0.22, 0.32), (0.1, 0.3))
    accent_st = c.span((1.5, 3.5), (1.5, 6.0))
    bw = _BANDWIDTHS * c.uniform(0.8, 1.3)

    voiced = []     # (start, end, formants, amplitude)
    unvoiced = []   # (start, end, centre, q, amplitude)
    targets_t, targets_st = [], []
    t_cur = -c.uniform(0.0, 0.4)
    phrase_t = t_cur
    while t_cur < c.dur:
        if c.chance(p_pause):
            t_cur += c.uniform(0.12, 0.45)           # a pause between phrases
            phrase_t = t_cur
        syl = c.uniform(0.6, 1.4) / rate
        kind = c.pick(("none", "plosive", "plosive", "fricative", "fricative", "nasal"))
        t0 = t_cur
        if kind == "plosive":
            t0 += c.uniform(0.03, 0.07)              # silent closure, then burst and aspiration
            unvoiced.append((t0, t0 + c.uniform(0.008, 0.02), c.uniform(1200.0, 4000.0), 0.8,
                             c.uniform(0.4, 0.9)))
            t0 += c.uniform(0.015, 0.05)
            unvoiced.append((t0 - 0.015, t0 + 0.02, c.uniform(1000.0, 2500.0), 0.6, c.uniform(0.1, 0.25)))
        elif kind == "fricative":
            d = c.uniform(0.05, 0.13)
            centre = c.pick((c.uniform(4500.0, 7000.0), c.uniform(2500.0, 3800.0), c.uniform(1500.0, 6000.0)))
            unvoiced.append((t0, t0 + d, centre, c.uniform(1.0, 3.0), c.uniform(0.15, 0.5)))
            t0 += d * c.uniform(0.7, 1.0)
        elif kind == "nasal":
            d = c.uniform(0.04, 0.08)
            voiced.append((t0, t0 + d, np.array([250.0, 1100.0, 2500.0]) * fscale, 0.25))
            t0 += d
        v_len = max(0.05, syl - (t0 - t_cur)) * c.uniform(0.7, 1.0)
        vowel = _VOWELS[int(c.rng.integers(len(_VOWELS)))] * fscale * (1.0 + 0.05 * c.rng.standard_normal(3))
        stress = c.uniform(0.5, 1.0)
        voiced.append((t0, t0 + v_len, vowel, stress))
        targets_t.append(t0)
        targets_st.append(accent_st * (0.5 * c.rng.standard_normal() + 0.5 * stress)
                          - c.uniform(1.0, 3.0) * (t0 - phrase_t))  # accents on a declining line
        t_end = t0 + v_len
        if c.chance(0.3):                            # coda consonant
            unvoiced.append((t_end - 0.01, t_end + c.uniform(0.03, 0.08), c.uniform(2500.0, 6500.0), 1.5,
                             c.uniform(0.1, 0.3)))
            t_end += 0.05
        t_cur = t_end + c.uniform(0.0, 0.05)

    # pitch contour: per-syllable targets, glided (one-pole smoother), with slow wobble
    st = np.full(n, targets_st[0])
    for i, a, e, _ in event_spans(c, targets_t):
        st[a:e] = targets_st[i]
    p = math.exp(-1.0 / (c.uniform(0.03, 0.07) * sr))
    st = lfilter([1.0 - p], [1.0, -p], st, zi=[p * st[0]])[0]
    wobble = (0.3 * np.sin((TWO_PI * (c.uniform(3.0, 7.0) * c.t + c.uniform(0, 1))).astype(np.float32))
              + 0.2 * np.sin((TWO_PI * (c.uniform(8.0, 13.0) * c.t + c.uniform(0, 1))).astype(np.float32)))
    f0 = f0_base * np.exp2((st + wobble) / 12.0)
    # glottal pulses: raised-cosine flow over the open phase; its derivative drives the tract
    glottal_phase = frac(np.cumsum(f0) / sr)
    oq = c.uniform(0.45, 0.7)
    flow = np.where(glottal_phase < oq, 0.5 - 0.5 * np.cos((TWO_PI / oq * glottal_phase).astype(np.float32)), 0.0)
    source = np.diff(flow, prepend=flow[:1])
    breath = c.uniform(0.002, 0.01)

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
        out[s0:s1] += biquad_filter("band", c.noise(s1 - s0) * env, centre, q, sr) * 0.02
    if c.chance(0.5):
        out = reverb(c, out, c.uniform(0.2, 0.5), c.uniform(0.05, 0.2))
    if c.chance(0.6 * c.overlap):
        # overlap: talk over a music bed (radio, podcast, video), well below the voice
        bed = MUSIC_GENERATORS[c.pick(tuple(MUSIC_GENERATORS))](c)
        out = normalise(out) + normalise(bed) * 10.0 ** (c.span((-26.0, -18.0), (-22.0, -8.0)) / 20.0)
    return out
