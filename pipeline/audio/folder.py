"""The user's own recordings (`data.source: folder`): every problem of the folder found in one pass, each file
named, by the rules the later stages apply to what they are given (finite samples in [-1, 1] in the part a
model sees, enough clips per label for the split), so that what `check` lets through never fails later."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.audio.dataset import DatasetError, assign_splits, fit_length
from pipeline.audio.riff import declared_shortfall

LAYOUT = "<label>/<file>.wav"


def layout(root: Path, labels: tuple[str, ...]) -> tuple[list[tuple[Path, str]], list[str]]:
    """Every WAV under root/<label>/, and a line for each file that does not fit the layout."""
    if not root.is_dir():
        raise DatasetError(f"data.folder: {root} is not a folder")
    found: list[tuple[Path, str]] = []
    problems: list[str] = []
    for p in sorted(root.rglob("*")):
        if p.is_dir() or p.name.startswith("."):
            continue
        rel = p.relative_to(root)
        if len(rel.parts) != 2:
            problems.append(f"{rel}: not in a label subfolder (expected {LAYOUT})")
        elif rel.parts[0] not in labels:
            problems.append(f"{rel}: label folder '{rel.parts[0]}' is not one of {list(labels)}")
        elif p.suffix.lower() != ".wav":
            problems.append(f"{rel}: not a .wav file")
        else:
            found.append((p, rel.parts[0]))
    missing = [lab for lab in labels if not any(lab == l for _, l in found)]
    if missing:
        problems.append(f"no WAV files for label(s) {missing}")
    return found, problems


def read_clip(path: Path, sample_rate: int, n_samples: int) -> tuple[np.ndarray | None, str | None, str | None]:
    """(the clip a model sees: mono, at sample_rate, centre-cut or padded to n_samples; what makes the file
    unusable; a note on what was dropped). Exactly one of the first two is None."""
    import librosa
    import soundfile as sf

    try:
        short = declared_shortfall(path)
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types; all mean "unreadable"
        return None, f"unreadable ({err})", None
    if short:
        return None, f"{short} (the recording was cut short: export it again)", None
    if audio.shape[0] == 0:
        return None, "unreadable (no samples)", None
    mono = audio.mean(axis=1)
    if sr != sample_rate:
        mono = librosa.resample(mono, orig_sr=sr, target_sr=sample_rate)
    clip = fit_length(mono.astype(np.float32), n_samples)
    kept = f"the {n_samples / sample_rate:g} s a model sees"
    bad = ~np.isfinite(clip)
    if bad.any():
        return None, f"{int(bad.sum())} NaN or infinite sample(s) in {kept}, the first at " \
                     f"{int(np.argmax(bad)) / sample_rate:.3f} s of it", None
    peak = float(np.abs(clip).max())
    if peak > 1.0:
        after = f" after resampling from {sr} Hz" if float(np.abs(audio).max()) <= 1.0 else ""
        return None, f"samples reach {peak:.9g} in {kept}{after} (allowed: within [-1, 1]; normalise the " \
                     "recording)", None
    dropped = int(np.sum(~np.isfinite(mono)))
    note = f"{dropped} NaN or infinite sample(s) outside {kept}, cut off with the rest" if dropped else None
    return clip, None, note


def too_few(labels: list[str], val: float, test: float) -> list[str]:
    """A line for each label with too few clips for a train/val/test split (the split's own rule)."""
    out = []
    for label in sorted(set(labels)):
        try:
            assign_splits([label] * labels.count(label), 0, val, test)
        except DatasetError as err:
            out.append(str(err))
    return out


def read_folder(root: Path, labels: tuple[str, ...], sample_rate: int, n_samples: int, val: float,
                test: float, note=None) -> tuple[list[tuple[Path, str]], list[np.ndarray]]:
    """Every file of the folder and its clip, or one DatasetError listing every problem found (layout,
    unreadable, cut short, non-finite or out-of-range samples where a model sees them, too few clips per
    label). `note(text)` hears what was dropped without harm."""
    files, problems = layout(root, labels)
    clips = []
    for path, _ in files:
        clip, problem, dropped = read_clip(path, sample_rate, n_samples)
        rel = path.relative_to(root)
        if problem:
            problems.append(f"{rel}: {problem}")
        clips.append(clip)
        if dropped and note:
            note(f"{rel}: {dropped}")
    problems += too_few([label for (_, label), clip in zip(files, clips) if clip is not None], val, test)
    if problems:
        raise DatasetError(f"{root}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return files, clips
