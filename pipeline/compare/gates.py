"""The regression gates of `python -m pipeline compare`: schema, loading and evaluation.

gates.yaml (project root) says, per metric, how far a pull request may move it in
the direction that hurts. This module only knows the schema and the arithmetic;
it does no I/O besides reading the gates file, and knows nothing about DVC, so
every function here is unit-testable on plain dicts and numbers.

A gate on metric M compares a base value b with a head value h:

    better: higher  -> h may not fall below  b - allowed
    better: lower   -> h may not rise above  b + allowed
    allowed = absolute             (absolute: 0.005)
            = |b| * relative       (relative: 0.02, i.e. 2 %)

`measure: value` gates the metric itself; `measure: within_run_ratio` gates the
ratio of the variant's value to the value of the reference-quantization (fp32)
variant of the same model and format, on the same target, computed inside each
revision's own metrics (see pipeline.compare.metrics.within_run_ratios). Times
measured on a machine (latency, load time) are only allowed as within-run ratios.

Whether a gate's metric exists is not a question of the schema: metrics.json has no fixed
list of fields (a new variant kind brings new ones). So `check_metric_names` asks the data:
a gate must name a numeric field that one of the two compared revisions reports.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from pipeline.compare.formatting import format_number
from pipeline.errors import UsageError
from pipeline.export.levels import QUANTIZATION_LEVELS
from pipeline.io import read_yaml
from pipeline.variants import REFERENCE_LEVEL

GATES_FILE = Path("gates.yaml")

# A metric whose name matches this is a time measured on some machine: comparing it
# across two runs (different runners, different load) says nothing, so such a metric
# may only be gated as a within-run ratio.
TIME_METRIC = re.compile(r"(latency|_us$|_ms$|_s$|_seconds$)")

Tolerance = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]

# What each key allows, for error messages.
ALLOWED: dict[str, str] = {
    "better": "'higher' or 'lower' (the direction that is an improvement)",
    "scope": "'variant' (a field of the variant) or 'targets' (a field of each target: host, cortex-a53, ...)",
    "measure": "'value' (the metric itself) or 'within_run_ratio' (variant / reference variant, same run, same target)",
    "absolute": "a number >= 0, in the metric's own unit (0.005 = half an accuracy point)",
    "relative": "a number >= 0, a fraction of the base value (0.02 = 2 %)",
    "reference_quantization": f"one of {list(QUANTIZATION_LEVELS)}",
    "allow_lost": "a list of variant-id glob patterns, e.g. ['random_forest.*'] (or [] for none)",
    "gates": "a mapping of metric name -> {better, scope, measure, absolute | relative}",
}


class GatesError(UsageError):
    """gates.yaml is missing, unreadable or invalid, or names a metric no revision reports; the
    message says what to fix. A usage error: nothing was compared (exit 2)."""


class TimeGateError(ValueError):
    """A time (latency, *_us, *_ms) gated as an absolute value across runs.

    Internal, never shown as such: it is raised inside a pydantic validator, which turns only a
    ValueError (or AssertionError) into a ValidationError entry, and `_describe` turns that entry
    into a line of the GatesError the user gets. Hence a ValueError, not a UsageError.
    """

    def __init__(self, name: str, measure: str):
        self.name, self.measure = name, measure
        super().__init__(f"{name!r} is a time measured on a machine: it is never gated as an absolute "
                         f"value across runs; allowed: within_run_ratio")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gate(Strict):
    better: Literal["higher", "lower"]
    scope: Literal["variant", "targets"] = "variant"
    measure: Literal["value", "within_run_ratio"] = "value"
    absolute: Tolerance | None = None
    relative: Tolerance | None = None

    @model_validator(mode="after")
    def _one_tolerance(self) -> "Gate":
        given = [k for k in ("absolute", "relative") if getattr(self, k) is not None]
        if len(given) != 1:
            got = "both" if given else "neither"
            raise ValueError(f"give exactly one of 'absolute' or 'relative' (the allowed worsening), got {got}")
        return self

    @property
    def kind(self) -> str:
        return "absolute" if self.absolute is not None else "relative"

    @property
    def tolerance(self) -> float:
        return self.absolute if self.absolute is not None else self.relative  # type: ignore[return-value]

    def allowed(self, base: float) -> float:
        return self.tolerance if self.kind == "absolute" else abs(base) * self.tolerance

    def limit(self, base: float) -> float:
        """The worst head value that still passes."""
        return base - self.allowed(base) if self.better == "higher" else base + self.allowed(base)

    def holds(self, base: float, head: float) -> bool:
        limit = self.limit(base)
        slack = 1e-9 * max(1.0, abs(limit))  # float noise: 0.9 - 0.005 must admit 0.895
        return head >= limit - slack if self.better == "higher" else head <= limit + slack

    def rule(self) -> str:
        """Human wording of the allowed change, e.g. 'may rise by at most 2 %'."""
        verb = "fall" if self.better == "higher" else "rise"
        amount = f"{self.tolerance:g}" if self.kind == "absolute" else f"{self.tolerance * 100:g} %"
        return f"may {verb} by at most {amount}"

    def describe_limit(self, base: float) -> str:
        sign = "≥" if self.better == "higher" else "≤"
        return f"{sign} {format_number(self.limit(base))} ({self.rule()})"


class GatesFile(Strict):
    reference_quantization: str = REFERENCE_LEVEL
    allow_lost: tuple[str, ...] = ()
    gates: dict[str, Gate]
    # Where the gates came from, for the messages of checks made after loading (check_metric_names).
    _source: str = PrivateAttr(default=str(GATES_FILE))

    @field_validator("reference_quantization")
    @classmethod
    def _known_level(cls, v: str) -> str:
        if v not in QUANTIZATION_LEVELS:
            raise ValueError(f"unknown quantization level; allowed: {list(QUANTIZATION_LEVELS)}")
        return v

    @field_validator("gates")
    @classmethod
    def _gates(cls, v: dict[str, Gate]) -> dict[str, Gate]:
        for name, gate in v.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
                raise ValueError(f"metric name {name!r} is not a metrics.json field name")
        return v

    @model_validator(mode="after")
    def _times_only_as_ratios(self) -> "GatesFile":
        for name, gate in self.gates.items():
            if TIME_METRIC.search(name) and gate.measure != "within_run_ratio":
                raise TimeGateError(name, gate.measure)
        return self

    def lost_allowed(self, variant_id: str) -> bool:
        return any(fnmatch.fnmatchcase(variant_id, pattern) for pattern in self.allow_lost)

    def check_metric_names(self, known: set[str]) -> None:
        """Raise GatesError for a gate whose metric is none of `known` (the numeric fields the two
        revisions report, pipeline.compare.metrics.numeric_fields).

        A misspelt gate (`acuracy`) would otherwise gate nothing while the report says every gate
        holds. When neither revision reports any number there is nothing to check the names
        against (and nothing is gated), so nothing is raised.
        """
        unknown = [name for name in self.gates if name not in known]
        if not unknown or not known:
            return
        lines = [f"{self._source}: invalid gates"]
        lines += [f"  gates.{name}: unknown metric (a typo?): no variant or target of either revision "
                  f"reports a number by that name" for name in unknown]
        lines.append(f"  known metrics: {sorted(known)}")
        raise GatesError("\n".join(lines))


def _fields_at(loc: tuple) -> list[str] | None:
    """The keys allowed at the mapping that holds loc[-1], for 'unknown key' messages."""
    parent = loc[:-1]
    if parent == ():
        return list(GatesFile.model_fields)
    if len(parent) == 2 and parent[0] == "gates":
        return list(Gate.model_fields)
    return None


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid gates"]
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        value = e.get("input")
        last = str(loc[-1]) if loc else ""
        if isinstance(e.get("ctx", {}).get("error"), TimeGateError):
            time_error = e["ctx"]["error"]
            loc, value = ("gates", time_error.name, "measure"), time_error.measure
            key, msg = ".".join(loc), str(time_error)
        elif e["type"] == "extra_forbidden":
            allowed = _fields_at(loc)
            msg = "unknown key (a typo?)" + (f"; allowed keys: {allowed}" if allowed else "")
        elif e["type"] == "missing":
            msg = "required key is missing" + (f"; allowed: {ALLOWED[last]}" if last in ALLOWED else "")
            value = None
        elif len(loc) == 2 and loc[0] == "gates" and e["type"] in ("model_type", "model_attributes_type"):
            msg = "must be a mapping: {better: higher|lower, absolute: X | relative: X, scope, measure}"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "literal_error" and "expected" in e.get("ctx", {}):
                msg = f"must be one of {e['ctx']['expected']}"
            elif last in ALLOWED and "allowed" not in msg:
                msg += f"; allowed: {ALLOWED[last]}"
        shown = "" if value is None or isinstance(value, dict) else f" = {value!r}"
        lines.append(f"  {key}{shown}: {msg}")
    return "\n".join(lines)


def parse_gates(raw: object, path: Path | str = GATES_FILE) -> GatesFile:
    path = Path(path)
    if not isinstance(raw, dict):
        raise GatesError(f"{path}: expected a mapping at the top level (with a 'gates' key), "
                         f"got {type(raw).__name__}")
    try:
        gates = GatesFile.model_validate(raw)
    except ValidationError as err:
        raise GatesError(_describe(err, path)) from None
    gates._source = str(path)
    return gates


def load_gates(path: Path | str | None = None) -> GatesFile:
    path = Path(path) if path is not None else GATES_FILE
    return parse_gates(read_yaml(path, GatesError, "gates file not found (pass --gates FILE)"), path)
