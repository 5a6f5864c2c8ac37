"""Types shared by the converters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class NotApplicable(Exception):
    """This (model, format, quantization) cannot be built; the message says why, for the report."""

    @property
    def reason(self) -> str:
        return str(self)


class ConversionFailed(Exception):
    """The converter raised, or built a file its runtime cannot load: a defect to fix, reported as
    `failed` with the error (never as not_applicable, which is for what a format cannot express)."""

    @property
    def error(self) -> str:
        return str(self)


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


@dataclass(frozen=True)
class Built:
    data: bytes
    input: dict
    output: dict
    # calibrated levels: per-layer quantization error rows (pipeline.export.quant_error), or why there are none
    quant_error: list[dict] | None = None
    quant_error_note: str | None = None
