"""The Keras architectures (pipeline/models/keras_models.py ARCHITECTURES): each builds from its params, reads
back from its saved JSON and weights with the same answers, the statistics MLP computes the scikit-learn
models' statistics (pipeline/models/summary_stats.py), and the DS-CNN's explicit stem padding is SAME padding."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.models import keras_models as km
from pipeline.models.dscnn import DscnnSpec, same_padding
from pipeline.models.stats_mlp import StatsMlpSpec
from pipeline.models.summary_stats import STATS, summary_stats

TRAINING = {"epochs": 1, "batch_size": 8, "learning_rate": 0.01, "features": {}}
SPECS = {"dscnn": DscnnSpec(type="dscnn", filters=4, blocks=1, stem_kernel=(3, 3), stem_stride=(2, 4), dropout=0.0,
                            **TRAINING),
         "stats_mlp": StatsMlpSpec(type="stats_mlp", statistics=STATS, hidden=(8,), dropout=0.0, **TRAINING)}


def mfccs(n: int = 6, seed: int = 0) -> np.ndarray:
    """MFCC-like matrices: c0 far from zero and wide, the others near zero (20 coefficients, 32 frames)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 10, (n, 20, 32)).astype(np.float32)
    X[:, 0] += -250
    return X


def test_every_architecture_has_a_spec_here():
    assert set(SPECS) == set(km.ARCHITECTURES)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_architecture_reads_back_with_the_same_answers(name):
    X = mfccs()
    km.configure_determinism(0)
    model = km.build(X.shape[1:], 5, SPECS[name], X)
    again = km.load(km.architecture_json(model), km.weights_arrays(model))
    assert np.array_equal(model.predict(X, verbose=0), again.predict(X, verbose=0))
    assert km.ARCHITECTURES[name].describe(SPECS[name])
    front, body = km.split_standardisation(again)  # the float front every level keeps
    assert np.allclose(body.predict(front.predict(X, verbose=0), verbose=0), model.predict(X, verbose=0), atol=1e-6)


@pytest.mark.parametrize("statistics", [STATS, ("mean", "std", "diff_std"), ("max", "mean")])
def test_the_statistics_mlp_computes_the_scikit_learn_statistics(statistics):
    X = mfccs()
    model = km.build(X.shape[1:], 5, SPECS["stats_mlp"].model_copy(update={"statistics": statistics}), X)
    got = model.get_layer("summary")(X).numpy()
    every = summary_stats(X).reshape(len(X), len(STATS), -1)
    want = np.concatenate([every[:, STATS.index(s)] for s in statistics], axis=1)
    assert got.shape == (len(X), 20 * len(statistics)) and np.allclose(got, want, rtol=1e-5, atol=1e-3)


def test_the_stem_padding_is_same_padding_made_explicit():
    """A stride above the kernel gets an explicit pad and a VALID convolution (TFLite 2.9's XNNPACK answers the
    SAME form wrongly): the same numbers as Keras' own SAME convolution."""
    import keras

    assert same_padding((20, 51), (3, 3), (2, 2)) is None
    assert same_padding((20, 32), (3, 3), (2, 4)) == ((0, 1), (0, 0))
    X = mfccs()
    model = km.build(X.shape[1:], 5, SPECS["dscnn"], X)
    assert model.get_layer("stem_pad") is not None
    conv = next(layer for layer in model.layers if layer.name.startswith("conv2d"))
    same = keras.layers.Conv2D(4, (3, 3), strides=(2, 4), padding="same", use_bias=False)
    x = X[..., None]
    same.build(x.shape)
    same.set_weights(conv.get_weights())
    explicit = conv(keras.layers.ZeroPadding2D(((0, 1), (0, 0)))(x))
    assert explicit.shape == same(x).shape and np.allclose(explicit, same(x), atol=1e-5)
