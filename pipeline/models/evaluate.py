"""Scores shared by the train and benchmark stages."""

from __future__ import annotations

import numpy as np


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(y))) if len(y) else float("nan")


def agreement(pred: np.ndarray, reference: np.ndarray) -> float:
    """Share of samples where the variant's top-1 class equals its source model's."""
    return accuracy(pred, reference)
