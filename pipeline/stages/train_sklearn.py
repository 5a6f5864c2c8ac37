"""Stage train_sklearn@<name>: data/features.npz -> models/sklearn/<name>/ (skops model, test reference)."""

from __future__ import annotations

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.errors import UsageError
from pipeline.log import info
from pipeline.models import sklearn_models as skm
from pipeline.models.evaluate import accuracy
from pipeline.params import Params
from pipeline.quiet import known_chatter_off


def run(p: Params, name: str) -> None:
    if name not in p.sklearn:
        raise UsageError(f"no scikit-learn model '{name}' in params.yaml sklearn: {list(p.sklearn)}")
    spec = p.sklearn[name]
    d = pio.read_npz(cat.FEATURES.path())
    info(f"train_sklearn@{name}: fitting {spec.type} on {d['X_train'].shape}")
    with known_chatter_off():  # sklearn 1.9 deprecates SVC(probability=True): kept until skl2onnx converts its successor
        model = skm.fit_classifier(spec, p.seed, d["X_train"], d["y_train"])
    probs = model.predict_proba(skm.features(d["X_test"])).astype("float32")
    summary = {
        "name": name, "type": spec.type,
        # the most probable class, as every artefact answers (an SVC's predict() votes, which can differ)
        "val_accuracy": accuracy(model.predict_proba(skm.features(d["X_val"])).argmax(1), d["y_val"]),
        "test_accuracy": accuracy(probs.argmax(1), d["y_test"]),
    }
    pio.replace_dir(cat.sklearn_model_dir(name), {
        cat.SKLEARN_MODEL_FILE: skm.dumps(model),
        cat.REFERENCE_FILE: pio.npz_bytes({"probs_test": probs, "pred_test": probs.argmax(1)}),
        cat.MODEL_SUMMARY_FILE: pio.to_json(summary).encode(),
    })
    info(f"train_sklearn@{name}: val {summary['val_accuracy']:.3f} test {summary['test_accuracy']:.3f}")
