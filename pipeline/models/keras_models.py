"""Keras classifiers over the MFCC matrix, one registry entry per architecture: build, train, save without pickle.

The model takes the (n_mfcc, frames) matrix exactly as the features stage writes
it; normalisation (adapted on the training split) and the channel axis live
inside the model, so every exported artefact carries them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

from pipeline.models import dscnn, stats_mlp


def configure_determinism(seed: int) -> None:
    """Same seed -> same weights, bit for bit: seeded RNGs, deterministic kernels, one thread."""
    import os

    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised in this process; determinism is still enforced above


@dataclass(frozen=True)
class KerasArchitecture:
    """One Keras architecture: its params schema (`keras.<name>: {type: <name>, ...}`), how to build it from
    (input shape, classes, spec, training MFCCs), a line for the report, and what Keras needs to read it back."""

    name: str
    spec: type
    build: Callable
    describe: Callable
    custom_objects: Callable[[], dict] = dict


ARCHITECTURES: dict[str, KerasArchitecture] = {a.name: a for a in (
    KerasArchitecture("dscnn", dscnn.DscnnSpec, dscnn.build, dscnn.describe),
    KerasArchitecture("stats_mlp", stats_mlp.StatsMlpSpec, stats_mlp.build, stats_mlp.describe,
                      stats_mlp.custom_objects),
)}


def build(input_shape: tuple[int, int], n_classes: int, spec, X_train: np.ndarray):
    """The untrained model of a Keras entry, its normalisation adapted on the training MFCCs."""
    return ARCHITECTURES[spec.type].build(input_shape, n_classes, spec, X_train)


def train(model, X_train, y_train, X_val, y_val, *, epochs: int, batch_size: int, learning_rate: float,
          on_epoch=None) -> dict[str, list[float]]:
    import keras

    class _ProgressAndBest(keras.callbacks.Callback):
        """Logs each epoch and keeps the weights of the best validation epoch (ties: the earliest),
        so that one unstable last epoch does not decide the shipped model."""

        best, weights = -1.0, None

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            if on_epoch:
                on_epoch(epoch + 1, epochs, logs)
            if logs.get("val_accuracy", 0.0) > self.best:
                self.best, self.weights = logs["val_accuracy"], self.model.get_weights()

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(X_train, y_train, validation_data=(X_val, y_val), epochs=epochs, batch_size=batch_size,
                        shuffle=True, verbose=0, callbacks=[_ProgressAndBest()])
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def weights_arrays(model) -> dict[str, np.ndarray]:
    return {f"w{i:03d}": w for i, w in enumerate(model.get_weights())}


def architecture_json(model) -> str:
    return json.dumps(json.loads(model.to_json()), indent=1, sort_keys=True) + "\n"


def load(architecture: str, weights: dict[str, np.ndarray]):
    import keras

    known = {k: v for a in ARCHITECTURES.values() for k, v in a.custom_objects().items()}
    model = keras.models.model_from_json(architecture, custom_objects=known)
    model.set_weights([weights[k] for k in sorted(weights)])
    for layer in model.layers:
        # Normalization computes its mean/variance tensors from the adapted state only here;
        # set_weights alone leaves them at their initial values (0 and 1).
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
    return model


def split_standardisation(model):
    """(front, body): the model up to its layer named `normalize` (every architecture names the end of its float
    part so: the DS-CNN's per-coefficient standardisation, the statistics MLP's standardised statistics) and the
    classifier after it, sharing the trained layers. Quantized levels keep the front in float32 and quantize
    the body, whose input then holds standardised values instead of the raw MFCC matrix."""
    import keras

    norm = model.get_layer("normalize").output
    return keras.Model(model.inputs, norm, name="standardise"), keras.Model(norm, model.outputs, name="classifier")


def export_saved_model(model, path: str) -> None:
    """A SavedModel with a fixed (1, n_mfcc, frames) signature: the converters' common input."""
    import tensorflow as tf

    spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32, name="mfcc")
    model.export(path, format="tf_saved_model", input_signature=[spec], verbose=False)


def count_params(model) -> int:
    return int(model.count_params())


def count_macs(model) -> int:
    """Multiply-accumulates of one inference: convolutions (dense, depthwise) and dense layers, from their
    kernels and output shapes (the cost the architecture params move; normalisation and pooling are left out)."""
    from keras import layers

    macs = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            macs += int(np.prod(layer.output.shape[1:])) * kh * kw
        elif isinstance(layer, layers.Conv2D):
            kh, kw = layer.kernel_size
            macs += int(np.prod(layer.output.shape[1:])) * kh * kw * int(layer.input.shape[-1])
        elif isinstance(layer, layers.Dense):
            macs += int(layer.input.shape[-1]) * layer.units
    return macs
