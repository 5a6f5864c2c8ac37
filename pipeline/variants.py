"""What a variant is called, in one place: every stage, the report and the comparison agree on it.

A variant id is `<model>.<format>.<quantization>` (`keras.tflite.int8`). An end-to-end model (raw
audio in) is its feature-input model's name plus `_e2e`, and it has a feature-input twin of the
same format and level that the report compares it with. fp32 is the level every ratio is against.
"""

from __future__ import annotations

E2E_SUFFIX = "_e2e"
REFERENCE_LEVEL = "fp32"


def variant_id(model: str, fmt: str, level: str) -> str:
    return f"{model}.{fmt}.{level}"


def split_variant_id(vid: str) -> tuple[str, str, str]:
    """(model, format, quantization); a ValueError names an id that is not of that form."""
    parts = vid.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"variant id {vid!r} is not <model>.<format>.<quantization>")
    return parts[0], parts[1], parts[2]


def is_e2e(model: str) -> bool:
    return model.endswith(E2E_SUFFIX)


def feature_input_model(model: str) -> str:
    """The model an end-to-end model wraps (`keras_e2e` -> `keras`); any other model is its own."""
    return model[: -len(E2E_SUFFIX)] if is_e2e(model) else model


# The formats whose end-to-end variant holds another format's classifier: its feature-input twin is that one.
# Here, not in pipeline/export/formats.py: every layer names variants, so this module imports none of them.
TWIN_FORMAT = {"tflm": "tflite"}


def feature_input_twin(model: str, fmt: str, level: str) -> str:
    """Id of the feature-input variant an end-to-end one is compared with (same level; same format, or the one
    TWIN_FORMAT names: a tflm end-to-end file holds the tflite classifier)."""
    return variant_id(feature_input_model(model), TWIN_FORMAT.get(fmt, fmt), level)
