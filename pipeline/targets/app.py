"""The app kind's params: `targets.app.<name>` (a runtime an app bundles, running each bundle with no Python
between the WAV and the label: what the measurement uses). No `devices:` entry: its figures are measured here.

The runtimes are one registry: each declares the artefact formats it runs, its consumer (the program an app
developer copies, pipeline/targets/app_js or app_c) and the npm package it comes from (scripts/provision_apps.sh).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import field_validator

from pipeline.schema import PositiveInt, Strict, one_of

HERE = Path(__file__).parent


@dataclass(frozen=True)
class AppRuntime:
    name: str
    formats: tuple[str, ...]  # keys of pipeline.export.formats.FORMATS it runs; others are not_applicable
    package: str              # the npm package it comes from (scripts/provision_apps.sh installs it)
    consumer: Path            # its reference consumer
    language: str             # what the consumer is written in and runs in (the report says)
    browser: bool = False     # it runs in a page of headless Chromium (Debian's package: make setup)


APP_RUNTIMES: dict[str, AppRuntime] = {r.name: r for r in (
    AppRuntime("onnxruntime-node", ("onnx",), "onnxruntime-node", HERE / "app_js" / "consume_onnx.js",
               "JavaScript (Node.js)"),
    AppRuntime("onnxruntime-web", ("onnx",), "onnxruntime-web", HERE / "app_js" / "consume_onnx_web.js",
               "JavaScript in a page of headless Chromium (WebAssembly)", browser=True),
    # TFLite's C API, as dart:ffi (tflite_flutter) and native apps bind it, with the XNNPACK delegate added
    AppRuntime("tflite-c", ("tflite", "tflm"), "tfjs-tflite-node", HERE / "app_c" / "tflite_consumer.c", "C"),
)}


class Target(Strict):
    runtime: str
    clips: PositiveInt | None  # test clips each variant runs (null: the whole test split)
    required: bool             # true: a runtime not provisioned fails the stage; false: the target is skipped

    @field_validator("runtime")
    @classmethod
    def _known(cls, v: str) -> str:
        return one_of("runtime", v, APP_RUNTIMES, "pipeline/targets/app.py")


Device = None  # measured on this machine: no nominal figures
