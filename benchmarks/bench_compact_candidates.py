"""What was tried for the edge targets (issue 22): compact Keras candidates trained on the workspace's data,
each scored on the test split (unconverted), with the seeds that show how much of a difference is training
noise. The statistics MLP of params.yaml, the compact DS-CNN it replaced (dscnn_xs), and their neighbours: narrower or wider, the
shared front end instead of hop 512, the statistics subset, and distillation from the reference model.

    .venv/bin/python benchmarks/bench_compact_candidates.py [--json benchmarks/results/compact_candidates.json]

Needs `make repro` first (the features, the audio splits and the reference Keras model as the teacher).
Distillation: the student's loss is weight x T^2 x KL(teacher_T || student_T) + (1 - weight) x cross-entropy,
the teacher's soft labels from its own front end on the same training clips (Hinton et al.).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import date
from pathlib import Path

os.environ.setdefault("PIPELINE_SERIAL", "1")  # the MFCCs in this process: the figures are the models'
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.pins import is_pinned, pinned_env  # noqa: E402

if not is_pinned():  # the stages' kernels (pipeline/pins.py), so a seed trains what train_keras trains
    os.execve(sys.executable, [sys.executable, *sys.argv], pinned_env())

import numpy as np  # noqa: E402

from pipeline import catalog as cat  # noqa: E402
from pipeline import io as pio  # noqa: E402
from pipeline.io import read_yaml  # noqa: E402
from pipeline.params import ParamsError, parse_params  # noqa: E402

# The compact DS-CNN params.yaml shipped until stop 17 (the statistics MLP replaced it): kept here as a start point.
DSCNN_XS = {"type": "dscnn", "filters": 24, "blocks": 3, "stem_kernel": [3, 3], "stem_stride": [2, 4], "dropout": 0.2,
            "epochs": 30, "batch_size": 32, "learning_rate": 0.001, "features": {"hop_length": 512}}
# (label, entry the candidate starts from, keys it changes, distillation (temperature, weight) or None, seeds)
CANDIDATES = [
    ("dscnn_xs (the default until stop 17)", "dscnn_xs", {}, None, (42, 1, 2)),
    ("dscnn_xs distilled from keras", "dscnn_xs", {}, (4.0, 0.7), (42, 1, 2)),
    ("dscnn_xs, 32 filters", "dscnn_xs", {"filters": 32}, None, (42,)),
    ("dscnn_xs on the shared front end (hop 320)", "dscnn_xs", {"features": {}}, None, (42,)),
    ("the reference DS-CNN on hop 512", "dscnn_xs", {"filters": 64, "blocks": 4, "stem_stride": [2, 2]}, None, (42,)),
    ("stats_mlp as in params.yaml", "stats_mlp", {}, None, (42, 1, 2)),
    ("stats_mlp, all five statistics", "stats_mlp", {"statistics": ["mean", "std", "diff_std", "min", "max"]}, None,
     (42, 1, 2)),
    ("stats_mlp, dense 48 > 24", "stats_mlp", {"hidden": [48, 24]}, None, (42,)),
    ("stats_mlp distilled from keras", "stats_mlp", {}, (4.0, 0.7), (42, 1, 2)),
]


def teacher_soft_labels(p, temperature: float) -> dict[str, np.ndarray]:
    """The reference model's probabilities on the training and validation clips, softened by the temperature."""
    from pipeline.models import keras_models as km

    folder = cat.keras_model_dir("keras")
    teacher = km.load((folder / cat.KERAS_ARCHITECTURE_FILE).read_text(), pio.read_npz(folder / cat.KERAS_WEIGHTS_FILE))
    shared = pio.read_npz(cat.FEATURES.path())
    out = {}
    for split in ("train", "val"):
        logits = np.log(np.clip(teacher.predict(shared[f"X_{split}"], batch_size=256, verbose=0), 1e-12, 1)) / temperature
        e = np.exp(logits - logits.max(1, keepdims=True))
        out[split] = (e / e.sum(1, keepdims=True)).astype(np.float32)
    return out


