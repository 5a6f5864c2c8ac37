"""Where every dataset lives, in one place (Kedro's DataCatalog is the model).

Stages, the report, the comparison and the tests ask this module for paths; no other module spells
one. A path with `{placeholders}` belongs to a matrix stage, the placeholder named after the matrix
key (`{level}` is `${item.level}` in dvc.yaml). What each stage reads
and writes is pipeline/wiring.py's, which writes dvc.yaml from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Dataset:
    template: str  # relative to the project root; {key} for a matrix key
    description: str
    section: str = "outs"  # how dvc.yaml declares it as a stage's output: outs, metrics or plots
    options: tuple[tuple[str, object], ...] = ()  # its options there (cache, persist, a plot's axes)

    def path(self, **keys: str) -> Path:
        return Path(self.template.format(**keys))

    def dvc(self) -> str:
        """The path as dvc.yaml writes it (`${item.key}` for `{key}`)."""
        return self.template.replace("{", "${item.")


# The report's outputs stay in place while it runs (persist): a report that fails on a bad `ship` or `devices`
# value, which only it reads, leaves the previous one instead of nothing.
REPORT_OUT = (("cache", False), ("persist", True))

LOCK = Dataset("requirements.lock", "the exact package versions of the project's environment")
CHECKED = Dataset("data/checked.txt", "written by the check stage once params, data folder and environment are valid",
                  options=(("cache", False), ("persist", True)))  # a failed check leaves the marker as it was
AUDIO = Dataset("data/audio", "one WAV per clip, in a folder per label")
MANIFEST = Dataset("data/manifest.csv", "path, label and split of every clip")
FEATURES = Dataset("data/features.npz", "MFCC matrix and label of every clip, per split, and the label names")
AUDIO_SPLITS = Dataset("data/audio_splits.npz", "the raw clips of every split (end-to-end models, own front ends)")
SKLEARN_MODELS = Dataset("models/sklearn", "every trained scikit-learn model")
SKLEARN_MODEL = Dataset("models/sklearn/{model}", "one scikit-learn model: skops file, test reference, summary")
KERAS_MODELS = Dataset("models/keras", "every trained Keras model")
KERAS_MODEL = Dataset("models/keras/{model}", "one Keras model: architecture, weights, its front end's features, "
                      "test reference, summary")
KERAS_HISTORIES = Dataset("reports/plots/keras_history", "every Keras model's loss and accuracy per epoch")
KERAS_HISTORY = Dataset("reports/plots/keras_history/{model}.csv", "one Keras model's loss and accuracy per epoch",
                        "plots",
                        (("x", "epoch"), ("y", "val_accuracy"), ("title", "Keras validation accuracy per epoch"),
                         ("cache", False)))
VARIANTS = Dataset("models/variants", "every converted variant")
LEVEL_VARIANTS = Dataset("models/variants/{level}", "the variants of one level: a bundle folder each, index.json")
BENCH = Dataset("reports/bench", "every benchmark result")
TARGET_BENCH = Dataset("reports/bench/{target}", "the results on one target: <level>.json each",
                       options=(("cache", False),))
METRICS = Dataset("reports/metrics.json", "every variant's figures and the decisions per target (what compare reads)",
                  options=REPORT_OUT)
SUMMARY = Dataset("reports/summary", "DVC metrics: accuracy and size per variant, the pick per target", "metrics",
                  REPORT_OUT)  # compact for `dvc exp show`; the detail (METRICS) is what compare reads
MACHINE = Dataset("reports/machine.json", "the machine the run was made on: CPU and instruction-set flags (what "
                  "compare checks)", options=REPORT_OUT)
REPORT_MD = Dataset("reports/report.md", "the report, Markdown", options=REPORT_OUT)
REPORT_HTML = Dataset("reports/report.html", "the report, self-contained HTML", options=REPORT_OUT)
SIZE_ACCURACY_PLOT = Dataset("reports/plots/size_accuracy.csv", "size vs accuracy per variant (DVC plot)", "plots",
                             (("x", "size_kb"), ("y", "accuracy"), ("template", "scatter"),
                              ("title", "Size vs accuracy"), *REPORT_OUT))
LATENCY_PLOT = Dataset("reports/plots/latency.csv", "host p50 per variant (DVC plot)", "plots",
                       (("x", "variant"), ("y", "latency_p50_us"), ("template", "bar_horizontal"),
                        ("title", "Host p50 latency per variant (us)"), *REPORT_OUT))
CONFUSION_PLOTS = Dataset("reports/plots/confusion", "per variant: actual and predicted class of every test clip", "plots",
                          (("template", "confusion"), ("x", "actual"), ("y", "predicted"),
                           ("title", "Confusion matrix (host, test split)"), *REPORT_OUT))
QUANT_ERROR_PLOTS = Dataset("reports/plots/quant_error", "per calibrated variant: quantization error per layer", "plots",
                            (("template", "bar_horizontal"), ("x", "error"), ("y", "layer"),
                             ("title", "Quantization error per layer (TFLite rmse in steps, higher is worse; "
                                       "ONNX SQNR dB, lower is worse)"), *REPORT_OUT))
TARGET_COST_PLOT = Dataset("reports/plots/target_cost.csv", "instructions and estimated latency per emulated target",
                           "plots", (("x", "variant"), ("y", "estimated_device_latency_us"),
                                     ("template", "bar_horizontal"),
                                     ("title", "Estimated device latency per emulated target (us, an estimate from "
                                               "instruction counts)"), *REPORT_OUT))

# Each stage's temporary files (SavedModels, harness inputs) live here, not in the system's temporary
# folder: a killed stage's are removed when the same stage runs again (pipeline/__main__.py).
SCRATCH = Path(".cache/tmp")

INDEX = "index.json"  # inside a LEVEL_VARIANTS folder: variant id -> status, files


# The stages whose outputs are byte-identical on any x86-64 CPU with AVX2 and FMA (pipeline/pins.py), proven
# by tests/test_cross_cpu.py and checked against dvc.lock by scripts/check_reproducible.sh. From train_keras
# on, TensorFlow's and onnxruntime's own kernel dispatch (calibration included) is not pinned: machine-specific.
REPRODUCIBLE_STAGES = ("synthesize", "features", "train_sklearn")


def level_dir(level: str) -> Path:
    return LEVEL_VARIANTS.path(level=level)


def level_index(level: str) -> Path:
    return level_dir(level) / INDEX


def bench_path(target: str, level: str) -> Path:
    return TARGET_BENCH.path(target=target) / f"{level}.json"


def sklearn_model_dir(model: str) -> Path:
    return SKLEARN_MODEL.path(model=model)


def keras_model_dir(model: str) -> Path:
    return KERAS_MODEL.path(model=model)


# ---------------------------------------------------------------- inside a model folder (SKLEARN_MODEL, KERAS_MODEL)
# What its training stage writes there and the families, the benchmark and the MCU target read back.
SKLEARN_MODEL_FILE = "model.skops"  # the fitted scikit-learn estimator, skops
KERAS_ARCHITECTURE_FILE = "architecture.json"  # the Keras model's config
KERAS_WEIGHTS_FILE = "weights.npz"  # the Keras model's weights, one array each
MODEL_FEATURES_FILE = "features.npz"  # a Keras model's train and test MFCC matrices, from its own front end
REFERENCE_FILE = "reference.npz"  # the source model's test probabilities and predictions (what variants agree with)
MODEL_SUMMARY_FILE = "summary.json"  # name, type and validation and test accuracy
