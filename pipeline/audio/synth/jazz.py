"""The jazz class: a swung ride cymbal and hi-hat on 2 and 4, a walking bass through the chord
tones with chromatic approaches, rootless seventh-chord comping, a little room reverb; with the
overlap an electric bass and organ or string comping."""

from __future__ import annotations

import numpy as np

from pipeline.audio.synth.chords import play_chords
from pipeline.audio.synth.context import ClipContext
from pipeline.audio.synth.drums import cymbal_sound, drum_level, hat_sound
from pipeline.audio.synth.dsp import envelope, frac, midi_hz, normalise, sin_cycles
from pipeline.audio.synth.effects import reverb
from pipeline.audio.synth.events import event_spans, fade_end, metric_grid, place


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


def generate(c: ClipContext) -> np.ndarray:
    bpm = c.span((110.0, 220.0), (75.0, 240.0))
    beat = 60.0 / bpm
    swing = c.span((0.6, 0.72), (0.52, 0.72))       # where the swung off-beat falls (0.5 = straight)
    offset = c.uniform(0.0, 4 * beat)
    key = int(c.rng.integers(12))
    prog = c.pick(_JAZZ_PROGS)
    beats_per_chord = c.pick((2, 4))
    bt, bk = metric_grid(c, beat, offset, lead=2.0)  # quarter notes
    sd_t = c.uniform(0.004, 0.012)

    # swung ride: "ding, ding-a ding" - every beat plus the skip note on the swung "and" of 2 and 4
    two_four = (bk % 4 == 1) | (bk % 4 == 3)
    rt = np.concatenate((bt, bt[two_four] + swing * beat))
    rv = np.concatenate((np.where(two_four, 1.0, 0.8), np.full(two_four.sum(), 0.55)))
    order = np.argsort(rt, kind="stable")
    drums = np.zeros(c.n)
    place(c, drums, *c.humanise(rt[order], rv[order], sd_t, 0.1),
          cymbal_sound(c, c.uniform(650.0, 1100.0), c.uniform(0.35, 0.9), c.uniform(4000.0, 7000.0)))
    # hi-hat foot "chick" on 2 and 4
    place(c, drums, *c.humanise(bt[two_four], np.ones(two_four.sum()), sd_t, 0.1),
          hat_sound(c, c.uniform(0.015, 0.04), c.uniform(5000.0, 8000.0)) * c.uniform(0.3, 0.8))

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
    b_hz = midi_hz(notes)
    b_t, _ = c.humanise(bt, bt, sd_t, 0.0)
    bass = np.zeros(c.n)
    b_att, b_dec = c.uniform(0.004, 0.012), c.uniform(0.25, 0.7)
    electric = c.chance(0.4 * c.overlap)             # fusion: electric bass instead of upright
    for i, a, e, dt in event_spans(c, b_t):
        cyc = b_hz[i] * dt
        if electric:
            tone = sin_cycles(cyc) + 0.4 * (2.0 * frac(cyc) - 1.0)
        else:
            tone = sin_cycles(cyc) + 0.45 * sin_cycles(2.0 * cyc) + 0.15 * sin_cycles(3.0 * cyc)
        bass[a:e] = fade_end(tone * envelope(dt, b_att, b_dec, 0.25), c)

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
    timbre = "ep" if c.chance(0.6 - 0.3 * c.overlap) else \
        ("piano" if c.chance(1.0 - 0.6 * c.overlap) else c.pick(("organ", "strings")))
    comp = play_chords(c, h_t, hits_len, midi_hz(hits_m), timbre)

    mix = normalise(bass) * c.uniform(0.7, 1.1) + normalise(comp) * c.uniform(0.5, 1.0) \
        + normalise(drums) * drum_level(c) * 0.7
    return reverb(c, mix, c.span((0.3, 0.8), (0.3, 1.8)), c.span((0.08, 0.2), (0.05, 0.35)))
