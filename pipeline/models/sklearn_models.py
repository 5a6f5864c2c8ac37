"""scikit-learn classifiers over summary statistics of the MFCC matrix: build and fit, nothing about files.

Each model is a Pipeline with its StandardScaler inside, and its artefact computes the statistics
in its own graph (pipeline/models/summary_stats.py), so it takes the MFCC matrix like the Keras model and
nothing is left behind in Python.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Annotated, Callable, Literal

import numpy as np
from pydantic import Field

from pipeline.io import zip_bytes
from pipeline.models.summary_stats import summary_stats
from pipeline.schema import PositiveFloat, PositiveInt, Strict

# skops refuses to load any type it does not trust by default and that is not named here: the
# explicit allow-list for our own files, shared by every estimator type (each adds its own below).
COMMON_TRUSTED_TYPES = (
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "numpy.random._mt19937.MT19937",
    "numpy.random.mtrand.RandomState",
    "builtins.slice",
    "numpy.dtype",
    "numpy.ndarray",
)


class LogisticRegressionSpec(Strict):
    type: Literal["logistic_regression"]
    C: PositiveFloat
    max_iter: PositiveInt


class RandomForestSpec(Strict):
    type: Literal["random_forest"]
    n_estimators: PositiveInt
    max_depth: PositiveInt | None  # null: grow until the leaves are pure


class SVCSpec(Strict):
    type: Literal["svc"]
    C: PositiveFloat
    gamma: Literal["scale", "auto"] | PositiveFloat  # RBF kernel width: scikit-learn's names or a number


class MLPSpec(Strict):
    type: Literal["mlp"]
    hidden_layer_sizes: tuple[PositiveInt, ...]
    alpha: Annotated[float, Field(ge=0)]
    max_iter: PositiveInt


def _logistic_regression(s: LogisticRegressionSpec, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=s.C, max_iter=s.max_iter, random_state=seed)


def _random_forest(s: RandomForestSpec, seed: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=s.n_estimators, max_depth=s.max_depth, random_state=seed, n_jobs=1)


def _mlp(s: MLPSpec, seed: int):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=tuple(s.hidden_layer_sizes), alpha=s.alpha, max_iter=s.max_iter,
                         random_state=seed, early_stopping=True)


def _svc(s: SVCSpec, seed: int):
    from sklearn.svm import SVC

    return SVC(kernel="rbf", C=s.C, gamma=s.gamma, probability=True, random_state=seed)


@dataclass(frozen=True)
class EstimatorType:
    """One scikit-learn model type: its params schema (`sklearn.<name>: {type: <name>, ...}`), how to
    build the estimator from it, and the types its skops file holds beyond the common ones."""

    name: str
    spec: type[Strict]
    build: Callable[[Strict, int], object]  # (spec, seed) -> unfitted estimator
    trusted_types: tuple[str, ...]


ESTIMATOR_TYPES: dict[str, EstimatorType] = {t.name: t for t in (
    EstimatorType("logistic_regression", LogisticRegressionSpec, _logistic_regression,
                  ("sklearn.linear_model._logistic.LogisticRegression",)),
    EstimatorType("random_forest", RandomForestSpec, _random_forest,
                  ("sklearn.ensemble._forest.RandomForestClassifier", "sklearn.tree._classes.DecisionTreeClassifier",
                   "sklearn.tree._tree.Tree")),
    EstimatorType("mlp", MLPSpec, _mlp,
                  ("sklearn.neural_network._multilayer_perceptron.MLPClassifier",
                   "sklearn.neural_network._stochastic_optimizers.AdamOptimizer")),
    EstimatorType("svc", SVCSpec, _svc, ("sklearn.svm._classes.SVC",)),
)}

def estimator_type_of(estimator) -> str:
    """The ESTIMATOR_TYPES name of a fitted estimator (by its class, the first of its trusted types)."""
    cls = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    for name, t in ESTIMATOR_TYPES.items():
        if t.trusted_types[0] == cls:
            return name
    raise KeyError(f"{cls} is not one of the estimator types {list(ESTIMATOR_TYPES)}")


TRUSTED_TYPES = [*COMMON_TRUSTED_TYPES, *(t for e in ESTIMATOR_TYPES.values() for t in e.trusted_types)]


def features(X: np.ndarray) -> np.ndarray:
    """(n, n_mfcc, frames) MFCC matrices -> what the estimators see: their summary statistics."""
    return summary_stats(X)


def build_classifier(spec, seed: int):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scaler", StandardScaler()), ("clf", ESTIMATOR_TYPES[spec.type].build(spec, seed))])


def fit_classifier(spec, seed: int, X: np.ndarray, y: np.ndarray):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    model = build_classifier(spec, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported via val accuracy instead
        model.fit(features(X), y)
    return model


_ID = re.compile(r'("__id__": |"file": ")(\d+)')


def _renumber_ids(data: bytes) -> bytes:
    """skops names objects and array files by id(): renumber them in order of appearance,
    so that the same model gives the same bytes in every process."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        schema = zf.read("schema.json").decode()
        members = {n: zf.read(n) for n in zf.namelist() if n != "schema.json"}
    mapping: dict[str, str] = {}
    for _, num in _ID.findall(schema):
        mapping.setdefault(num, str(len(mapping) + 1))
    schema = _ID.sub(lambda m: m.group(1) + mapping[m.group(2)], schema)
    renamed = {f"{mapping[n.split('.')[0]]}.npy": b for n, b in members.items()}
    return zip_bytes({"schema.json": schema.encode(), **renamed})


def dumps(model) -> bytes:
    import skops.io as sio

    data = sio.dumps(model)
    untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in TRUSTED_TYPES]
    if untrusted:
        raise TypeError(f"model holds types outside TRUSTED_TYPES: {untrusted}; review and add them")
    return _renumber_ids(data)


def loads(data: bytes):
    import skops.io as sio

    return sio.loads(data, trusted=TRUSTED_TYPES)
