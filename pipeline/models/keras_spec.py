"""What every Keras entry of params.yaml holds beside its architecture's own keys: its training and its front
end. Each architecture's schema (pipeline/models/dscnn.py, stats_mlp.py) extends it with a `type:` tag."""

from __future__ import annotations

from pydantic import model_serializer

from pipeline.schema import NonNegativeFloat, PositiveFloat, PositiveInt, Strict


class FrontOverrides(Strict):
    """A Keras entry's own front end: the keys it sets replace `features:`'s for that model alone (its
    training features, its end-to-end graph, its sidecar); `{}` is the shared front end."""

    n_mfcc: PositiveInt | None = None
    n_fft: PositiveInt | None = None
    hop_length: PositiveInt | None = None
    n_mels: PositiveInt | None = None
    fmin: NonNegativeFloat | None = None
    fmax: PositiveFloat | None = None
    top_db: PositiveFloat | None = None

    @model_serializer(mode="wrap")
    def _as_written(self, handler):
        return {k: v for k, v in handler(self).items() if v is not None}  # unset keys are not values


class KerasTraining(Strict):
    epochs: PositiveInt
    batch_size: PositiveInt
    learning_rate: PositiveFloat
    features: FrontOverrides
