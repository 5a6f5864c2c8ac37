"""The classical class: bowed strings (a legato melody over sustained harmony, vibrato, bow
attack and noise) through an instrument-body filter, no drums, hall reverb; with the overlap
pizzicato accompaniment or a borrowed piano playing broken chords."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

from pipeline.audio.synth.chords import guest_level, play_chords
from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.dsp import TWO_PI, biquad, cascade, envelope, frac, midi_hz, normalise
from pipeline.audio.synth.effects import reverb
from pipeline.audio.synth.events import event_spans, fade_end


_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])


def generate(c: ClipContext) -> np.ndarray:
    bpm = c.span((56.0, 110.0), (50.0, 150.0))
    beat = 60.0 / bpm
    scale = _MAJOR if c.chance(0.6) else _MINOR
    key = float(c.rng.integers(12))
    chords = c.pick(((0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 0, 4), (0, 4, 5, 3), (5, 1, 4, 0)))  # scale degrees
    beats_per_chord = c.pick((2, 4))
    start = -c.uniform(0.5, 2.0)

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
    m_hz = midi_hz(np.maximum(deg_midi(m_deg, 48.0), lo_m))
    # harmony: cello on the root, viola and second violin on the third and fifth, sustained
    h_t = start + np.arange(int(math.ceil((c.dur - start) / (beat * beats_per_chord))) + 1) * beat * beats_per_chord
    ch = np.array(chords)[np.arange(h_t.size) % 4]
    h_hz = midi_hz(np.stack([deg_midi(ch, 36.0), deg_midi(ch + 2, 48.0), deg_midi(ch + 4, 48.0)], axis=1))

    # vibrato: f(t) = f0 (1 + depth sin(2 pi r t + phi)); its phase integral G(t) is closed-form
    rates = c.uniform(4.8, 6.5) * (1.0 + 0.05 * c.rng.standard_normal(4))
    phis = c.rng.random(4)
    depth = c.uniform(0.002, 0.007) * np.array([1.0, 0.6, 0.6, 0.6])
    G = -np.cos((TWO_PI * (rates[:, None] * c.t[None, :] + phis[:, None])).astype(np.float32)) \
        * (depth / (TWO_PI * rates)).astype(np.float32)[:, None]

    def G_at(v: int, t: float) -> float:
        return -math.cos(TWO_PI * (rates[v] * t + phis[v])) * depth[v] / (TWO_PI * rates[v])

    attack = c.span((0.06, 0.25), (0.02, 0.3))
    dip_m, dip_h = c.uniform(0.4, 0.8), c.uniform(0.5, 0.9)
    pizz = c.chance(0.35 * c.overlap)                # plucked accompaniment (overlaps piano timbres)
    pizz_dec = c.uniform(0.2, 0.5)
    ph = c.rng.random(4).astype(np.float32)
    melody, harmony = np.zeros(c.n), np.zeros(c.n)
    for i, a, e, dt in event_spans(c, m_t):
        cyc = m_hz[i] * (dt + G[0, a:e] - G_at(0, m_t[i])) + ph[0]
        bow = np.minimum(dt * 100.0, 1.0) * (1.0 - dip_m * np.exp(dt * (-1.0 / attack)))  # bow change
        melody[a:e] = fade_end((2.0 * frac(cyc) - 1.0) * bow, c)
    for i, a, e, dt in event_spans(c, h_t):
        t0 = h_t[i]
        g0 = np.array([[G_at(v, t0)] for v in (1, 2, 3)], dtype=np.float32)
        cyc = h_hz[i][:, None] * (dt[None, :] + G[1:, a:e] - g0) + ph[1:, None]
        env = envelope(dt, 0.005, pizz_dec) if pizz else \
            np.minimum(dt * 100.0, 1.0) * (1.0 - dip_h * np.exp(dt * (-1.0 / attack)))
        harmony[a:e] = fade_end((2.0 * frac(cyc).sum(axis=0) - 3.0) * env, c)
    x = melody * c.uniform(0.8, 1.3) + harmony * c.uniform(0.4, 0.7) \
        + c.noise(c.n) * c.uniform(0.01, 0.04)                                       # + bow noise
    x *= np.minimum((c.t - start) / 0.3, 1.0) * (1.0 + c.uniform(-0.3, 0.3) * c.t / max(c.dur, 1e-3))  # swell

    # the instrument body: a low-pass and two resonances (like a violin/viola body), one pass
    body = cascade(biquad("low", c.span((2500.0, 5000.0), (2000.0, 6500.0)), 0.7, c.sr),
                   biquad("peak", c.uniform(250.0, 500.0), 1.5, c.sr, c.uniform(2.0, 7.0)),
                   biquad("peak", c.uniform(2000.0, 3200.0), 1.5, c.sr, c.uniform(2.0, 7.0)))
    x = lfilter(*body, x)
    if c.chance(0.5 * c.overlap):
        # crossover: a piano playing broken chords (Alberti figure) under the strings
        a_t = h_t[0] + np.arange(int((c.dur - h_t[0]) / (beat / 2)) + 1) * (beat / 2)
        a_chord = ((a_t - h_t[0]) // (beat * beats_per_chord)).astype(int)
        figure = np.array([0, 2, 1, 2])[np.arange(a_t.size) % 4]          # root, fifth, third, fifth
        a_midi = np.stack([deg_midi(ch[a_chord], 48.0), deg_midi(ch[a_chord] + 2, 48.0),
                           deg_midi(ch[a_chord] + 4, 48.0)], axis=1)[np.arange(a_t.size), figure]
        piano = play_chords(c, a_t, beat / 2, midi_hz(a_midi)[:, None], "piano")
        x = normalise(x) + normalise(piano) * guest_level(c)
    return reverb(c, x, c.span((1.2, 2.5), (0.5, 2.5)), c.span((0.25, 0.45), (0.1, 0.45)))
