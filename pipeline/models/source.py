"""An unconverted model as the converters take it: what the model families (pipeline/models/families.py)
load and pipeline/export builds from, so that export depends on models and never the reverse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Source:
    """An unconverted model, as the converters need it.

    family: "keras", "keras_e2e" or "sklearn"; model: the fitted estimator (sklearn) or
    the Keras model; saved_model_dir: the exported SavedModel (keras); calibration:
    representative training MFCC inputs in the classifier's input layout (float32).
    """

    name: str
    family: str
    calibration: np.ndarray
    model: Any = None
    saved_model_dir: Path | None = None
    calibration_audio: np.ndarray | None = None  # raw clips, same clips as `calibration` (end-to-end models)
    mfcc: Any = None  # MfccConfig of the in-graph front end (end-to-end models)
    n_samples: int | None = None
    options: Any = None  # the level's params (pipeline/export/levels.py), e.g. int8's per_channel
