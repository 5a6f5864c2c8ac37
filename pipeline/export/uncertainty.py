"""Where an end-to-end bundle's answer is a guess: the top probability below which the variant itself is right at
most half the time, measured at convert with the variant's own runtime on the validation split (never the test
split the report scores). How often it is right at each top probability is an isotonic fit of right/wrong on the
top probability (monotone: a more confident answer is never judged less likely right). `classify` and `serve`
mark a window below the cut as uncertain."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

RULE = ("below this top probability the variant is right at most half the time: an isotonic fit of right/wrong "
        "on the top probability over the validation clips")


def threshold(top: np.ndarray, correct: np.ndarray) -> dict:
    """The cut and what it rests on, from each validation clip's top probability and whether it was right."""
    from sklearn.isotonic import IsotonicRegression

    tops = np.sort(top.astype(np.float64), kind="stable")
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(top, correct.astype(np.float64))
    at_most_half = np.nonzero(fit.predict(tops) <= 0.5)[0]  # a prefix: the fit never decreases
    cut = 0.0  # right more often than not even at the least confident clip: no window is marked
    if len(at_most_half):
        k = int(at_most_half[-1]) + 1
        cut = float((tops[k - 1] + (tops[k] if k < len(tops) else 1.0)) / 2)  # between that clip and the next
    below = top < cut
    return {"uncertain_below": round(cut, 6), "validation_clips": int(len(top)), "clips_below": int(below.sum()),
            "accuracy_below": round(float(correct[below].mean()), 4) if below.any() else None, "rule": RULE}


def measure(load, suffix: str, data: bytes, output: dict, shape: list[int], clips: np.ndarray,
            labels: np.ndarray) -> dict:
    """The threshold of one built artefact: `load(path, threads)` is its runtime's loader (bench/runtimes.py);
    a quantized output is dequantized with its scale and zero point, as the app and `classify` do."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"artefact{suffix}"
        path.write_bytes(data)
        run, _ = load(str(path), 1)
        raw = np.stack([np.asarray(run(c.reshape(shape).astype(np.float32)), np.float64).reshape(-1) for c in clips])
    probs = output["scale"] * (raw - output["zero_point"]) if output.get("scale") else raw
    return threshold(probs.max(axis=1), probs.argmax(axis=1) == labels)
