"""Stage train_keras: data/features.npz -> models/keras/ (architecture, weights, history, test reference)."""

from __future__ import annotations

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.log import info
from pipeline.models import keras_models as km
from pipeline.models.evaluate import accuracy
from pipeline.params import Params


def run(p: Params) -> None:
    d = pio.read_npz(cat.FEATURES.path())
    km.configure_determinism(p.seed)
    k = p.keras
    model = km.build_dscnn(d["X_train"].shape[1:], len(d["labels"]), k.filters, k.blocks, k.dropout, d["X_train"])
    info(f"train_keras: DS-CNN with {km.count_params(model)} parameters, {k.epochs} epochs")

    def on_epoch(epoch, total, logs):
        info(f"train_keras: epoch {epoch}/{total} loss {logs.get('loss', 0):.3f} "
             f"acc {logs.get('accuracy', 0):.3f} val_acc {logs.get('val_accuracy', 0):.3f}")

    history = km.train(model, d["X_train"], d["y_train"], d["X_val"], d["y_val"], epochs=k.epochs,
                       batch_size=k.batch_size, learning_rate=k.learning_rate, on_epoch=on_epoch)
    probs = model.predict(d["X_test"], batch_size=256, verbose=0).astype("float32")
    summary = {"name": "keras", "type": "dscnn", "parameters": km.count_params(model),
               "val_accuracy": max(history["val_accuracy"]),  # the kept (best validation) epoch
               "test_accuracy": accuracy(probs.argmax(1), d["y_test"])}
    pio.replace_dir(cat.KERAS_MODEL.path(), {
        cat.KERAS_ARCHITECTURE_FILE: km.architecture_json(model).encode(),
        cat.KERAS_WEIGHTS_FILE: pio.npz_bytes(km.weights_arrays(model)),
        cat.REFERENCE_FILE: pio.npz_bytes({"probs_test": probs, "pred_test": probs.argmax(1)}),
        cat.MODEL_SUMMARY_FILE: pio.to_json(summary).encode(),
    })
    rows = [{"epoch": i + 1, **{k_: round(v[i], 6) for k_, v in history.items()}} for i in range(k.epochs)]
    pio.write_csv(cat.KERAS_HISTORY.path(), rows, ["epoch", *history])
    info(f"train_keras: test accuracy {summary['test_accuracy']:.3f}")
