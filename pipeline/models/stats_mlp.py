"""The statistics MLP of a `keras.<name>: {type: stats_mlp, ...}` entry: per MFCC coefficient the summary
statistics the scikit-learn models use (pipeline/models/summary_stats.py: mean, standard deviation, that of the
frame-to-frame difference, minimum, maximum; `statistics` picks which), standardised, then dense layers. Its
cost is the front end's and a few thousand multiply-accumulates: what an edge core affords when the MFCC front
end is most of the budget.

The statistics are float32 at every level: they are part of the model's float front (up to the layer named
`normalize`, pipeline.models.keras_models.split_standardisation); only the dense layers are quantized."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator

from pipeline.models.keras_spec import KerasTraining
from pipeline.models.summary_stats import STATS
from pipeline.schema import PositiveInt

Statistic = Literal[STATS]


class StatsMlpSpec(KerasTraining):
    type: Literal["stats_mlp"]
    statistics: Annotated[tuple[Statistic, ...], Field(min_length=1)]  # per coefficient, in this order
    hidden: Annotated[tuple[PositiveInt, ...], Field(min_length=1)]  # units of each hidden dense layer
    dropout: Annotated[float, Field(ge=0, lt=1)]

    @field_validator("statistics")
    @classmethod
    def _once_each(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"lists a statistic more than once: {list(v)}; allowed, once each: {list(STATS)}")
        return v


@lru_cache(maxsize=1)  # one class per process: Keras registers its name once
def _summary_layer():
    import keras
    from keras import layers, ops

    @keras.saving.register_keras_serializable(package="pipeline")
    class SummaryStatistics(layers.Layer):
        """(n_mfcc, frames) -> the chosen statistics per coefficient, as summary_stats computes them (reductions
        every runtime has as a builtin)."""

        def __init__(self, statistics=STATS, **kwargs):
            super().__init__(**kwargs)
            self.statistics = tuple(statistics)

        def get_config(self):
            return {**super().get_config(), "statistics": list(self.statistics)}

        def call(self, x):
            def std(a):
                centred = a - ops.mean(a, axis=2, keepdims=True)
                return ops.sqrt(ops.mean(centred * centred, axis=2))

            compute = {"mean": lambda: ops.mean(x, axis=2), "std": lambda: std(x),
                       "diff_std": lambda: std(x[:, :, 1:] - x[:, :, :-1]),
                       "min": lambda: ops.min(x, axis=2), "max": lambda: ops.max(x, axis=2)}
            return ops.concatenate([compute[s]() for s in self.statistics], axis=1)

    return SummaryStatistics


def custom_objects() -> dict:
    """What Keras needs to read this architecture's JSON back."""
    return {"pipeline>SummaryStatistics": _summary_layer()}


def build(input_shape: tuple[int, int], n_classes: int, spec: StatsMlpSpec, X_train: np.ndarray):
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="mfcc")
    # each statistic is affine in the MFCCs' scale: standardising them after is standardising the MFCCs too
    stats = _summary_layer()(spec.statistics, name="summary")(inputs)
    norm = layers.Normalization(name="normalize")  # the statistics on one scale: the quantized part's input
    norm.adapt(keras.Model(inputs, stats).predict(X_train, batch_size=256, verbose=0))
    x = norm(stats)
    for i, units in enumerate(spec.hidden):
        x = layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        x = layers.Dropout(spec.dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="stats_mlp")


def describe(spec: StatsMlpSpec) -> str:
    return f"statistics MLP: {', '.join(spec.statistics)} per coefficient, dense {' > '.join(map(str, spec.hidden))}"
