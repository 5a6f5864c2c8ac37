"""Types shared by the converters (their input, `Source`, is pipeline/models/source.py)."""

from __future__ import annotations

from dataclasses import dataclass


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
class Built:
    data: bytes
    input: dict
    output: dict
    # calibrated levels: per-layer quantization error rows (pipeline.export.quant_error), or why there are none
    quant_error: list[dict] | None = None
    quant_error_note: str | None = None
