"""Datasets of clips: deterministic splits, the manifest, and user WAV folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import DataError

SPLITS = ("train", "val", "test")
MANIFEST_FIELDS = ["path", "label", "split"]


def assign_splits(labels: list[str], seed: int, val: float, test: float) -> list[str]:
    """Stratified split: within each label, a seeded shuffle gives the test, then val, then train share.

    Depends only on the sequence of labels and the seed, so the same files get the same split.
    """
    out = [""] * len(labels)
    for li, label in enumerate(sorted(set(labels))):
        idx = [i for i, lab in enumerate(labels) if lab == label]
        order = np.random.default_rng([seed, li]).permutation(len(idx))
        n_test = max(1, round(test * len(idx)))
        n_val = max(1, round(val * len(idx)))
        if n_test + n_val >= len(idx):
            raise DatasetError(f"label '{label}' has {len(idx)} clips: too few for a train/val/test split "
                             f"(val={val}, test={test}); give it at least {n_test + n_val + 1}")
        for rank, j in enumerate(order):
            out[idx[j]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return out


def fit_length(clip: np.ndarray, n_samples: int) -> np.ndarray:
    """Centre-crop or zero-pad to exactly n_samples: models take fixed-length clips."""
    if len(clip) >= n_samples:
        start = (len(clip) - n_samples) // 2
        return clip[start:start + n_samples]
    pad = n_samples - len(clip)
    return np.pad(clip, (pad // 2, pad - pad // 2))


class DatasetError(DataError):
    """A user folder of WAV files cannot be used; the message lists every bad file."""


def scan_folder(root: Path, labels: tuple[str, ...]) -> list[tuple[Path, str]]:
    """Every WAV under root/<label>/, or a DatasetError listing what does not fit."""
    if not root.is_dir():
        raise DatasetError(f"data.folder: {root} is not a folder")
    found: list[tuple[Path, str]] = []
    problems: list[str] = []
    for p in sorted(root.rglob("*")):
        if p.is_dir() or p.name.startswith("."):
            continue
        rel = p.relative_to(root)
        if len(rel.parts) != 2:
            problems.append(f"{rel}: not in a label subfolder (expected <label>/<file>.wav)")
        elif rel.parts[0] not in labels:
            problems.append(f"{rel}: label folder '{rel.parts[0]}' is not one of {list(labels)}")
        elif p.suffix.lower() != ".wav":
            problems.append(f"{rel}: not a .wav file")
        else:
            found.append((p, rel.parts[0]))
    missing = [lab for lab in labels if not any(lab == l for _, l in found)]
    if missing:
        problems.append(f"no WAV files for label(s) {missing}")
    if problems:
        raise DatasetError(f"{root}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return found


def read_clips(files: list[tuple[Path, str]], root: Path, sample_rate: int, n_samples: int) -> list[np.ndarray]:
    """Decode, mix to mono, resample and fit each file; a DatasetError lists every unreadable one."""
    import librosa
    import soundfile as sf

    clips, problems = [], []
    for path, _ in files:
        try:
            audio, sr = sf.read(path, dtype="float32", always_2d=True)
            if audio.shape[0] == 0:
                raise ValueError("no samples")
        except Exception as err:  # soundfile raises several types; all mean "unreadable"
            problems.append(f"{path.relative_to(root)}: unreadable ({err})")
            continue
        mono = audio.mean(axis=1)
        if sr != sample_rate:
            mono = librosa.resample(mono, orig_sr=sr, target_sr=sample_rate)
        clips.append(fit_length(mono.astype(np.float32), n_samples))
    if problems:
        raise DatasetError(f"{root}: {len(problems)} unreadable file(s):\n  " + "\n  ".join(problems))
    return clips
