"""The electronic class: four-on-the-floor drums on a quantised grid, an off-beat or rolling
bass, an arpeggiated lead through a swept resonant low-pass, an optional pad, side-chain pumping;
with the overlap a driven lead and borrowed piano stabs or a string pad."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from pipeline.audio.synth.chords import guest_level, play_chords, triads
from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.drums import drum_level, hat_sound, kick_sound, snare_sound
from pipeline.audio.synth.dsp import TWO_PI, biquad, envelope, frac, midi_hz, normalise
from pipeline.audio.synth.effects import swept_lowpass
from pipeline.audio.synth.events import event_spans, fade_end, metric_grid, place


def generate(c: ClipContext) -> np.ndarray:
    bpm = c.span((120.0, 132.0), (95.0, 160.0))
    beat = 60.0 / bpm
    offset = c.uniform(0.0, 4 * beat)
    te, k = metric_grid(c, beat / 4, offset)        # sixteenths, quantised: a machine plays
    pos = k % 16

    # four-on-the-floor kick, clap on 2 and 4, off-beat open hats, maybe 16th closed hats
    kick_t = te[pos % 4 == 0]
    drums = np.zeros(c.n)
    place(c, drums, kick_t, np.ones(kick_t.size),
          kick_sound(c, c.uniform(120.0, 240.0), c.uniform(40.0, 56.0), c.uniform(0.02, 0.045), c.uniform(0.2, 0.45))
          * 1.3)
    if c.chance(0.7):
        ct = te[(pos == 4) | (pos == 12)]
        place(c, drums, ct, np.ones(ct.size),
              snare_sound(c, c.uniform(180, 260), c.uniform(0.1, 0.2), c.uniform(1000, 2500)) * c.uniform(0.4, 0.8))
    if c.chance(0.8):
        ot = te[pos % 4 == 2]
        place(c, drums, ot, np.ones(ot.size),
              hat_sound(c, c.uniform(0.06, 0.15), c.uniform(7000.0, 10000.0)) * c.uniform(0.3, 0.6))
    if c.chance(0.4):
        place(c, drums, te, np.where(pos % 2 == 0, 0.6, 0.35),
              hat_sound(c, 0.02, c.uniform(7000.0, 10000.0)) * c.uniform(0.2, 0.4))

    # harmony: minor-key loop, one chord per bar
    key = 33.0 + float(c.rng.integers(12))
    prog = np.array(c.pick(((0, 8, 3, 10), (0, 5, 0, 5), (0, 10, 8, 10), (0, 8, 5, 7), (0, 3, 10, 5))))
    chord_root = key + prog[(k // 16) % 4]

    # side-chain pump: everything but the drums ducks under each kick
    rel = c.uniform(0.06, 0.16)
    duck = np.zeros(c.n)
    place(c, duck, kick_t, np.ones(kick_t.size), np.exp(c.since(0, int(5 * rel * c.sr)) * (-1.0 / rel)))
    pump = 1.0 - c.uniform(0.3, 0.8) * np.minimum(duck, 1.0)

    # bass: off-beat eighths or rolling sixteenths
    bm = (pos % 4 == 2) if c.chance(0.5) else (pos % 4 != 0)
    b_hz = midi_hz(chord_root[bm])
    square = c.chance(0.5)
    bass = np.zeros(c.n)
    for i, a, e, dt in event_spans(c, te[bm], beat * 0.22):
        cyc = b_hz[i] * dt
        wave = np.where(frac(cyc) < 0.5, 1.0, -1.0) if square else 2.0 * frac(cyc) - 1.0
        bass[a:e] = fade_end(wave * envelope(dt, 0.003, 0.1, 0.6), c)
    bass = lfilter(*biquad("low", c.uniform(250.0, 700.0), c.uniform(1.0, 3.0), c.sr), bass)

    # lead: saw/square/supersaw arpeggio through a resonant low-pass with a sweeping cut-off
    arp = np.array(c.pick(((0, 3, 7, 12), (0, 7, 12, 15), (0, 12, 7, 3), (0, 3, 7, 10, 12, 10, 7, 3))))
    step = c.pick((1, 2))                            # sixteenths or eighths
    lm = k % step == 0
    l_midi = chord_root[lm] + 12.0 * round(c.span((2.0, 2.0), (1.0, 3.0))) + arp[(k[lm] // step) % arp.size]
    l_hz = midi_hz(l_midi)
    kind = c.pick(("saw", "square", "supersaw"))
    d = c.uniform(0.003, 0.01)
    detune = np.array([[1.0], [1.0 + d], [1.0 - d]], dtype=np.float32)
    pw = c.uniform(0.25, 0.5)
    gate = beat * step * 0.25 * c.uniform(0.4, 0.9)
    l_dec, l_sus = c.uniform(0.05, 0.25), c.uniform(0.3, 0.7)
    ph = c.rng.random((3, 1)).astype(np.float32)
    lead = np.zeros(c.n)
    for i, a, e, dt in event_spans(c, te[lm], gate + 0.03):
        if kind == "supersaw":
            osc = 2.0 * frac(l_hz[i] * detune * dt[None, :] + ph).sum(axis=0) / 3.0 - 1.0
        elif kind == "square":
            osc = np.where(frac(l_hz[i] * dt) < pw, 1.0, -1.0)
        else:
            osc = 2.0 * frac(l_hz[i] * dt) - 1.0
        env = envelope(dt, 0.003, l_dec, l_sus) * np.minimum((gate + 0.03 - dt) / 0.03, 1.0)
        lead[a:e] = fade_end(osc * env, c)
    if c.chance(0.5 * c.overlap):                    # a driven synth (overlaps the rock guitar)
        lead = np.tanh(lead * c.uniform(1.5, 5.0))
    lo, hi = c.uniform(250.0, 900.0), c.uniform(2500.0, 7000.0)
    period, phase0 = c.uniform(1.0, 8.0), c.uniform(0.0, 1.0)
    if c.chance(0.5):
        def sweep(t):
            return lo * (hi / lo) ** (0.5 + 0.5 * np.sin(TWO_PI * (t / period + phase0)))
    else:
        direction = c.pick((1.0, -1.0))

        def sweep(t):
            return lo * (hi / lo) ** np.clip(phase0 + direction * t / period * 2.0, 0.0, 1.0)
    lead = swept_lowpass(c, lead, sweep, c.uniform(2.0, 8.0))

    mix = normalise(lead) + normalise(bass) * c.uniform(0.5, 0.9)
    if c.chance(0.5):
        # pad: a sustained minor chord per bar, slow attack
        bars = pos == 0
        p_hz = midi_hz(np.stack([chord_root[bars] + 24, chord_root[bars] + 27, chord_root[bars] + 31], axis=1))
        pad = np.zeros(c.n)
        ph3 = c.rng.random((3, 1)).astype(np.float32)
        for i, a, e, dt in event_spans(c, te[bars]):
            pad[a:e] = (2.0 * frac(p_hz[i][:, None] * dt[None, :] + ph3).sum(axis=0) - 3.0) * np.minimum(dt / 0.2, 1.0)
        pad = lfilter(*biquad("low", c.uniform(800.0, 2000.0), 0.7, c.sr), pad)
        mix += normalise(pad) * c.uniform(0.2, 0.5)
    if c.chance(0.6 * c.overlap):
        # crossover: house-piano / electric-piano stabs on the off-beats, or a string pad
        timbre = c.pick(("piano", "ep", "strings"))
        sm = (pos % 4 == 2) if timbre != "strings" else (pos == 0)
        extra = play_chords(c, te[sm], beat * (0.4 if timbre != "strings" else 4.0),
                            triads(chord_root[sm] + 24.0, True, 57.0), timbre)
        mix += normalise(extra) * guest_level(c)
    level = drum_level(c)
    return (mix * pump if level > 0 else mix) + normalise(drums) * (1.5 * level)
