"""Model families: one entry each, holding everything about its members: which models of params.yaml
it builds, where their unconverted source lives and what it is made of, how to load it for the
converters, the input layout an app feeds, and its converter per format (by name: pipeline/export imports
this module, never the reverse) or why there is none.

A stage loops over FAMILIES; it never spells out a family. Adding a family (a second Keras
architecture, scikit-learn end-to-end) is one entry here and its functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.audio.mfcc import MfccConfig
from pipeline.models.source import Source
from pipeline.variants import feature_input_model, is_e2e


def calibration_subset(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded, fixed subset of the training inputs: same params -> same calibration -> same bytes."""
    idx = np.sort(np.random.default_rng(seed).permutation(len(X))[: min(n, len(X))])
    return X[idx]


@dataclass
class LoadContext:
    """What the families' loaders share within one convert stage: the training data, the level's
    calibration subset, and the Keras model (loaded and exported once for its two families)."""

    params: object  # pipeline.params.Params
    level: str
    tmp: Path
    _keras: tuple | None = field(default=None, repr=False)
    _sklearn: dict = field(default_factory=dict, repr=False)

    @cached_property
    def features(self) -> dict[str, np.ndarray]:
        return pio.read_npz(cat.FEATURES.path())

    @cached_property
    def calibration(self) -> np.ndarray:
        """The seeded subset of training MFCC matrices; for a level without calibration the first training
        input only (the converters take the input's shape from it)."""
        X = self.features["X_train"]
        opts = self.params.quantization[self.level]
        n = getattr(opts, "calibration_samples", None)
        return X[:1] if n is None else calibration_subset(X, n, self.params.seed)

    @cached_property
    def calibration_audio(self) -> np.ndarray:
        """The same clips as `calibration`, raw: end-to-end models calibrate through their own float front end.
        Uncalibrated levels get one clip, read only for its length (the front end's input size)."""
        audio = pio.read_npz(cat.AUDIO_SPLITS.path())["train"]
        n = getattr(self.params.quantization[self.level], "calibration_samples", None)
        return audio[:1] if n is None else calibration_subset(audio, n, self.params.seed)

    def sklearn(self, name: str):
        """The fitted estimator of one scikit-learn entry (loaded once for its two families)."""
        if name not in self._sklearn:
            from pipeline.models import sklearn_models as skm

            self._sklearn[name] = skm.loads((cat.sklearn_model_dir(name) / cat.SKLEARN_MODEL_FILE).read_bytes())
        return self._sklearn[name]

    def keras(self):
        """(Keras model, SavedModel folder), loaded from models/keras once."""
        if self._keras is None:
            from pipeline.models import keras_models as km

            km.configure_determinism(self.params.seed)
            src = cat.KERAS_MODEL.path()
            model = km.load((src / cat.KERAS_ARCHITECTURE_FILE).read_text(), pio.read_npz(src / cat.KERAS_WEIGHTS_FILE))
            km.export_saved_model(model, str(self.tmp / "saved_model"))
            self._keras = (model, self.tmp / "saved_model")
        return self._keras


def _sklearn_sources(ctx: LoadContext) -> list[Source]:
    return [Source(name, "sklearn", ctx.calibration, model=ctx.sklearn(name)) for name in ctx.params.sklearn]


def _sklearn_e2e_sources(ctx: LoadContext) -> list[Source]:
    audio = ctx.calibration_audio
    return [Source(f"{name}_e2e", "sklearn_e2e", ctx.calibration, model=ctx.sklearn(name),
                   mfcc=MfccConfig.from_params(ctx.params), n_samples=audio.shape[1]) for name in ctx.params.sklearn]


def _keras_sources(ctx: LoadContext) -> list[Source]:
    model, saved = ctx.keras()
    return [Source("keras", "keras", ctx.calibration, model=model, saved_model_dir=saved)]


def _keras_e2e_sources(ctx: LoadContext) -> list[Source]:
    model, saved = ctx.keras()
    audio = ctx.calibration_audio
    return [Source("keras_e2e", "keras_e2e", ctx.calibration, model=model, saved_model_dir=saved,
                   calibration_audio=audio, mfcc=MfccConfig.from_params(ctx.params), n_samples=audio.shape[1])]


