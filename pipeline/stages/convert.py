"""Stage convert@<level>: trained models -> models/variants/<level>/ (artefact + sidecar per variant, index.json).

Every (model, format) at this level is either built (and loads in its runtime) or
written down as not_applicable with the reason: never silently dropped.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipeline import io as pio
from pipeline.export.common import NotApplicable, Source
from pipeline.export.formats import FORMATS
from pipeline.export.levels import QUANTIZATION_LEVELS
from pipeline.export.registry import convert
from pipeline.log import info
from pipeline.models import keras_models as km
from pipeline.models import sklearn_models as skm
from pipeline.params import Params
from pipeline.export.bundle import bundle_readme
from pipeline.stages.features import AUDIO_SPLITS, FEATURES, mfcc_config
from pipeline.stages.train_keras import KERAS_DIR
from pipeline.stages.train_sklearn import SKLEARN_DIR
from pipeline.variants import feature_input_model, variant_id

VARIANTS_DIR = Path("models/variants")
INDEX = "index.json"


def calibration_subset(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded, fixed subset of the training inputs: same params -> same calibration -> same bytes."""
    idx = np.sort(np.random.default_rng(seed).permutation(len(X))[: min(n, len(X))])
    return X[idx]


def source_dir(name: str) -> Path:
    """Where the unconverted model of a variant lives (an end-to-end model's is its feature-input one's)."""
    return KERAS_DIR if feature_input_model(name) == "keras" else SKLEARN_DIR / name


def source_files(name: str) -> dict[str, Path]:
    files = ("architecture.json", "weights.npz") if feature_input_model(name) == "keras" else ("model.skops",)
    return {f: source_dir(name) / f for f in files}


def sidecar(p: Params, vid: str, name: str, fmt: str, level: str, built, labels: list[str], file: str) -> dict:
    layout = {"keras": "MFCC matrix (n_mfcc, frames) as written by the features stage",
              "keras_e2e": f"raw mono float32 samples at {p.data.sample_rate} Hz, one {p.data.clip_seconds} s clip"
              }.get(name, "MFCC matrix (n_mfcc, frames) flattened row-major to n_mfcc*frames values")
    return {
        "variant": vid, "model": name, "format": fmt, "quantization": level,
        "quantization_description": QUANTIZATION_LEVELS[level].description,
        "file": file, "size_bytes": len(built.data), "sha256": pio.sha256_bytes(built.data),
        "input": {**built.input, "layout": layout}, "output": {**built.output, "layout": "class probabilities"},
        "labels": labels,
        "features": {**asdict(mfcc_config(p)), "clip_seconds": p.data.clip_seconds, "power": 2.0, "center": True,
                     "pad_mode": "constant", "window": "hann", "dct": "II ortho", "mel": "slaney (librosa)"},
        "source": {k: pio.sha256_file(v) for k, v in source_files(name).items()},
    }


def build_sources(p: Params, level: str, tmp: Path) -> list[Source]:
    d = pio.read_npz(FEATURES)
    opts = p.quantization[level]
    calib = calibration_subset(d["X_train"], opts.calibration_samples, p.seed)
    sources = []
    for name in p.sklearn:
        model = skm.loads((SKLEARN_DIR / name / "model.skops").read_bytes())
        sources.append(Source(name, "sklearn", skm.flatten(calib), model=model))
    km.configure_determinism(p.seed)
    keras_model = km.load((KERAS_DIR / "architecture.json").read_text(), pio.read_npz(KERAS_DIR / "weights.npz"))
    km.export_saved_model(keras_model, str(tmp / "saved_model"))
    sources.append(Source("keras", "keras", calib, model=keras_model, saved_model_dir=tmp / "saved_model"))
    # The same clips as `calib`, raw: the end-to-end model calibrates through its own float front end.
    audio = pio.read_npz(AUDIO_SPLITS)["train"]
    calib_audio = calibration_subset(audio, opts.calibration_samples, p.seed)
    sources.append(Source("keras_e2e", "keras_e2e", calib, model=keras_model, saved_model_dir=tmp / "saved_model",
                          calibration_audio=calib_audio, mfcc=mfcc_config(p), n_samples=audio.shape[1]))
    return sources


def run(p: Params, level: str) -> None:
    if level not in p.quantization:
        raise ValueError(f"quantization level '{level}' is not configured in params.yaml; "
                         f"configured: {list(p.quantization)}")
    labels = [str(x) for x in pio.read_npz(FEATURES)["labels"]]
    files: dict[str, bytes] = {}
    index: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for source in build_sources(p, level, Path(tmp)):
            for fmt in p.formats:
                vid = variant_id(source.name, fmt, level)
                try:
                    built = convert(source, fmt, level)
                except NotApplicable as na:
                    index[vid] = {"status": "not_applicable", "reason": na.reason}
                    info(f"convert@{level}: {vid}: not applicable: {na.reason}")
                    continue
                file = f"{vid}{FORMATS[fmt].suffix}"
                files[f"{vid}/{file}"] = built.data
                meta = sidecar(p, vid, source.name, fmt, level, built, labels, file)
                files[f"{vid}/{vid}.json"] = pio.to_json(meta).encode()
                files[f"{vid}/README.md"] = bundle_readme(meta).encode()
                index[vid] = {"status": "ok", "file": f"{vid}/{file}", "sidecar": f"{vid}/{vid}.json",
                              "size_bytes": len(built.data)}
                info(f"convert@{level}: {vid}: {len(built.data)} bytes")
    files[INDEX] = pio.to_json(index).encode()
    pio.replace_dir(VARIANTS_DIR / level, files)
