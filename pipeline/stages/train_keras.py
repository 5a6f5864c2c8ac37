"""Stage train_keras@<model>: its MFCCs -> models/keras/<model>/ (architecture, weights, the features of its
front end, test reference, summary) and its history.

An entry without front-end overrides trains on data/features.npz; one with overrides computes its MFCCs from
the raw clips (data/audio_splits.npz) with its own settings, and every later stage reads them from its folder.
"""

from __future__ import annotations

import numpy as np

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.audio.dataset import SPLITS
from pipeline.audio.mfcc import MfccConfig
from pipeline.audio.mfcc_tasks import array_mfcc
from pipeline.errors import UsageError
from pipeline.log import info
from pipeline.models import keras_models as km
from pipeline.models.evaluate import accuracy
from pipeline.params import Params
from pipeline.quiet import native_stderr_held


def model_features(p: Params, name: str) -> dict[str, np.ndarray]:
    """X_<split> and y_<split> of every split through this model's front end."""
    shared = pio.read_npz(cat.FEATURES.path())
    cfg = MfccConfig.from_params(p, name)
    if cfg == MfccConfig.from_params(p):
        return shared
    audio = pio.read_npz(cat.AUDIO_SPLITS.path())
    return {**shared, **{f"X_{s}": array_mfcc(audio[s], cfg, f"mfcc-{name}-{s}") for s in SPLITS}}


def run(p: Params, name: str) -> None:
    if name not in p.keras:
        raise UsageError(f"Keras model '{name}' is not in params.yaml keras: {list(p.keras)}")
    k = p.keras[name]
    d = model_features(p, name)
    with native_stderr_held():  # TensorFlow's start-up lines
        km.configure_determinism(p.seed)
    model = km.build(d["X_train"].shape[1:], len(d["labels"]), k, d["X_train"])
    info(f"train_keras@{name}: {km.ARCHITECTURES[k.type].describe(k)}, {km.count_params(model)} parameters on "
         f"{d['X_train'].shape[1:]} MFCCs, {k.epochs} epochs")

    def on_epoch(epoch, total, logs):
        info(f"train_keras@{name}: epoch {epoch}/{total} loss {logs.get('loss', 0):.3f} "
             f"acc {logs.get('accuracy', 0):.3f} val_acc {logs.get('val_accuracy', 0):.3f}")

    history = km.train(model, d["X_train"], d["y_train"], d["X_val"], d["y_val"], epochs=k.epochs,
                       batch_size=k.batch_size, learning_rate=k.learning_rate, on_epoch=on_epoch)
    probs = model.predict(d["X_test"], batch_size=256, verbose=0).astype("float32")
    summary = {"name": name, "type": k.type, "parameters": km.count_params(model), "macs": km.count_macs(model),
               "val_accuracy": max(history["val_accuracy"]),  # the kept (best validation) epoch
               "test_accuracy": accuracy(probs.argmax(1), d["y_test"])}
    pio.replace_dir(cat.keras_model_dir(name), {
        cat.KERAS_ARCHITECTURE_FILE: km.architecture_json(model).encode(),
        cat.KERAS_WEIGHTS_FILE: pio.npz_bytes(km.weights_arrays(model)),
        cat.MODEL_FEATURES_FILE: pio.npz_bytes({k_: d[k_] for k_ in ("X_train", "X_test")}),
        cat.REFERENCE_FILE: pio.npz_bytes({"probs_test": probs, "pred_test": probs.argmax(1)}),
        cat.MODEL_SUMMARY_FILE: pio.to_json(summary).encode(),
    })
    rows = [{"epoch": i + 1, **{k_: round(v[i], 6) for k_, v in history.items()}} for i in range(k.epochs)]
    pio.write_csv(cat.KERAS_HISTORY.path(model=name), rows, ["epoch", *history])
    info(f"train_keras@{name}: test accuracy {summary['test_accuracy']:.3f}, {summary['macs']:,} MACs")
