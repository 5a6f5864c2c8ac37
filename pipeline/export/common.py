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


@dataclass(frozen=True)
class Source:
    """An unconverted model, as the converters need it.

    family: "keras" or "sklearn"; model: the fitted estimator (sklearn) or None;
    saved_model_dir: the exported SavedModel (keras); calibration: representative
    training inputs in the model's own input layout (float32).
    """

    name: str
    family: str
    calibration: np.ndarray
    model: Any = None
    saved_model_dir: Path | None = None


@dataclass(frozen=True)
class Built:
    data: bytes
    input: dict
    output: dict
