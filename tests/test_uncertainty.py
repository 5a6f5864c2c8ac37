"""The uncertainty threshold (pipeline/export/uncertainty.py): where a variant is right at most half the time."""

from __future__ import annotations

import numpy as np

from pipeline.export.uncertainty import threshold


def test_a_calibrated_model_is_cut_near_one_half():
    rng = np.random.default_rng(0)
    top = rng.uniform(0.2, 1.0, 2000)
    correct = rng.uniform(0, 1, 2000) < top  # right as often as it says
    t = threshold(top, correct)
    assert 0.45 < t["uncertain_below"] < 0.55, t
    below = top < t["uncertain_below"]
    assert t["clips_below"] == below.sum() and t["accuracy_below"] == round(correct[below].mean(), 4)
    assert t["accuracy_below"] < 0.5 < correct[~below].mean()


def test_an_overconfident_model_is_cut_higher():
    rng = np.random.default_rng(1)
    top = rng.uniform(0.2, 1.0, 2000)
    correct = rng.uniform(0, 1, 2000) < (top - 0.2)  # says 0.7 where it is right half the time
    assert 0.65 < threshold(top, correct)["uncertain_below"] < 0.75


def test_a_model_right_on_its_least_confident_clips_marks_nothing():
    t = threshold(np.array([0.3, 0.6, 0.9]), np.array([True, True, False]))
    assert t["uncertain_below"] == 0.0 and t["clips_below"] == 0 and t["accuracy_below"] is None
