"""Run an end-to-end bundle on a recording:
python -m pipeline classify BUNDLE_DIR FILE.wav [--resample] [--hop-ms MS] [--json]

Any length; stereo is mixed down to mono (and said so); another sample rate only with --resample (soxr),
otherwise an error naming the expected and the actual rate. The recording streams through the bundle as an
app's microphone would (pipeline/runtime/stream.py): one inference per hop over the last window. Prints the
overall label and its scores (the mean of every window's), then the timeline (start, end, label, confidence);
--json prints all of it, every hop included. Integer PCM is decoded to float32 in [-1, 1) by libsndfile, and
a note says so; NaN or samples outside [-1, 1] are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.audio.riff import declared_shortfall
from pipeline.errors import PipelineError
from pipeline.runtime.bundle import Bundle, BundleError, check_samples, open_bundle
from pipeline.runtime.stream import Detector, Hop, StreamError, as_mono

DEFAULT_HOP_MS = 250.0
PROGRESS_AFTER_S = 30.0  # longer recordings report progress on stderr,
PROGRESS_EVERY_S = 2.0   # at most this often
CHUNK_S = 1.0            # how much audio is pushed at a time


class ClipError(PipelineError):
    """The recording cannot be read or does not fit the bundle."""


def timeline(hops: list[Hop], uncertain_below: float | None) -> list[dict]:
    """Consecutive hops with the same label as one segment; confidence: the mean of that label's score, uncertain
    when it is below the bundle's threshold."""
    segments: list[dict] = []
    for hop in hops:
        top = max(hop.scores)
        if segments and segments[-1]["label"] == hop.label:
            seg = segments[-1]
            seg["end_s"], seg["_tops"] = hop.end_s, [*seg["_tops"], top]
        else:
            segments.append({"start_s": hop.start_s, "end_s": hop.end_s, "label": hop.label, "_tops": [top]})
    out = [{"start_s": round(s["start_s"], 3), "end_s": round(s["end_s"], 3), "label": s["label"],
            "confidence": round(float(np.mean(s.pop("_tops"))), 4)} for s in segments]
    return [{**s, "uncertain": uncertain_below is not None and s["confidence"] < uncertain_below} for s in out]


def classify(bundle: Bundle | Path, samples: np.ndarray, rate: int, resample: bool = False,
             hop_s: float = DEFAULT_HOP_MS / 1e3, progress=None, runner=None) -> dict:
    """The result of one recording: overall label and scores, timeline, hops, notes (what was done to it).
    bundle: an opened bundle or its folder; runner: a loaded (run, bundle) to share (the server's)."""
    bundle = bundle if isinstance(bundle, Bundle) else open_bundle(bundle)
    mono, mixed = as_mono(samples)
    check_samples(mono, bundle)  # the whole recording at once: the message counts all of it
    detector = Detector(bundle, hop_s, rate=rate, resample=resample, runner=runner)
    notes = [f"{samples.shape[1]} channels mixed down to mono"] if mixed else []
    hops: list[Hop] = []
    chunk = max(1, int(CHUNK_S * rate))
    for i in range(0, len(mono), chunk):
        hops += detector.push(mono[i:i + chunk])
        if progress is not None:
            progress(min(len(mono), i + chunk) / rate, len(mono) / rate)
    hops += detector.finish()
    if not hops:
        raise ClipError("the recording holds no samples")
    mean = np.mean([h.scores for h in hops], axis=0)
    labels = bundle.meta["labels"]
    if detector.is_uncertain(float(np.max(mean))):
        notes.append(f"uncertain: the overall probability {float(np.max(mean)):.3f} is below "
                     f"{detector.uncertain_below:g}, under which {detector.runs_bundle.variant} was wrong on at least "
                     "half of the validation clips")
    return {"variant": bundle.variant, "ran": detector.runs_bundle.variant, "sample_rate": rate,
            "window_s": detector.window / detector.sample_rate, "hop_s": detector.hop / detector.sample_rate,
            "duration_s": round(len(mono) / rate, 3), "notes": [*notes, *detector.notes],
            "label": labels[int(np.argmax(mean))], "scores": dict(zip(labels, map(float, mean))),
            "uncertain": detector.is_uncertain(float(np.max(mean))), "uncertain_below": detector.uncertain_below,
            "timeline": timeline(hops, detector.uncertain_below),
            "hops": [{"start_s": round(h.start_s, 3), "end_s": round(h.end_s, 3), "label": h.label,
                      "scores": list(h.scores), "latency_ms": round(h.latency_ms, 3), "padded": h.padded,
                      "uncertain": h.uncertain}
                     for h in hops]}


def read_wav(path: Path) -> tuple[np.ndarray, int, list[str]]:
    """(samples (n,) or (n, channels) float32, rate, notes)."""
    import soundfile as sf

    if path.is_dir():
        raise ClipError("is a folder; give a WAV file")
    if not path.is_file():
        raise ClipError(f"no such file: {path}")
    try:
        info = sf.info(str(path))
        samples, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except sf.LibsndfileError as err:  # not a sound file soundfile can decode
        raise ClipError(f"cannot read it as audio: {err}") from None
    # integer PCM is scaled to [-1, 1) by the decoder: say so rather than hide it
    notes = [] if info.subtype.startswith("FLOAT") else [f"{path.name} holds {info.subtype} samples, decoded to float32"]
    if short := declared_shortfall(path):  # the decoder reads what is there without a word
        notes.append(f"{path.name} is cut short: {short}; classified as the {len(samples) / rate:g} s it holds")
    return samples, rate, notes


class _Progress:
    """A line on stderr at most every PROGRESS_EVERY_S while a long recording runs: a job done in a second says
    nothing, a long one says it is alive."""

    def __init__(self):
        self.last = time.monotonic()

    def __call__(self, done_s: float, total_s: float) -> None:
        if total_s > PROGRESS_AFTER_S and time.monotonic() - self.last >= PROGRESS_EVERY_S:
            print(f"classify: {done_s:.0f} of {total_s:.0f} s ({100 * done_s / total_s:.0f}%)", file=sys.stderr)
            self.last = time.monotonic()


def _print_text(result: dict) -> None:
    print(result["label"])
    print(" ".join(f"{s:.4f}" for s in result["scores"].values()))
    print(f"timeline ({result['ran']}, window {result['window_s']:g} s, hop {result['hop_s']:g} s):")
    for seg in result["timeline"]:
        mark = "  uncertain" if seg["uncertain"] else ""
        print(f"  {seg['start_s']:8.2f} {seg['end_s']:8.2f} s  {seg['label']:<12} {seg['confidence']:.4f}{mark}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline classify", description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path, help="an end-to-end bundle folder (models/variants/<level>/<variant>)")
    parser.add_argument("wav", type=Path)
    parser.add_argument("--resample", action="store_true", help="resample another rate to the bundle's (soxr)")
    parser.add_argument("--hop-ms", type=float, default=DEFAULT_HOP_MS, help=f"default {DEFAULT_HOP_MS:g}")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = parser.parse_args(argv)
    try:
        samples, rate, notes = read_wav(args.wav)
        result = classify(args.bundle, samples, rate, args.resample, args.hop_ms / 1e3, progress=_Progress())
    except StreamError as err:  # the audio does not fit: name the file
        print(f"error: {args.wav}: {err}", file=sys.stderr)
        return 1
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ClipError as err:
        print(f"error: {args.wav}: {err}", file=sys.stderr)
        return 1
    result["notes"] = [*notes, *result["notes"]]
    for note in result["notes"]:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        _print_text(result)
    return 0
