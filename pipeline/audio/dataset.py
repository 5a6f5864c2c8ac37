"""Datasets of clips: deterministic splits and the manifest (a user's WAV folder: pipeline/audio/folder.py)."""

from __future__ import annotations

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
    """The clips cannot make a dataset (a user's folder: the message lists every bad file)."""
