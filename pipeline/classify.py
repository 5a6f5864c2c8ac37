"""Run an end-to-end bundle on a WAV file: python -m pipeline classify BUNDLE_DIR FILE.wav

The clip must already be what the artefact takes (rate, length, finite samples in [-1, 1]): a mismatch is
an error naming the expected and the actual value, never a silent resample or pad. Integer PCM is decoded
to float32 in [-1, 1) by libsndfile, and a note says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pipeline.bench.runtimes import RUNTIMES
from pipeline.export.formats import FORMATS
from pipeline.errors import PipelineError
from pipeline.runtime.bundle import Bundle, BundleError, check_samples, open_bundle
from pipeline.models.families import FAMILIES, family_of


class ClipError(PipelineError):
    """The clip does not match the artefact's input."""


def check_clip(clip: np.ndarray, sample_rate: int, bundle: Bundle) -> np.ndarray:
    """The clip as the end-to-end artefact takes it, or a ClipError naming expected vs actual."""
    meta = bundle.meta
    if not family_of(meta["model"]).raw_audio:
        raw = [name for name, fam in FAMILIES.items() if fam.raw_audio]
        raise ClipError(f"{meta['variant']} takes {meta['input'].get('layout', 'MFCC features')}, not audio; "
                        f"classify runs end-to-end bundles (models {raw})")
    f = meta["features"]
    n_samples = int(meta["input"]["shape"][-1])
    if sample_rate != f["sample_rate"]:
        raise ClipError(f"sample rate: expected {f['sample_rate']} Hz, got {sample_rate} Hz (resample first)")
    if clip.ndim != 1:
        raise ClipError(f"channels: expected mono (1-D samples), got shape {clip.shape}")
    if len(clip) != n_samples:
        raise ClipError(f"length: expected {n_samples} samples ({f['clip_seconds']} s), got {len(clip)}")
    if clip.dtype != np.float32:
        raise ClipError(f"dtype: expected float32 samples in [-1, 1], got {clip.dtype}")
    check_samples(clip, bundle)
    return clip.reshape(1, n_samples)


def classify(folder: Path, clip: np.ndarray, sample_rate: int) -> tuple[str, np.ndarray]:
    bundle = open_bundle(folder)
    meta = bundle.meta
    x = check_clip(clip, sample_rate, bundle)
    runtime = FORMATS[meta["format"]].runtime
    try:
        run, _ = RUNTIMES[runtime].load(str(bundle.artefact), 1)
    except Exception as err:  # the SHA-256 matched: the runtime itself cannot take this file
        raise ClipError(f"{bundle.artefact} ({bundle.variant}): {runtime} cannot load it: "
                        f"{type(err).__name__}: {err}") from None
    scores = np.asarray(run(x), dtype=np.float64).reshape(-1)
    out = meta["output"]
    if out.get("scale"):
        scores = out["scale"] * (scores - out["zero_point"])
    return meta["labels"][int(np.argmax(scores))], scores


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not path.is_file():
        raise ClipError(f"no such file: {path}")
    try:
        info = sf.info(str(path))
        clip, sr = sf.read(str(path), dtype="float32", always_2d=False)
    except sf.LibsndfileError as err:  # not a sound file soundfile can decode
        raise ClipError(f"cannot read it as audio: {err}") from None
    if not info.subtype.startswith("FLOAT"):
        # integer PCM is scaled to [-1, 1) by the decoder: say so rather than hide it
        print(f"note: {path.name} holds {info.subtype} samples, decoded to float32", file=sys.stderr)
    return clip, sr


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        clip, sr = read_wav(Path(argv[1]))
        label, scores = classify(Path(argv[0]), clip, sr)
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ClipError as err:
        print(f"error: {argv[1]}: {err}", file=sys.stderr)
        return 1
    print(label)
    print(" ".join(f"{s:.4f}" for s in scores))
    return 0
