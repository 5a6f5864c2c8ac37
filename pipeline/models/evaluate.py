"""Scores shared by the train and benchmark stages."""

from __future__ import annotations

import numpy as np


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(y))) if len(y) else float("nan")


def per_class_accuracy(pred: np.ndarray, y: np.ndarray, labels) -> dict[str, float]:
    """Accuracy on the clips of each true class (a quantized variant may lose one class, not all)."""
    pred, y = np.asarray(pred), np.asarray(y)
    return {str(lab): round(accuracy(pred[y == i], y[y == i]), 6) for i, lab in enumerate(labels) if np.any(y == i)}


def agreement(pred: np.ndarray, reference: np.ndarray) -> float:
    """Share of samples where the variant's top-1 class equals its source model's."""
    return accuracy(pred, reference)
