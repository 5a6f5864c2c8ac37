"""Stage convert@<level>: trained models -> models/variants/<level>/ (artefact + sidecar per variant, index.json).

Every (model, format) at this level is either built (and loads in its runtime) or
written down as not_applicable with the reason: never silently dropped.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.audio.mfcc import MfccConfig
from pipeline.errors import UsageError
from pipeline.bench.runtimes import RUNTIMES
from pipeline.export import quant_error, runtime_versions, uncertainty
from pipeline.export.accelerators import check as mobile_accelerators
from pipeline.export.bundle_readme import bundle_readme
from pipeline.export.common import ConversionFailed, NotApplicable
from pipeline.export.converters import convert
from pipeline.export.formats import FORMATS
from pipeline.export.levels import QUANTIZATION_LEVELS
from pipeline.log import info
from pipeline.models.families import FAMILIES, load_sources
from pipeline.params import Params
from pipeline.quiet import known_chatter_off, native_stderr_held
from pipeline.targets.app import consumer_files, readme_lines
from pipeline.variants import is_e2e, variant_id


def training_data(p: Params, test_clips: int) -> dict:
    """What the model was trained and tested on: an app developer reads it beside the accuracy."""
    d = p.data
    if d.source == "synthetic":
        return {"source": "synthetic", "generator": "pipeline/audio/synth", "seed": p.seed,
                "clips_per_class": d.clips_per_class, "difficulty": d.difficulty.model_dump(), "test_clips": test_clips}
    return {"source": "folder", "folder": d.folder, "manifest_sha256": pio.sha256_file(cat.MANIFEST.path()),
            "test_clips": test_clips}


def sidecar(p: Params, vid: str, source, fmt: str, level: str, built, labels: list[str], file: str,
            trained_on: dict) -> dict:
    name, family = source.name, FAMILIES[source.family]
    return {
        "variant": vid, "model": name, "family": family.name, "format": fmt, "quantization": level,
        "quantization_description": QUANTIZATION_LEVELS[level].description,
        "quantization_options": p.quantization[level].model_dump(),  # as params.yaml had them
        "file": file, "size_bytes": len(built.data), "sha256": pio.sha256_bytes(built.data),
        "input": {**built.input, "layout": family.input_layout(p)},
        "output": {**built.output, "layout": "class probabilities"},
        "labels": labels,
        "features": {**asdict(MfccConfig.from_params(p, name)), "clip_seconds": p.data.clip_seconds, "power": 2.0,
                     "center": True, "pad_mode": "constant", "window": "hann", "dct": "II ortho",
                     "mel": "slaney (librosa)"},
        "source": {k: pio.sha256_file(v) for k, v in family.source_paths(name).items()},
        "training_data": trained_on,
    }


def bundle_files(p: Params, vid: str, source, fmt: str, level: str, built, labels: list[str], trained_on: dict,
                 validation: tuple) -> tuple[dict, dict[str, bytes]]:
    """A built variant's bundle by path (artefact, sidecar, README, the app runtimes' consumers) and its sidecar.
    An end-to-end one is run on the validation clips for its uncertainty threshold: ConversionFailed if it fails."""
    file, runtime = f"{vid}{FORMATS[fmt].suffix}", FORMATS[fmt].runtime
    meta = {**sidecar(p, vid, source, fmt, level, built, labels, file, trained_on),
            "mobile_accelerators": mobile_accelerators(runtime, built.data),
            "runtime_requirement": runtime_versions.requirement(runtime, built.data)}
    if is_e2e(source.name):  # what classify and serve mark as uncertain
        try:
            with native_stderr_held():  # LiteRT's start-up line (shown if it fails)
                meta["uncertainty"] = uncertainty.measure(RUNTIMES[runtime].load, FORMATS[fmt].suffix, built.data,
                                                          built.output, built.input["shape"], *validation)
        except Exception as err:  # built and loaded, yet its runtime cannot run the validation clips
            raise ConversionFailed(f"{runtime} failed on the validation clips: {type(err).__name__}: {err}") from err
    files = {f"{vid}/{file}": built.data, f"{vid}/{vid}.json": pio.to_json(meta).encode(),
             f"{vid}/README.md": bundle_readme(meta, readme_lines(meta)).encode()}
    for name, consumer in consumer_files(fmt).items():  # what an app developer copies
        files[f"{vid}/{name}"] = consumer.read_bytes()
    return meta, files


def quant_error_entry(vid: str, built, files: dict[str, bytes]) -> dict:
    """The per-layer error file of a calibrated variant (in its bundle) and its worst layer, or why there is none."""
    if built.quant_error is not None:
        files[f"{vid}/quant_error.csv"] = quant_error.to_csv(built.quant_error)
        return {"quant_error": {"file": f"{vid}/quant_error.csv", "worst": quant_error.worst(built.quant_error)}}
    return {"quant_error": {"note": built.quant_error_note}} if built.quant_error_note else {}


def run(p: Params, level: str) -> None:
    if level not in p.quantization:
        raise UsageError(f"quantization level '{level}' is not configured in params.yaml; "
                         f"configured: {list(p.quantization)}")
    features = pio.read_npz(cat.FEATURES.path())
    labels = [str(x) for x in features["labels"]]
    trained_on = training_data(p, len(features["y_test"]))
    validation = pio.read_npz(cat.AUDIO_SPLITS.path())["val"], features["y_val"]  # the uncertainty thresholds'
    files: dict[str, bytes] = {}
    index: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp, known_chatter_off():
        with native_stderr_held():  # TensorFlow's start-up lines
            sources = load_sources(p, level, Path(tmp))
        for source in sources:
            for fmt in p.formats:
                vid = variant_id(source.name, fmt, level)
                try:
                    with native_stderr_held(expected=(NotApplicable,)):  # the converters' settings dumps
                        built = convert(source, fmt, level)
                    meta, bundle = bundle_files(p, vid, source, fmt, level, built, labels, trained_on, validation)
                except NotApplicable as na:
                    index[vid] = {"status": "not_applicable", "reason": na.reason}
                    continue
                except ConversionFailed as failed:  # recorded and reported; compare fails on it
                    index[vid] = {"status": "failed", "error": failed.error}
                    info(f"convert@{level}: {vid}: FAILED: {failed.error}")
                    continue
                files.update(bundle)
                index[vid] = {"status": "ok", "file": f"{vid}/{meta['file']}", "sidecar": f"{vid}/{vid}.json",
                              "size_bytes": len(built.data), **quant_error_entry(vid, built, files),
                              "mobile_accelerators": meta["mobile_accelerators"]}
                info(f"convert@{level}: {vid}: {len(built.data)} bytes")
    skipped = [vid for vid, e in index.items() if e["status"] == "not_applicable"]
    if skipped:  # one line: the reasons are in index.json and the report's not-applicable table
        info(f"convert@{level}: {len(skipped)} combinations not applicable (reasons: {cat.level_index(level)}, "
             "and the report)")
    files[cat.INDEX] = pio.to_json(index).encode()
    pio.replace_dir(cat.level_dir(level), files)
