"""The typed schema of params.yaml: it validates and types the values, and holds none of its own.

Every key is required: the values live in params.yaml only, so this module is not an input of any
stage (editing a message here re-runs nothing; tests/test_params.py checks that it holds no values).
Families carry their own part of the schema beside their code: quantization levels
(export/levels.py), estimator types (models/sklearn_models.py), Keras architectures (models/keras_models.py),
target kinds (targets/kinds.py and each kind's schema module).

Every stage calls `load_params()` before touching anything, so a typo or a bad value stops the run
with a message naming the key, the value and what is allowed, before any output is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import (Field, SerializeAsAny, ValidationError, ValidationInfo, create_model, field_validator,
                      model_validator)

from pipeline.audio.mfcc import empty_mel_bands
from pipeline.errors import UsageError
from pipeline.export.formats import FORMATS
from pipeline.export.levels import QUANTIZATION_LEVELS
from pipeline.io import read_yaml
from pipeline.models.keras_models import ARCHITECTURES
from pipeline.models.sklearn_models import ESTIMATOR_TYPES
from pipeline.report.decision import ShipConstraints
from pipeline.schema import NonNegativeFloat, PositiveFloat, PositiveInt, Strict
from pipeline.targets.kinds import TARGET_KINDS, TargetKind
from pipeline.variants import E2E_SUFFIX, feature_input_model

# The synthesizer's classes (pipeline.audio.synth.CLASSES); kept here so that
# validating params does not import the signal code (tests/test_params.py checks they agree).
SYNTH_CLASSES = ("speech", "rock", "jazz", "electronic", "classical")

PARAMS_FILE = Path("params.yaml")


class Split(Strict):
    val: Annotated[float, Field(gt=0, lt=0.5)]
    test: Annotated[float, Field(gt=0, lt=0.5)]


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
    source: Literal["synthetic", "folder"]
    # A path even when unused: dvc.yaml tracks it as a dependency of synthesize.
    folder: Annotated[str, Field(min_length=1)]
    labels: tuple[str, ...]
    sample_rate: PositiveInt
    clip_seconds: PositiveFloat
    clips_per_class: PositiveInt
    split: Split
    difficulty: Difficulty

    @model_validator(mode="after")
    def _labels_fit_source(self) -> "Data":
        if len(self.labels) < 2:
            raise ValueError(f"data.labels={list(self.labels)}: need at least two labels")
        if self.source == "synthetic":
            unknown = [lab for lab in self.labels if lab not in SYNTH_CLASSES]
            if unknown:
                raise ValueError(f"data.labels: {unknown} cannot be synthesized; allowed: {list(SYNTH_CLASSES)}")
        return self


class Features(Strict):
    n_mfcc: PositiveInt
    n_fft: PositiveInt
    hop_length: PositiveInt
    n_mels: PositiveInt
    fmin: NonNegativeFloat
    fmax: PositiveFloat
    top_db: PositiveFloat

    @model_validator(mode="after")
    def _within_mels(self) -> "Features":
        _mfcc_within_mels(self, "features")
        return self


def _mfcc_within_mels(f: Features, key: str) -> None:
    if f.n_mfcc > f.n_mels:
        raise ValueError(f"{key}.n_mfcc={f.n_mfcc} must be <= {key}.n_mels={f.n_mels} "
                         "(the MFCCs are the first n_mfcc DCT rows of the n_mels mel bands)")


# Each estimator type carries its own schema beside its code; `type` picks it.
SklearnSpec = Annotated[Union[tuple(t.spec for t in ESTIMATOR_TYPES.values())], Field(discriminator="type")]
TargetName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]  # a stage name and a folder name
# `targets:` holds one group per target kind (pipeline/targets/kinds.py), each target checked by its kind's schema.
Targets = create_model("Targets", __base__=Strict, **{
    k.name: (dict[TargetName, k.schema.Target], ...) for k in TARGET_KINDS.values()})


# Each Keras architecture carries its own schema beside its code (training and front end shared); `type` picks it.
KerasSpec = Annotated[Union[tuple(a.spec for a in ARCHITECTURES.values())], Field(discriminator="type")]


class Benchmark(Strict):
    threads: PositiveInt
    warmup: Annotated[int, Field(ge=0)]
    runs: PositiveInt
    load_repeats: PositiveInt
    streaming_hop_ms: PositiveFloat  # the report's streaming case: a 1 s window moved every hop


TAGGED = {"sklearn": ESTIMATOR_TYPES, "keras": ARCHITECTURES}  # mappings of tagged unions (`type:` picks the schema)
def _check_front(f: Features, data: Data, key: str = "features") -> None:
    """Ranges that hold together, an STFT whose frames fit the clip, overlap, and give every mel band at least
    one FFT bin; `key` names where the values came from in messages."""
    if f.fmax > data.sample_rate / 2:
        raise ValueError(f"{key}.fmax={f.fmax} is above the Nyquist frequency {data.sample_rate / 2} of "
                         f"data.sample_rate={data.sample_rate}")
    if f.fmin >= f.fmax:
        raise ValueError(f"{key}.fmin={f.fmin} must be below {key}.fmax={f.fmax}")
    n_samples = round(data.sample_rate * data.clip_seconds)
    if f.n_fft > n_samples:
        raise ValueError(f"{key}.n_fft={f.n_fft} is longer than a clip ({n_samples} samples: data.sample_rate x "
                         "data.clip_seconds)")
    empty = empty_mel_bands(data.sample_rate, f.n_fft, f.n_mels, f.fmin, f.fmax)
    if empty:
        enough = next((n for n in (2 ** k for k in range(4, 16)) if n <= n_samples
                       and not empty_mel_bands(data.sample_rate, n, f.n_mels, f.fmin, f.fmax)), None)
        fix = f"use {key}.n_fft >= {enough}, or lower {key}.n_mels" if enough else f"lower {key}.n_mels"
        raise ValueError(f"{key}.n_fft={f.n_fft} gives {f.n_fft // 2 + 1} FFT bins: {empty} of the "
                         f"{key}.n_mels={f.n_mels} mel bands between fmin={f.fmin} and fmax={f.fmax} Hz get none "
                         f"(their features would be constant); {fix}")
    if f.hop_length > f.n_fft:
        raise ValueError(f"{key}.hop_length={f.hop_length} is above {key}.n_fft={f.n_fft}: the frames would "
                         "skip samples; use hop_length <= n_fft")


ModelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


def _unique(key: str, values) -> None:
    repeated = sorted({v for v in values if list(values).count(v) > 1})
    if repeated:
        raise ValueError(f"{key} lists {repeated} more than once; give each entry once")


class Params(Strict):
    seed: Annotated[int, Field(ge=0)]
    data: Data
    features: Features
    sklearn: dict[ModelName, SklearnSpec]
    keras: dict[ModelName, KerasSpec]  # one entry per Keras model; unique across sklearn and keras
    formats: tuple[str, ...]
    quantization: dict[str, SerializeAsAny[Strict]]  # each level's own options class
    benchmark: Benchmark
    targets: Targets
    devices: dict[str, SerializeAsAny[Strict]]  # per target: its kind's nominal figures (only the report reads them)
    ship: dict[str, ShipConstraints]  # per target: what to ship (pipeline/report/decision.py)

    def target_kinds(self) -> dict[str, TargetKind]:
        """Every target's kind, in the registry's order (the report's order)."""
        return {name: kind for kind in TARGET_KINDS.values() for name in getattr(self.targets, kind.name)}

    def target(self, name: str) -> tuple[TargetKind, Strict]:
        kinds = self.target_kinds()
        if name not in kinds:
            raise UsageError(f"target '{name}' is not in params.yaml targets: {list(kinds)}")
        return kinds[name], getattr(self.targets, kinds[name].name)[name]

    def front(self, model: str) -> Features:
        """The front end a model takes its MFCCs from: its Keras entry's overrides on `features:`, else `features:`
        (every scikit-learn model; an end-to-end model has its feature-input model's)."""
        entry = self.keras.get(feature_input_model(model))
        if entry is None:
            return self.features
        return self.features.model_copy(update=entry.features.model_dump(exclude_none=True))

    def scoring_target(self) -> str:
        """The target whose entries carry the variants' accuracy (the host)."""
        return next(name for name, kind in self.target_kinds().items() if kind.scores)

    @field_validator("quantization", mode="before")
    @classmethod
    def _levels(cls, v: object) -> dict[str, Strict]:
        """Each level validates its own options (pipeline/export/levels.py)."""
        if not isinstance(v, dict) or not v:
            raise ValueError(f"a mapping of at least one level is needed; allowed: {list(QUANTIZATION_LEVELS)}")
        unknown = [k for k in v if k not in QUANTIZATION_LEVELS]
        if unknown:
            raise ValueError(f"unknown quantization level(s) {unknown}; allowed: {list(QUANTIZATION_LEVELS)}")
        if "fp32" not in v:  # variants.REFERENCE_LEVEL
            raise ValueError("fp32 is required: every ratio, the accuracy loss of the ship decision and the "
                             "comparison's gates are measured against it")
        out = {}
        for name, options in v.items():
            try:
                out[name] = QUANTIZATION_LEVELS[name].options.model_validate(options or {})
            except ValidationError as err:
                raise ValueError("; ".join(f"quantization.{'.'.join(map(str, (name, *e['loc'])))}: {_message(e)}"
                                           for e in err.errors())) from None
        return out

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in v if f not in FORMATS]
        if unknown or not v:
            raise ValueError(f"unknown format(s) {unknown}; allowed: {list(FORMATS)}")
        return v

    @field_validator("sklearn", "keras")
    @classmethod
    def _model_names(cls, v: dict) -> dict:
        if not v:
            raise ValueError("at least one model entry is needed")
        taken = [n for n in v if n.endswith(E2E_SUFFIX)]
        if taken:
            raise ValueError(f"{taken}: names ending in {E2E_SUFFIX} are the end-to-end models' "
                             f"(<model>{E2E_SUFFIX}); choose another name")
        return v

    @field_validator("devices", mode="before")
    @classmethod
    def _devices(cls, v: object, info: ValidationInfo) -> dict[str, Strict]:
        """One entry per target whose kind takes nominal figures, each checked by that kind's Device schema."""
        targets = info.data.get("targets")
        if targets is None:  # the targets were refused: that error is the one to read
            return {}
        if not isinstance(v, dict):
            raise ValueError("a mapping of target name -> its device's nominal figures")
        wanted = {name: kind for kind in TARGET_KINDS.values() for name in getattr(targets, kind.name)
                  if kind.schema.Device is not None}
        missing, unknown = sorted(set(wanted) - set(v)), sorted(set(v) - set(wanted))
        if missing or unknown:
            raise ValueError(f"one entry per target whose kind takes nominal figures ({sorted(wanted)}); "
                             + "; ".join(filter(None, (missing and f"missing {missing}",
                                                       unknown and f"{unknown} not in targets (or their kind takes none)"))))
        out = {}
        for name, figures in v.items():
            try:
                out[name] = wanted[name].schema.Device.model_validate(figures or {})
            except ValidationError as err:
                raise ValueError("; ".join(f"devices.{'.'.join(map(str, (name, *e['loc'])))}: {_message(e)}"
                                           for e in err.errors())) from None
        return out

    @model_validator(mode="after")
    def _ship_per_target(self) -> "Params":
        targets = list(self.target_kinds())
        missing, unknown = sorted(set(targets) - set(self.ship)), sorted(set(self.ship) - set(targets))
        if missing or unknown:
            raise ValueError(f"ship: one entry per target of `targets` ({targets}); "
                             + (f"missing {missing}" if missing else "") + ("; " if missing and unknown else "")
                             + (f"{unknown} not in targets" if unknown else ""))
        return self

    @field_validator("targets")
    @classmethod
    def _targets(cls, v) -> object:
        names = [name for kind in TARGET_KINDS.values() for name in getattr(v, kind.name)]
        _unique("target names (across kinds)", names)
        scoring = [name for kind in TARGET_KINDS.values() if kind.scores for name in getattr(v, kind.name)]
        if len(scoring) != 1:
            raise ValueError(f"exactly one target of kind {[k.name for k in TARGET_KINDS.values() if k.scores]} is "
                             f"needed (it scores every variant on the whole test split), got {scoring}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Params":
        _unique("data.labels", self.data.labels)
        _unique("formats", self.formats)
        _unique("model names (across sklearn and keras)", [*self.sklearn, *self.keras])
        _check_front(self.features, self.data)
        for name in self.keras:  # each entry's own front end, as its overrides make it
            front = self.front(name)
            _mfcc_within_mels(front, f"keras.{name}.features")
            _check_front(front, self.data, f"keras.{name}.features")
        return self


class ParamsError(UsageError):
    """params.yaml is missing, unreadable or invalid; the message says what to fix."""


def _message(e: dict) -> str:
    if e["type"] == "extra_forbidden":
        return "unknown key (a typo?)"
    if e["type"] == "missing" and isinstance(e["loc"][-1], int):
        return "too few items: this pair needs exactly 2 items"
    if e["type"] == "too_long":
        return "too many items: this pair needs exactly 2 items"
    if e["type"] == "missing":
        return "missing: every key is required (values live in params.yaml only; see the shipped params.yaml)"
    if e["type"] == "literal_error" and "expected" in e.get("ctx", {}):
        return f"must be one of {e['ctx']['expected']}"
    if e["type"] == "value_error":  # our own validators' messages, without pydantic's prefix
        return e["msg"].removeprefix("Value error, ")
    return e["msg"]


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid parameters"]
    for e in err.errors():
        loc = list(e["loc"])
        if len(loc) >= 3 and loc[0] in TAGGED:  # sklearn.<name>.<type tag>.<key>: the tag is pydantic's, not a key
            del loc[2]
        value = e.get("input")
        msg = _message(e)
        if e["type"] == "union_tag_not_found" and loc and loc[0] in TAGGED:
            loc.append("type")
            msg = f"missing: every {loc[0]} entry names its type; allowed: {list(TAGGED[loc[0]])}"
        key = ".".join(str(p) for p in loc) or "(top level)"
        shown = "" if isinstance(value, dict) or e["type"] == "missing" else f" = {value!r}"
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
