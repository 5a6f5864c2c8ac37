"""C for a Cortex-M from a trained scikit-learn Pipeline, by kept code generators (emlearn, m2cgen):
the classifier's C from its generator, and around it the model's own front (the summary statistics
of pipeline/models/summary_stats.py, in mcu_c/summary.h) and its StandardScaler, so the firmware takes the
same (n_mfcc, frames) MFCC matrix as every other artefact.

One entry per estimator type (pipeline/models/sklearn_models.py ESTIMATOR_TYPES): the generator,
and how the generated classifier is called. Heavy imports stay inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.models.summary_stats import STATS

# m2cgen unrolls every support vector of an SVM into one statement of `score()` (about 45 bytes of C per
# vector and feature). GCC's time on that one function grows faster than the code: the default SVC's 62,600
# terms (2.8 MB of C) did not compile within 10 minutes at -O2; with each statement moved into a function of
# its own (split_statements) they compile in about 50 s and make 3.6 MB of code on a Cortex-M4 (double
# precision in software, about 58 bytes per term), 1.6 MB on a Cortex-M7 (docs/measurements.md). Beyond
# this many terms the code would not fit the boards' 4 MB code memory even on the M7: it is not generated.
MAX_UNROLLED_TERMS = 150_000


class CodegenError(RuntimeError):
    """The generator cannot give C for this model here (the message says why)."""


@dataclass(frozen=True)
class Generated:
    code: str        # the classifier's C; defines `int32_t classify(const float *features)`
    generator: str   # "emlearn 0.23.2"
    macs: int        # multiply-accumulates of one inference of the classifier (0: not a MAC workload)
    include_dirs: tuple[str, ...] = ()


def _c_floats(values) -> str:
    return ", ".join(f"{float(v):.9e}f" for v in np.asarray(values, dtype=np.float32).ravel())


def _emlearn_mlp(clf, n_features: int) -> Generated:
    import emlearn
    from emlearn.net import c_generate_net_loadable

    # the generator itself: emlearn.convert() would also build a host test binary in ./tmp
    activations = [clf.activation] * (len(clf.coefs_) - 1) + [clf.out_activation_]
    code = c_generate_net_loadable(activations, clf.coefs_, clf.intercepts_, prefix="clf")
    sizes = [n_features, *clf.hidden_layer_sizes, clf.coefs_[-1].shape[1]]
    call = f"int32_t classify(const float *features) {{ return clf_predict(features, {n_features}); }}\n"
    return Generated(code + "\n" + call, f"emlearn {version('emlearn')}",
                     sum(a * b for a, b in zip(sizes, sizes[1:])), (emlearn.includedir,))


def _emlearn_forest(clf, n_features: int) -> Generated:
    import emlearn

    # float features (loadable trees are int16-only); leaf_bits=8: soft voting over each leaf's class
    # proportions, as scikit-learn averages probabilities (0, majority voting, disagreed on 3 of 225 clips)
    code = emlearn.convert(clf, method="inline", dtype="float", leaf_bits=8).save(name="clf")
    call = f"int32_t classify(const float *features) {{ return clf_predict(features, {n_features}); }}\n"
    return Generated(code + "\n" + call, f"emlearn {version('emlearn')}", 0, (emlearn.includedir,))


def _m2cgen_scores(clf, n_features: int, n_scores: int, decide: str, macs: int, helpers: str = "") -> Generated:
    """m2cgen's `void score(double *input, double *output)`, then `decide` turns the scores into a class
    (with `helpers`: C it calls, defined before it)."""
    import m2cgen

    if macs > MAX_UNROLLED_TERMS:
        raise CodegenError(f"m2cgen {version('m2cgen')} unrolls this {type(clf).__name__} into {macs:,} terms of C; "
                           f"above {MAX_UNROLLED_TERMS:,} the code exceeds the boards' 4 MB code memory (about 25 "
                           f"bytes per term on a Cortex-M7, 58 on a Cortex-M4); no maintained generator that loops "
                           f"over support vectors is installable here")
    code = split_statements(m2cgen.export_to_c(clf))
    call = (f"int32_t classify(const float *features) {{\n"
            f"    double in[{n_features}], s[{n_scores}];\n"
            f"    for (int i = 0; i < {n_features}; i++) in[i] = features[i];\n"
            f"    score(in, s);\n{decide}}}\n")
    return Generated(code + "\n" + helpers + call, f"m2cgen {version('m2cgen')}", macs)


_STATEMENT = re.compile(r"^    (var\d+) = (.*);$")


def split_statements(code: str) -> str:
    """m2cgen's `score()` with each `varN = <expression>;` statement moved into a function of its own, the
    expressions and their order unchanged: the same arithmetic, in pieces GCC compiles in linear time."""
    helpers, body = [], []
    for line in code.splitlines():
        if line.startswith("    double var") and line.rstrip().endswith(";") and "=" not in line:
            continue  # the declaration; the call below declares it
        m = _STATEMENT.match(line)
        if m:
            helpers.append(f"static double {m[1]}_of(const double *input) {{ return {m[2]}; }}")
            body.append(f"    double {m[1]} = {m[1]}_of(input);")
        else:
            body.append(line)
    start = next(i for i, line in enumerate(body) if line.startswith("void score("))
    return "\n".join(body[:start] + helpers + body[start:]) + "\n"


ARGMAX = ("    int32_t best = 0;\n    for (int32_t k = 1; k < {n}; k++) if (s[k] > s[best]) best = k;\n"
          "    return best;\n")


def _m2cgen_linear(clf, n_features: int) -> Generated:
    n = len(clf.classes_)
    return _m2cgen_scores(clf, n_features, n, ARGMAX.format(n=n), n * n_features)


# libsvm's probability estimate (Platt scaling of each pairwise decision, then Wu, Lin and Weng's pairwise
# coupling, as sklearn's predict_proba computes it in double precision) and its argmax: the rule of the
# SVC's ONNX artefacts and of its reported accuracy. predict()'s one-vs-one vote differs on ~2% of clips.
PLATT_ARGMAX = """#include <math.h>
static const double prob_a[{pairs}] = {{{a}}};
static const double prob_b[{pairs}] = {{{b}}};
static int32_t platt_argmax(const double *dec) {{
    double r[{k}][{k}], Q[{k}][{k}], Qp[{k}], p[{k}];
    int t, j, q = 0;
    for (t = 0; t < {k}; t++) for (j = t + 1; j < {k}; j++, q++) {{
        double x = dec[q] * prob_a[q] + prob_b[q];
        double v = x >= 0 ? exp(-x) / (1.0 + exp(-x)) : 1.0 / (1.0 + exp(x));
        v = v < 1e-7 ? 1e-7 : (v > 1 - 1e-7 ? 1 - 1e-7 : v);
        r[t][j] = v; r[j][t] = 1 - v;
    }}
    for (t = 0; t < {k}; t++) {{
        p[t] = 1.0 / {k}; Q[t][t] = 0;
        for (j = 0; j < t; j++) {{ Q[t][t] += r[j][t] * r[j][t]; Q[t][j] = Q[j][t]; }}
        for (j = t + 1; j < {k}; j++) {{ Q[t][t] += r[j][t] * r[j][t]; Q[t][j] = -r[j][t] * r[t][j]; }}
    }}
    for (int iter = 0; iter < {max_iter}; iter++) {{
        double pQp = 0, max_error = 0;
        for (t = 0; t < {k}; t++) {{
            Qp[t] = 0;
            for (j = 0; j < {k}; j++) Qp[t] += Q[t][j] * p[j];
            pQp += p[t] * Qp[t];
        }}
        for (t = 0; t < {k}; t++) if (fabs(Qp[t] - pQp) > max_error) max_error = fabs(Qp[t] - pQp);
        if (max_error < 0.005 / {k}) break;
        for (t = 0; t < {k}; t++) {{
            double diff = (-Qp[t] + pQp) / Q[t][t];
            p[t] += diff;
            pQp = (pQp + diff * (diff * Q[t][t] + 2 * Qp[t])) / (1 + diff) / (1 + diff);
            for (j = 0; j < {k}; j++) {{ Qp[j] = (Qp[j] + diff * Q[t][j]) / (1 + diff); p[j] /= (1 + diff); }}
        }}
    }}
    int32_t best = 0;
    for (t = 1; t < {k}; t++) if (p[t] > p[best]) best = t;
    return best;
}}
"""


def _m2cgen_svc(clf, n_features: int) -> Generated:
    """m2cgen's pairwise decisions (libsvm's order and sign), then the class of highest probability."""
    import warnings

    n = len(clf.classes_)
    pairs = n * (n - 1) // 2
    with warnings.catch_warnings():  # sklearn 1.9 deprecates probability=True; its attributes still hold
        warnings.simplefilter("ignore", FutureWarning)
        a, b = np.asarray(clf.probA_, np.float64), np.asarray(clf.probB_, np.float64)
    helpers = PLATT_ARGMAX.format(pairs=pairs, k=n, max_iter=max(100, n),
                                  a=", ".join(repr(float(x)) for x in a), b=", ".join(repr(float(x)) for x in b))
    return _m2cgen_scores(clf, n_features, pairs, "    return platt_argmax(s);\n",
                          int(clf.n_support_.sum()) * n_features, helpers)


# estimator type (ESTIMATOR_TYPES) -> its C generator
C_GENERATORS: dict[str, Callable[[object, int], Generated]] = {
    "logistic_regression": _m2cgen_linear,
    "mlp": _emlearn_mlp,
    "random_forest": _emlearn_forest,
    "svc": _m2cgen_svc,
}


def n_features(n_mfcc: int) -> int:
    return len(STATS) * n_mfcc


def wrap(gen: Generated, mean, scale, n_mfcc: int, frames: int) -> str:
    """One C file: `int model_predict(const float *mfcc)`: the front, the scaler, the generated classifier."""
    n = n_features(n_mfcc)
    return "\n".join([
        "#include <stdint.h>", '#include "summary.h"', gen.code,
        f"static const float scaler_mean[{n}] = {{{_c_floats(mean)}}};",
        f"static const float scaler_scale[{n}] = {{{_c_floats(scale)}}};",
        "int model_predict(const float *mfcc) {",
        f"    float f[{n}];",
        f"    summary_stats(mfcc, {n_mfcc}, {frames}, f);",
        f"    for (int i = 0; i < {n}; i++) f[i] = (f[i] - scaler_mean[i]) / scaler_scale[i];",
        "    return classify(f);", "}", ""])


def firmware_source(model, estimator_type: str, n_mfcc: int, frames: int) -> tuple[str, Generated]:
    """The whole scikit-learn Pipeline as one C file, and what generated its classifier."""
    scaler, clf = model.named_steps["scaler"], model.named_steps["clf"]
    gen = C_GENERATORS[estimator_type](clf, n_features(n_mfcc))
    return wrap(gen, scaler.mean_, scaler.scale_, n_mfcc, frames), gen


def cached_firmware_source(model_bytes: bytes, model, estimator_type: str, n_mfcc: int,
                           frames: int) -> tuple[str, Generated]:
    """firmware_source(), kept by content under .cache/mcu: the same model file, shape, generator versions and
    generating code give the same C, so every core after the first reuses it (m2cgen takes ~30 s on the SVC).
    An entry that does not hash as written is generated again."""
    from pipeline import io as pio
    from pipeline.models import summary_stats as summary
    from pipeline.bench.child_env import workspace_root

    said = f"{estimator_type} {n_mfcc} {frames} emlearn {version('emlearn')} m2cgen {version('m2cgen')}"
    key = hashlib.sha256(b"\0".join([model_bytes, said.encode(), Path(__file__).read_bytes(),
                                      Path(summary.__file__).read_bytes()])).hexdigest()
    path = workspace_root() / ".cache" / "mcu" / f"{key}.json"
    try:
        kept = json.loads(path.read_text())
        if hashlib.sha256(kept["source"].encode()).hexdigest() == kept["source_sha256"]:
            return kept["source"], Generated(kept["code"], kept["generator"], kept["macs"], tuple(kept["include_dirs"]))
    except (OSError, ValueError, KeyError):
        pass  # absent or damaged: generate
    source, gen = firmware_source(model, estimator_type, n_mfcc, frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    pio.atomic_write_text(path, json.dumps({"source": source, "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
                                            "code": gen.code, "generator": gen.generator, "macs": gen.macs,
                                            "include_dirs": list(gen.include_dirs)}))
    return source, gen