def train_one(p, name: str, seed: int, distill) -> dict:
    import keras
    from keras import ops

    from pipeline.models import keras_models as km
    from pipeline.stages.train_keras import model_features

    spec = p.keras[name]
    d = model_features(p, name)
    km.configure_determinism(seed)
    model = km.build(d["X_train"].shape[1:], len(d["labels"]), spec, d["X_train"])
    if distill is None:
        km.train(model, d["X_train"], d["y_train"], d["X_val"], d["y_val"], epochs=spec.epochs,
                 batch_size=spec.batch_size, learning_rate=spec.learning_rate)
    else:
        temperature, weight = distill
        n = len(d["labels"])
        soft = teacher_soft_labels(p, temperature)
        targets = {s: np.concatenate([np.eye(n, dtype=np.float32)[d[f"y_{s}"]], soft[s]], 1) for s in ("train", "val")}

        def loss(y, probs):
            hard, teacher = y[:, :n], y[:, n:]
            log_p = ops.log(ops.clip(probs, 1e-7, 1.0))
            student = ops.softmax(log_p / temperature, axis=-1)
            kl = ops.sum(teacher * (ops.log(ops.clip(teacher, 1e-12, 1.0)) - ops.log(ops.clip(student, 1e-12, 1.0))), -1)
            return weight * temperature ** 2 * kl - (1 - weight) * ops.sum(hard * log_p, -1)

        def accuracy(y, probs):
            return ops.cast(ops.equal(ops.argmax(y[:, :n], -1), ops.argmax(probs, -1)), "float32")

        model.compile(optimizer=keras.optimizers.Adam(spec.learning_rate), loss=loss, metrics=[accuracy])
        best = {"val": -1.0, "weights": None}

        class Best(keras.callbacks.Callback):  # the best validation epoch, as km.train keeps it
            def on_epoch_end(self, epoch, logs=None):
                if logs["val_accuracy"] > best["val"]:
                    best.update(val=logs["val_accuracy"], weights=self.model.get_weights())

        model.fit(d["X_train"], targets["train"], validation_data=(d["X_val"], targets["val"]), epochs=spec.epochs,
                  batch_size=spec.batch_size, shuffle=True, verbose=0, callbacks=[Best()])
        model.set_weights(best["weights"])
    pred = model.predict(d["X_test"], batch_size=256, verbose=0).argmax(1)
    val = model.predict(d["X_val"], batch_size=256, verbose=0).argmax(1)
    return {"seed": seed, "parameters": km.count_params(model), "macs": km.count_macs(model),
            "val_accuracy": round(float(np.mean(val == d["y_val"])), 4),
            "test_accuracy": round(float(np.mean(pred == d["y_test"])), 4)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/compact_candidates.json")
    args = ap.parse_args(argv)
    raw = read_yaml(ROOT / "params.yaml", ParamsError, "parameters file not found")
    rows = []
    for label, name, changes, distill, seeds in CANDIDATES:
        entries = {**raw["keras"], "dscnn_xs": DSCNN_XS}
        p = parse_params({**raw, "keras": {**entries, name: {**entries[name], **changes}}})
        runs = [train_one(p, name, seed, distill) for seed in seeds]
        tests = [r["test_accuracy"] for r in runs]
        rows.append({"candidate": label, "entry": name, "changes": changes,
                     "distillation": None if distill is None else {"teacher": "keras", "temperature": distill[0],
                                                                    "weight": distill[1]},
                     "runs": runs, "test_accuracy_mean": round(float(np.mean(tests)), 4)})
        print(f"{label:48s} test {', '.join(f'{t:.1%}' for t in tests)} (seeds {', '.join(map(str, seeds))}), "
              f"{runs[0]['macs']:,} MACs", flush=True)
    n_test = len(pio.read_npz(cat.FEATURES.path())["y_test"])
    out = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
           "test_clips": n_test, "candidates": rows}
    pio.write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
