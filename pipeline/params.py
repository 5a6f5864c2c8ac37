"""The typed schema of params.yaml: the only place that knows its keys.

Every stage calls `load_params()` before touching anything, so a typo or a bad
value stops the run with a message naming the key, the value and what is
allowed, before any output is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.export.levels import QUANTIZATION_LEVELS
from pipeline.io import read_yaml
from pipeline.export.formats import FORMATS
from pipeline.targets.qemu import CPUS as QEMU_CPUS

# The synthesizer's classes (pipeline.audio.synth.CLASSES); kept here so that
# validating params does not import the signal code.
SYNTH_CLASSES = ("speech", "rock", "jazz", "electronic", "classical")

PARAMS_FILE = Path("params.yaml")

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Split(Strict):
    val: Annotated[float, Field(gt=0, lt=0.5)] = 0.15
    test: Annotated[float, Field(gt=0, lt=0.5)] = 0.15


class Difficulty(Strict):
    overlap: Annotated[float, Field(ge=0, le=1)]
    snr_db: tuple[float, float]
    gain_db: tuple[float, float]

    @field_validator("snr_db", "gain_db")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] > v[1]:
            raise ValueError(f"range must be [low, high] with low <= high, got {list(v)}")
        return v


class Data(Strict):
    source: Literal["synthetic", "folder"] = "synthetic"
    # A path even when unused: dvc.yaml tracks it as a dependency of synthesize.
    folder: Annotated[str, Field(min_length=1)] = "data/own_audio"
    labels: tuple[str, ...] = SYNTH_CLASSES
    sample_rate: PositiveInt = 16000
    clip_seconds: PositiveFloat = 1.0
    clips_per_class: PositiveInt = 300
    split: Split = Split()
    difficulty: Difficulty

    @model_validator(mode="after")
    def _labels_fit_source(self) -> "Data":
        if len(set(self.labels)) != len(self.labels) or len(self.labels) < 2:
            raise ValueError(f"data.labels={list(self.labels)}: need at least two distinct labels")
        if self.source == "synthetic":
            unknown = [lab for lab in self.labels if lab not in SYNTH_CLASSES]
            if unknown:
                raise ValueError(f"data.labels: {unknown} cannot be synthesized; allowed: {list(SYNTH_CLASSES)}")
        return self


class Features(Strict):
    n_mfcc: PositiveInt = 20
    n_fft: PositiveInt = 512
    hop_length: PositiveInt = 320
    n_mels: PositiveInt = 40
    fmin: Annotated[float, Field(ge=0)] = 20.0
    fmax: PositiveFloat = 8000.0
    top_db: PositiveFloat = 80.0

    @model_validator(mode="after")
    def _mfcc_within_mels(self) -> "Features":
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"features.n_mfcc={self.n_mfcc} must be <= features.n_mels={self.n_mels} "
                             "(the MFCCs are the first n_mfcc DCT rows of the n_mels mel bands)")
        return self


class LogisticRegressionSpec(Strict):
    type: Literal["logistic_regression"]
    C: PositiveFloat = 1.0
    max_iter: PositiveInt = 2000


class RandomForestSpec(Strict):
    type: Literal["random_forest"]
    n_estimators: PositiveInt = 100
    max_depth: PositiveInt | None = 12


class MLPSpec(Strict):
    type: Literal["mlp"]
    hidden_layer_sizes: tuple[PositiveInt, ...] = (128, 64)
    alpha: Annotated[float, Field(ge=0)] = 1e-4
    max_iter: PositiveInt = 300


SklearnSpec = Annotated[LogisticRegressionSpec | RandomForestSpec | MLPSpec, Field(discriminator="type")]


class Keras(Strict):
    filters: PositiveInt = 64
    blocks: PositiveInt = 4
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.2
    epochs: PositiveInt = 30
    batch_size: PositiveInt = 32
    learning_rate: PositiveFloat = 1e-3


class QuantizationOptions(Strict):
    calibration_samples: PositiveInt = 200


class Benchmark(Strict):
    threads: PositiveInt = 1
    warmup: Annotated[int, Field(ge=0)] = 20
    runs: PositiveInt = 200
    load_repeats: PositiveInt = 3
    streaming_hop_ms: PositiveFloat = 20.0  # the report's streaming case: a 1 s window moved every hop


class Target(Strict):
    kind: Literal["host", "qemu"]
    cpu: str | None = None
    clock_ghz: PositiveFloat | None = None
    ipc: PositiveFloat | None = None
    runs: PositiveInt | None = None
    agreement_clips: PositiveInt = 25  # emulated: test clips whose top-1 is compared with the host's
    required: bool = False


ModelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Params(Strict):
    seed: Annotated[int, Field(ge=0)] = 42
    data: Data
    features: Features = Features()
    sklearn: dict[ModelName, SklearnSpec]
    keras: Keras = Keras()
    formats: tuple[str, ...] = tuple(FORMATS)
    quantization: dict[str, QuantizationOptions]
    benchmark: Benchmark = Benchmark()
    targets: dict[str, Target]

    @field_validator("quantization")
    @classmethod
    def _known_levels(cls, v: dict[str, QuantizationOptions]) -> dict[str, QuantizationOptions]:
        unknown = [k for k in v if k not in QUANTIZATION_LEVELS]
        if unknown:
            raise ValueError(f"unknown quantization level(s) {unknown}; allowed: {list(QUANTIZATION_LEVELS)}")
        if not v:
            raise ValueError(f"at least one quantization level is needed; allowed: {list(QUANTIZATION_LEVELS)}")
        return v

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in v if f not in FORMATS]
        if unknown or not v:
            raise ValueError(f"unknown format(s) {unknown}; allowed: {list(FORMATS)}")
        return v

    @field_validator("sklearn")
    @classmethod
    def _not_keras(cls, v: dict) -> dict:
        if "keras" in v or "keras_e2e" in v:
            raise ValueError("'keras' names the Keras model; choose another name for a scikit-learn model")
        return v

    @field_validator("targets")
    @classmethod
    def _targets(cls, v: dict[str, Target]) -> dict[str, Target]:
        if "host" not in v or v["host"].kind != "host":
            raise ValueError("targets must include 'host' with kind: host")
        for name, t in v.items():
            if t.kind == "qemu" and (t.cpu is None or t.clock_ghz is None or t.ipc is None):
                raise ValueError(f"target '{name}' (kind: qemu) needs cpu, clock_ghz and ipc")
            if t.kind == "qemu" and t.cpu not in QEMU_CPUS:
                raise ValueError(f"target '{name}': cpu {t.cpu!r} is not supported; allowed: {list(QEMU_CPUS)}")
        return v

    @model_validator(mode="after")
    def _nyquist(self) -> "Params":
        if self.features.fmax > self.data.sample_rate / 2:
            raise ValueError(f"features.fmax={self.features.fmax} is above the Nyquist frequency "
                             f"{self.data.sample_rate / 2} of data.sample_rate={self.data.sample_rate}")
        if self.features.fmin >= self.features.fmax:
            raise ValueError(f"features.fmin={self.features.fmin} must be below features.fmax={self.features.fmax}")
        return self


class ParamsError(ValueError):
    """params.yaml is missing, unreadable or invalid; the message says what to fix."""


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid parameters"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        value = e.get("input")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (a typo?)"
        elif e["type"] == "literal_error" and "expected" in e.get("ctx", {}):
            msg = f"must be one of {e['ctx']['expected']}"
        shown = "" if isinstance(value, dict) else f" = {value!r}"
        lines.append(f"  {key}{shown}: {msg}")
    return "\n".join(lines)


def parse_params(raw: object, path: Path = PARAMS_FILE) -> Params:
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_describe(err, path)) from None


def load_params(path: Path | str | None = None) -> Params:
    path = Path(path) if path is not None else PARAMS_FILE
    return parse_params(read_yaml(path, ParamsError, "parameters file not found"), path)
