"""The app kind's params: `targets.app.<name>` (a runtime an app bundles, running each bundle with no Python
between the WAV and the label: what the measurement uses). No `devices:` entry: its figures are measured here.

The runtimes are one registry: each declares the artefact formats it runs, its consumer (the program an app
developer copies, pipeline/targets/app_js or app_c) and the npm package it comes from (scripts/provision_apps.sh).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import field_validator

from pipeline.export import runtime_versions
from pipeline.schema import PositiveInt, Strict, one_of

HERE = Path(__file__).parent


@dataclass(frozen=True)
class AppRuntime:
    name: str
    formats: tuple[str, ...]  # keys of pipeline.export.formats.FORMATS it runs; others are not_applicable
    package: str              # the npm package it comes from (scripts/provision_apps.sh installs it)
    consumer: Path            # its reference consumer (copied into every bundle it runs, with `helpers`)
    language: str             # what the consumer is written in and runs in (the report says)
    usage: str                # the bundle README's command: {args} the consumer's arguments for that bundle
    helpers: tuple[Path, ...] = ()  # files the consumer needs beside it
    browser: bool = False     # it runs in a page of headless Chromium (Debian's package: make setup)
    driver: Path | None = None  # the measurement runs many bundles' consumers in one process of this (not bundled)

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.consumer, *self.helpers)


JS = HERE / "app_js"
APP_RUNTIMES: dict[str, AppRuntime] = {r.name: r for r in (
    AppRuntime("onnxruntime-node", ("onnx",), "onnxruntime-node", JS / "consume_onnx.js", "JavaScript (Node.js)",
               "npm install onnxruntime-node && node consume_onnx.js {args} clip.wav",
               helpers=(JS / "onnx_consumer.js",)),
    AppRuntime("onnxruntime-web", ("onnx",), "onnxruntime-web", JS / "consume_onnx_web.js",
               "JavaScript in a page of headless Chromium (WebAssembly)",
               "npm install onnxruntime-web playwright-core && node consume_onnx_web.js {args} clip.wav "
               "(a web app loads onnx_consumer.js and ort.wasm.min.js in its page and calls OnnxConsumer.consume)",
               helpers=(JS / "onnx_consumer.js",), browser=True, driver=JS / "run_bundles_web.js"),
    # TFLite's C API, as dart:ffi (tflite_flutter) and native apps bind it, with the XNNPACK delegate added
    AppRuntime("tflite-c", ("tflite", "tflm"), "tfjs-tflite-node", HERE / "app_c" / "tflite_consumer.c", "C",
               "cc -O2 tflite_consumer.c -I$TFLITE/include -L$TFLITE/lib -ltensorflowlite_c -lm -o tflite_consumer "
               "&& ./tflite_consumer {args} clip.wav"),
)}


def runtimes_for(fmt: str) -> list[AppRuntime]:
    return [r for r in APP_RUNTIMES.values() if fmt in r.formats]


def consumer_files(fmt: str) -> dict[str, Path]:
    """The consumers a bundle of this format carries (what an app developer copies), by file name."""
    return {f.name: f for r in runtimes_for(fmt) for f in r.files}


def consumer_args(meta: dict, model: str, warmup: int = 3, threads: int = 1) -> list[str]:
    """The consumers' arguments for one bundle, from its sidecar, up to the input files."""
    def quant(t: dict) -> list[str]:
        return [repr(t["scale"] or 0.0), str(t["zero_point"] or 0)]
    return [model, ",".join(map(str, meta["input"]["shape"])), str(meta["features"]["sample_rate"]),
            meta["output"]["name"], *quant(meta["input"]),
            *quant(meta["output"]), str(warmup), str(threads)]


class Target(Strict):
    runtime: str
    clips: PositiveInt | None  # test clips each variant runs (null: the whole test split)
    required: bool             # true: a runtime not provisioned fails the stage; false: the target is skipped

    @field_validator("runtime")
    @classmethod
    def _known(cls, v: str) -> str:
        return one_of("runtime", v, APP_RUNTIMES, "pipeline/targets/app.py")


Device = None  # measured on this machine: no nominal figures


def readme_lines(meta: dict) -> list[str]:
    """The bundle README's section: how each runtime an app bundles runs the file, with the consumer beside it."""
    found = runtimes_for(meta["format"])
    versions = runtime_versions.readme_lines(meta["runtime_requirement"], [r.name for r in found])
    if not found:
        return versions
    args = " ".join(consumer_args(meta, meta["file"]))
    lines = ["## Outside Python", "",
             "The consumers beside this file are the ones this pipeline tests: they decode a 16-bit PCM mono WAV "
             "(or read float32 MFCCs), quantize and dequantize as above, and print the load time, then per file "
             "the call's latency and the probabilities:", ""]
    return [*lines, *(f"- {r.name} ({r.language}): `{r.usage.format(args=args)}`" for r in found), "", *versions]
