"""scikit-learn classifiers over the flattened MFCC matrix: build and fit, nothing about files.

Each model is a Pipeline with its StandardScaler inside, so the exported graph
carries its own normalisation and nothing is left behind in Python.
"""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np

from pipeline.io import zip_bytes

# skops refuses to load any type not named here: the explicit allow-list for our own files.
TRUSTED_TYPES = [
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "numpy.random._mt19937.MT19937",
    "numpy.random.mtrand.RandomState",
    "builtins.slice",
    "numpy.dtype",
    "numpy.ndarray",
]


def flatten(X: np.ndarray) -> np.ndarray:
    """(n, n_mfcc, frames) -> (n, n_mfcc * frames), row-major: the sklearn models' input layout."""
    return X.reshape(len(X), -1).astype(np.float32)


def build_classifier(spec, seed: int):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    builders = {
        "logistic_regression": lambda s: LogisticRegression(C=s.C, max_iter=s.max_iter, random_state=seed),
        "random_forest": lambda s: RandomForestClassifier(n_estimators=s.n_estimators, max_depth=s.max_depth,
                                                          random_state=seed, n_jobs=1),
        "mlp": lambda s: MLPClassifier(hidden_layer_sizes=tuple(s.hidden_layer_sizes), alpha=s.alpha,
                                       max_iter=s.max_iter, random_state=seed, early_stopping=True),
    }
    return Pipeline([("scaler", StandardScaler()), ("clf", builders[spec.type](spec))])


def fit_classifier(spec, seed: int, X: np.ndarray, y: np.ndarray):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    model = build_classifier(spec, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported via val accuracy instead
        model.fit(flatten(X), y)
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