def _mfcc_layout(p) -> str:
    return "MFCC matrix (n_mfcc, frames) as written by the features stage"


def _raw_audio_layout(p) -> str:
    return f"raw mono float32 samples at {p.data.sample_rate} Hz, one {p.data.clip_seconds} s clip"


@dataclass(frozen=True)
class Family:
    name: str
    load: Callable[[LoadContext], list[Source]]  # the family's models, ready for the converters
    source: cat.Dataset                          # where its unconverted models live
    source_files: tuple[str, ...]                # what one unconverted model is made of
    input_layout: Callable[[object], str]        # (params) -> what an app feeds, for the sidecar
    converters: dict[str, str]                   # format -> its converter's name in export.converters.CONVERTERS
    not_applicable: dict[str, str]               # format -> why it cannot be built (the report's reason)
    single_model: bool                           # the family is one model named after it (not a params entry)

    def source_dir(self, model: str) -> Path:
        """The unconverted model a variant comes from (an end-to-end model's is its feature-input one's)."""
        base = feature_input_model(model)
        return self.source.path() if self.single_model else self.source.path(model=base)

    def source_paths(self, model: str) -> dict[str, Path]:
        return {f: self.source_dir(model) / f for f in self.source_files}

    @property
    def raw_audio(self) -> bool:
        return is_e2e(self.name)


_NO_SKLEARN_TFLITE = ("scikit-learn has no TFLite converter (TFLite takes TensorFlow graphs); "
                      "ship its ONNX variant instead")
_FEATURE_INPUT_TFLM = ("the feature-input TFLite variant already uses only operators TFLite Micro has (see its "
                       "TFLite Micro verdict): the tflm format differs for end-to-end models only (no RFFT2D)")

_SKOPS = (cat.SKLEARN_MODEL_FILE,)
_KERAS_FILES = (cat.KERAS_ARCHITECTURE_FILE, cat.KERAS_WEIGHTS_FILE)
_NO_TFLITE = {"tflite": _NO_SKLEARN_TFLITE, "tflm": _NO_SKLEARN_TFLITE}

FAMILIES: dict[str, Family] = {f.name: f for f in (
    # the MFCC matrix in; its summary statistics computed in the graph, ahead of the estimator
    Family("sklearn", _sklearn_sources, cat.SKLEARN_MODEL, _SKOPS, _mfcc_layout,
           {"onnx": "sklearn_onnx"}, _NO_TFLITE, single_model=False),
    # raw clip in: the float MFCC front end and the statistics in the graph, the estimator quantized where it can be
    Family("sklearn_e2e", _sklearn_e2e_sources, cat.SKLEARN_MODEL, _SKOPS, _raw_audio_layout,
           {"onnx": "sklearn_e2e_onnx"}, _NO_TFLITE, single_model=False),
    Family("keras", _keras_sources, cat.KERAS_MODEL, _KERAS_FILES, _mfcc_layout,
           {"tflite": "keras_tflite", "onnx": "keras_onnx"}, {"tflm": _FEATURE_INPUT_TFLM}, single_model=True),
    # raw clip in, probabilities out: the float MFCC front end inside the graph, the classifier quantized
    Family("keras_e2e", _keras_e2e_sources, cat.KERAS_MODEL, _KERAS_FILES,
           _raw_audio_layout, {"tflite": "keras_e2e_tflite", "tflm": "keras_e2e_tflm", "onnx": "keras_e2e_onnx"}, {},
           single_model=True),
)}

RESERVED_MODEL_NAMES = tuple(name for name, f in FAMILIES.items() if f.single_model)


def family_of(model: str) -> Family:
    """The family of a model name: a single-model family's own name, else a scikit-learn entry."""
    return FAMILIES.get(model) or FAMILIES["sklearn_e2e" if is_e2e(model) else "sklearn"]


def load_sources(p, level: str, tmp: Path) -> list[Source]:
    """Every model to convert at this level, family by family (sklearn, sklearn_e2e, keras, keras_e2e)."""
    from dataclasses import replace

    ctx = LoadContext(p, level, tmp)
    return [replace(source, options=p.quantization[level]) for family in FAMILIES.values() for source in family.load(ctx)]
