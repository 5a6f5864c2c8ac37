"""Calibrate the synthetic-audio difficulty (not part of the DVC pipeline).

For a few Difficulty settings this generates N clips per class with pipeline.audio.synth,
computes librosa MFCCs exactly as the pipeline defines them (16 kHz, 1.0 s, n_fft 512, hop 320,
40 mels, 20 MFCCs, fmin 20, fmax 8000, center=True -> a (20, 51) matrix per clip), and trains

* a proxy CNN: a small DS-CNN (conv 3x3, then depthwise-separable blocks, global average
  pooling, ~20-30k parameters, Adam, ~15 epochs; the weights of the best validation epoch are kept)
* a linear reference: LogisticRegression on the per-coefficient mean and std of the MFCCs

on a stratified 70/15/15 split, and prints the test accuracy of both per setting. The pipeline's
setting (data.difficulty in params.yaml, the only place it lives) is chosen with it: a CNN test
accuracy between 85% and 97% (aim ~91%) with 300 clips per class, so the classes are learnable
yet quantization losses show.

    .venv/bin/python scripts/calibrate_synth.py                       # the default grid
    .venv/bin/python scripts/calibrate_synth.py --clips 300 --repeats 3 --setting 0.6:0:20:-24:0
    .venv/bin/python scripts/calibrate_synth.py --setting default     # data.difficulty of params.yaml

A setting is overlap:snr_low:snr_high:gain_low:gain_high, or "default" (data.difficulty of params.yaml).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pipeline.audio.synth import CLASSES, Difficulty, clip_rng, synthesize_clip  # noqa: E402
from pipeline.params import load_params  # noqa: E402

SAMPLE_RATE = 16000
DURATION_S = 1.0
MFCC_KW = dict(n_fft=512, hop_length=320, n_mels=40, n_mfcc=20, fmin=20.0, fmax=8000.0, center=True)

DEFAULT_GRID = (
    "0.0:20:40:-24:0",     # easy: no overlap, little noise
    "0.5:0:20:-24:0",
    "0.8:-5:15:-24:0",     # the generator's former built-in default
    "1.0:-8:12:-24:0",     # hard
)


def params_difficulty() -> Difficulty:
    """data.difficulty of params.yaml (validated like every stage does)."""
    d = load_params(ROOT / "params.yaml").data.difficulty
    return Difficulty(overlap=d.overlap, snr_db=tuple(d.snr_db), gain_db=tuple(d.gain_db))


def parse_setting(text: str) -> Difficulty:
    if text == "default":
        return params_difficulty()
    try:
        o, s_lo, s_hi, g_lo, g_hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise SystemExit(f"bad --setting {text!r}: expected overlap:snr_low:snr_high:gain_low:gain_high "
                         f"(e.g. 0.6:0:20:-24:0) or 'default'") from None
    return Difficulty(overlap=o, snr_db=(s_lo, s_hi), gain_db=(g_lo, g_hi))


def make_dataset(difficulty: Difficulty, clips: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """MFCCs (N, 20, 51) float32, labels (N,), and the mean synthesis time per clip (ms)."""
    import librosa

    feats, labels, synth_s = [], [], 0.0
    for li, label in enumerate(CLASSES):
        for i in range(clips):
            t0 = time.perf_counter()
            x = synthesize_clip(label, clip_rng(seed, li, i), sample_rate=SAMPLE_RATE,
                                duration_s=DURATION_S, difficulty=difficulty)
            synth_s += time.perf_counter() - t0
            feats.append(librosa.feature.mfcc(y=x, sr=SAMPLE_RATE, **MFCC_KW))
            labels.append(li)
    return np.asarray(feats, dtype=np.float32), np.asarray(labels), synth_s / len(labels) * 1e3


def split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 70/15/15 split (indices)."""
    rng = np.random.default_rng(seed)
    tr, va, te = [], [], []
    for li in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == li))
        n_te = n_va = round(0.15 * idx.size)
        te += idx[:n_te].tolist()
        va += idx[n_te:n_te + n_va].tolist()
        tr += idx[n_te + n_va:].tolist()
    return np.array(tr), np.array(va), np.array(te)


