"""Model families: one entry each, holding everything about its members: which models of params.yaml
it builds, where their unconverted source lives and what it is made of, how to load it for the
converters, the input layout an app feeds, and its converter per format (by name: pipeline/export imports
this module, never the reverse) or why there is none.

A stage loops over FAMILIES; it never spells out a family. Adding a family is one entry here and its
functions; adding a model to a family is one params entry.
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
from pipeline.variants import E2E_SUFFIX, feature_input_model, is_e2e


def calibration_subset(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded, fixed subset of the training inputs: same params -> same calibration -> same bytes."""
    idx = np.sort(np.random.default_rng(seed).permutation(len(X))[: min(n, len(X))])
    return X[idx]


@dataclass
class LoadContext:
    """What the families' loaders share within one convert stage: the training data (per front end), the level's
    calibration subsets, and each Keras model (loaded and exported once for its two families)."""

    params: object  # pipeline.params.Params
    level: str
    tmp: Path
    _keras: dict = field(default_factory=dict, repr=False)
    _sklearn: dict = field(default_factory=dict, repr=False)

    @cached_property
    def features(self) -> dict[str, np.ndarray]:
        return pio.read_npz(cat.FEATURES.path())

    def calibration(self, X: np.ndarray) -> np.ndarray:
        """The seeded subset of training MFCC matrices; for a level without calibration the first training
        input only (the converters take the input's shape from it)."""
        n = getattr(self.params.quantization[self.level], "calibration_samples", None)
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

    def keras(self, name: str):
        """(Keras model, SavedModel folder, its calibration MFCCs) of one entry, loaded once."""
        if name not in self._keras:
            from pipeline.models import keras_models as km

            km.configure_determinism(self.params.seed)
            src = cat.keras_model_dir(name)
            model = km.load((src / cat.KERAS_ARCHITECTURE_FILE).read_text(), pio.read_npz(src / cat.KERAS_WEIGHTS_FILE))
            saved = self.tmp / f"saved_model_{name}"
            km.export_saved_model(model, str(saved))
            X = pio.read_npz(src / cat.MODEL_FEATURES_FILE)["X_train"]
            self._keras[name] = (model, saved, self.calibration(X))
        return self._keras[name]


def _sklearn_sources(ctx: LoadContext) -> list[Source]:
    X = ctx.calibration(ctx.features["X_train"])
    return [Source(name, "sklearn", X, model=ctx.sklearn(name)) for name in ctx.params.sklearn]


def _sklearn_e2e_sources(ctx: LoadContext) -> list[Source]:
    X, audio = ctx.calibration(ctx.features["X_train"]), ctx.calibration_audio
    return [Source(f"{name}{E2E_SUFFIX}", "sklearn_e2e", X, model=ctx.sklearn(name),
                   mfcc=MfccConfig.from_params(ctx.params, name), n_samples=audio.shape[1]) for name in ctx.params.sklearn]


def _keras_sources(ctx: LoadContext) -> list[Source]:
    return [Source(name, "keras", X, model=model, saved_model_dir=saved)
            for name in ctx.params.keras for model, saved, X in [ctx.keras(name)]]


def _keras_e2e_sources(ctx: LoadContext) -> list[Source]:
    audio = ctx.calibration_audio
    return [Source(f"{name}{E2E_SUFFIX}", "keras_e2e", X, model=model, saved_model_dir=saved, calibration_audio=audio,
                   mfcc=MfccConfig.from_params(ctx.params, name), n_samples=audio.shape[1])
            for name in ctx.params.keras for model, saved, X in [ctx.keras(name)]]


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
    features_file: str | None                    # its models' MFCCs in their folder; None: the shared features

    def source_dir(self, model: str) -> Path:
        """The unconverted model a variant comes from (an end-to-end model's is its feature-input one's)."""
        return self.source.path(model=feature_input_model(model))

    def features_path(self, model: str) -> Path:
        """The MFCC matrices (X_train, X_test) a model of this family was trained and is tested on."""
        return cat.FEATURES.path() if self.features_file is None else self.source_dir(model) / self.features_file

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
_KERAS_FILES = (cat.KERAS_ARCHITECTURE_FILE, cat.KERAS_WEIGHTS_FILE, cat.MODEL_FEATURES_FILE)
_NO_TFLITE = {"tflite": _NO_SKLEARN_TFLITE, "tflm": _NO_SKLEARN_TFLITE}

FAMILIES: dict[str, Family] = {f.name: f for f in (
    # the MFCC matrix in; its summary statistics computed in the graph, ahead of the estimator
    Family("sklearn", _sklearn_sources, cat.SKLEARN_MODEL, _SKOPS, _mfcc_layout,
           {"onnx": "sklearn_onnx"}, _NO_TFLITE, None),
    # raw clip in: the float MFCC front end and the statistics in the graph, the estimator quantized where it can be
    Family("sklearn_e2e", _sklearn_e2e_sources, cat.SKLEARN_MODEL, _SKOPS, _raw_audio_layout,
           {"onnx": "sklearn_e2e_onnx"}, _NO_TFLITE, None),
    Family("keras", _keras_sources, cat.KERAS_MODEL, _KERAS_FILES, _mfcc_layout,
           {"tflite": "keras_tflite", "onnx": "keras_onnx"}, {"tflm": _FEATURE_INPUT_TFLM},
           cat.MODEL_FEATURES_FILE),
    # raw clip in, probabilities out: the float MFCC front end inside the graph, the classifier quantized
    Family("keras_e2e", _keras_e2e_sources, cat.KERAS_MODEL, _KERAS_FILES,
           _raw_audio_layout, {"tflite": "keras_e2e_tflite", "tflm": "keras_e2e_tflm", "onnx": "keras_e2e_onnx"}, {},
           cat.MODEL_FEATURES_FILE),
)}


def load_sources(p, level: str, tmp: Path) -> list[Source]:
    """Every model to convert at this level, family by family (sklearn, sklearn_e2e, keras, keras_e2e)."""
    from dataclasses import replace

    ctx = LoadContext(p, level, tmp)
    return [replace(source, options=p.quantization[level]) for family in FAMILIES.values() for source in family.load(ctx)]
