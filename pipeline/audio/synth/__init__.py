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

Layout: clip.py is the public entry (re-exported here); one module per class (speech, rock,
jazz, electronic, classical; music.py lists the music ones); drums.py and chords.py hold the
sounds several classes share; background.py the noise; dsp.py, effects.py, events.py and
context.py the building blocks.
"""

from pipeline.audio.synth.clip import CLASSES, Difficulty, clip_rng, synthesize_clip

__all__ = ["CLASSES", "Difficulty", "clip_rng", "synthesize_clip"]