def linear_accuracy(X: np.ndarray, y: np.ndarray, tr: np.ndarray, te: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    stats = np.concatenate([X.mean(axis=2), X.std(axis=2)], axis=1)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    model.fit(stats[tr], y[tr])
    return float(model.score(stats[te], y[te]))


def build_dscnn(input_shape: tuple[int, int], n_classes: int, filters: int = 80, blocks: int = 3):
    """DS-CNN (as for keyword spotting): a strided 3x3 conv, then depthwise-separable blocks.
    BatchNorm momentum 0.9: with ~30 steps per epoch the default 0.99 leaves the moving
    statistics unsettled for most of a 15-epoch run."""
    import keras
    from keras import layers

    inp = keras.Input(shape=(*input_shape, 1))
    x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    for _ in range(blocks):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(filters, 1, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    out = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inp, out)


def cnn_accuracy(X: np.ndarray, y: np.ndarray, tr: np.ndarray, va: np.ndarray, te: np.ndarray,
                 epochs: int, seed: int) -> tuple[float, int, np.ndarray]:
    import keras

    keras.utils.set_random_seed(seed)
    mean = X[tr].mean(axis=(0, 2), keepdims=True)      # per-coefficient standardisation
    std = X[tr].std(axis=(0, 2), keepdims=True) + 1e-6
    Z = ((X - mean) / std)[..., None]
    model = build_dscnn(X.shape[1:], len(CLASSES))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=epochs, restore_best_weights=True)
    model.fit(Z[tr], y[tr], validation_data=(Z[va], y[va]), epochs=epochs, batch_size=32,
              callbacks=[stop], verbose=0)
    pred = model.predict(Z[te], verbose=0).argmax(axis=1)
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    np.add.at(confusion, (y[te], pred), 1)
    return float(np.mean(pred == y[te])), model.count_params(), confusion


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=300, help="clips per class (default 300)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=1, help="data seeds per setting (accuracies averaged)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="TensorFlow threads (default 2)")
    ap.add_argument("--confusion", action="store_true", help="also print the CNN confusion matrix (summed over repeats)")
    ap.add_argument("--setting", action="append", help="overlap:snr_lo:snr_hi:gain_lo:gain_hi or 'default'; repeatable")
    args = ap.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    settings = [parse_setting(s) for s in (args.setting or DEFAULT_GRID)]
    print(f"{args.clips} clips/class, {args.epochs} epochs, {args.repeats} repeat(s); "
          f"default (params.yaml) = {params_difficulty()}")
    print(f"{'overlap':>7} {'snr_db':>13} {'gain_db':>13} | {'CNN acc':>8} {'linear acc':>10} | {'synth ms/clip':>13}")
    for d in settings:
        cnn, lin, ms = [], [], []
        confusion = 0
        for r in range(args.repeats):
            seed = args.seed + 1000 * r
            X, y, synth_ms = make_dataset(d, args.clips, seed)
            tr, va, te = split(y, seed)
            lin.append(linear_accuracy(X, y, tr, te))
            acc, n_params, conf = cnn_accuracy(X, y, tr, va, te, args.epochs, seed)
            cnn.append(acc)
            confusion = confusion + conf
            ms.append(synth_ms)
        snr = f"[{d.snr_db[0]:g}, {d.snr_db[1]:g}]"
        gain = f"[{d.gain_db[0]:g}, {d.gain_db[1]:g}]"
        spread = f" ±{np.std(cnn):.3f}" if args.repeats > 1 else ""
        print(f"{d.overlap:7.2f} {snr:>13} {gain:>13} | {np.mean(cnn):8.3f}{spread} {np.mean(lin):10.3f} | "
              f"{np.mean(ms):13.2f}", flush=True)
        if args.confusion:
            print("    true \\ predicted " + " ".join(f"{c[:5]:>6}" for c in CLASSES))
            for li, row in enumerate(confusion):
                print(f"    {CLASSES[li]:>18} " + " ".join(f"{v:6d}" for v in row))
    print(f"(CNN parameters: {n_params})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
