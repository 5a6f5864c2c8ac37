"""The DS-CNN architecture of a `keras.<name>: {type: dscnn, ...}` entry: a strided stem convolution, then
`blocks` depthwise-separable blocks at the stem's resolution, global average pooling and a softmax."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from pipeline.models.keras_spec import KerasTraining
from pipeline.schema import PositiveInt

Pair = tuple[PositiveInt, PositiveInt]

# Keras' default 0.99 lags for hundreds of steps: with ~30 steps an epoch the inference-mode
# statistics stayed wrong for 10 epochs (validation at chance while training accuracy was 99%).
BN_MOMENTUM = 0.9


class DscnnSpec(KerasTraining):
    type: Literal["dscnn"]
    filters: PositiveInt
    blocks: Annotated[int, Field(ge=0)]
    stem_kernel: Pair  # (MFCC axis, time axis)
    stem_stride: Pair
    dropout: Annotated[float, Field(ge=0, lt=1)]


def same_padding(input_shape, kernel, stride) -> tuple[tuple[int, int], ...] | None:
    """SAME padding as explicit (before, after) rows and columns where a stride exceeds its kernel, else None.
    TFLite 2.9's XNNPACK (what an app bundling tfjs-tflite-node's C library runs) computes a SAME convolution
    with stride > kernel wrongly (21% top-1 agreement, measured): an explicit PAD and a VALID convolution is
    the same math on every runtime."""
    if all(s <= k for k, s in zip(kernel, stride)):
        return None
    pads = []
    for n, k, s in zip(input_shape, kernel, stride):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def build(input_shape: tuple[int, int], n_classes: int, spec: DscnnSpec, X_train: np.ndarray):
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="mfcc")
    norm = layers.Normalization(axis=1, name="normalize")  # one mean/variance per MFCC coefficient
    norm.adapt(X_train)
    x = layers.Reshape((*input_shape, 1))(norm(inputs))
    stem = same_padding(input_shape, spec.stem_kernel, spec.stem_stride)
    if stem is not None:
        x = layers.ZeroPadding2D(stem, name="stem_pad")(x)
    x = layers.Conv2D(spec.filters, tuple(spec.stem_kernel), strides=tuple(spec.stem_stride),
                      padding="same" if stem is None else "valid", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = layers.ReLU()(x)
    for i in range(spec.blocks):
        x = layers.DepthwiseConv2D((3, 3), padding="same", use_bias=False, name=f"dw{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(spec.filters, (1, 1), use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(spec.dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="dscnn")


def describe(spec: DscnnSpec) -> str:
    k, s = spec.stem_kernel, spec.stem_stride
    return f"DS-CNN: {spec.filters} filters, {spec.blocks} blocks, stem {k[0]}x{k[1]} stride {s[0]}x{s[1]}"
