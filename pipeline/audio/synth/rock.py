"""The rock class: backbeat drums played with human timing, distorted power chords through a
clipper and a cabinet filter, a root bass, and (with the overlap) borrowed string-pad, organ or
piano chords."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from pipeline.audio.synth.chords import guest_level, play_chords, triads
from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.drums import drum_level, hat_sound, kick_sound, snare_sound
from pipeline.audio.synth.dsp import biquad, cascade, envelope, frac, midi_hz, normalise, sin_cycles
from pipeline.audio.synth.events import event_spans, fade_end, metric_grid, place


def generate(c: ClipContext) -> np.ndarray:
    bpm = c.span((100.0, 150.0), (80.0, 175.0))
    beat = 60.0 / bpm
    offset = c.uniform(0.0, 4 * beat)
    te, k = metric_grid(c, beat / 2, offset)        # eighth notes
    pos = k % 8
    sd_t = c.uniform(0.003, 0.012)                   # played by people: loose timing

    # backbeat: kick on 1 and 3 (+ variations), snare on 2 and 4, hi-hat eighths
    kick_m = (pos == 0) | (pos == 4)
    if c.chance(0.5):
        kick_m |= pos == 5
    if c.chance(0.25):
        kick_m |= pos == 7
    snare_m = (pos == 2) | (pos == 6)
    drums = np.zeros(c.n)
    place(c, drums, *c.humanise(te[kick_m], np.ones(kick_m.sum()), sd_t, 0.08),
          kick_sound(c, c.uniform(90, 150), c.uniform(45, 62), c.uniform(0.02, 0.05), c.uniform(0.12, 0.3))
          * c.uniform(0.8, 1.2))
    place(c, drums, *c.humanise(te[snare_m], np.ones(snare_m.sum()), sd_t, 0.08),
          snare_sound(c, c.uniform(160, 230), c.uniform(0.08, 0.18), c.uniform(1500, 4000)) * c.uniform(0.6, 1.0))
    hat_decay = c.uniform(0.03, 0.07) if c.chance(0.8) else c.uniform(0.15, 0.3)
    place(c, drums, *c.humanise(te, np.where(pos % 2 == 0, 1.0, 0.6), sd_t, 0.15),
          hat_sound(c, hat_decay, c.uniform(6000.0, 9000.0)) * c.uniform(0.3, 0.6))

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
    g_hz = midi_hz(np.stack([g_root, g_root + 7, g_root + 12, g_root + c.uniform(0.05, 0.15)], axis=1))
    decay, sustain = (c.uniform(0.06, 0.18), c.uniform(0.0, 0.3)) if chug else \
        (c.uniform(0.5, 1.5), c.uniform(0.4, 0.8))
    bass_decay = c.uniform(0.15, 0.5)
    ph = c.rng.random((4, 1)).astype(np.float32)
    raw, bass = np.zeros(c.n), np.zeros(c.n)
    for i, a, e, dt in event_spans(c, g_t):
        cyc = g_hz[i][:, None] * dt[None, :] + ph
        saws = 2.0 * frac(cyc).sum(axis=0) - 4.0
        raw[a:e] = fade_end(saws * envelope(dt, 0.003, decay, sustain), c)
        bcyc = g_hz[i, 0] * 0.5 * dt
        bass[a:e] = fade_end((sin_cycles(bcyc) + 0.3 * (2.0 * frac(bcyc) - 1.0))
                             * envelope(dt, 0.004, bass_decay, 0.3), c)
    drive = c.span((4.0, 14.0), (1.3, 14.0))
    pre = raw * (drive * 0.35)
    dist = np.tanh(pre) if c.chance(0.7) else np.clip(pre, -1.0, 1.0)
    cab = cascade(biquad("low", c.span((2500.0, 5000.0), (1800.0, 6500.0)), 0.9, c.sr),
                  biquad("peak", c.uniform(600.0, 1500.0), 1.0, c.sr, c.uniform(-6.0, 4.0)),
                  biquad("high", c.uniform(80.0, 150.0), 0.7, c.sr))
    guitar = lfilter(*cab, dist)

    mix = normalise(guitar) + normalise(bass) * c.uniform(0.3, 0.6) + normalise(drums) * drum_level(c)
    if c.chance(0.6 * c.overlap):
        # crossover: a string pad (power ballad) or organ/piano chords borrowed from other genres
        chord_t = te[k % chord_len == 0]
        roots = root + prog[(k[k % chord_len == 0] // chord_len) % 4] + 12.0
        timbre = c.pick(("strings", "organ", "piano", "ep"))
        extra = play_chords(c, chord_t, beat * chord_len / 2, triads(roots, c.chance(0.4), 55.0), timbre)
        mix += normalise(extra) * guest_level(c)
    return mix
