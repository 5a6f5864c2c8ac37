"""One revision's metrics dict (reports/metrics.json as DVC returns it): its variants, their
status and targets, a variant's identity, the numbers it reports, and within-run ratios.

Plain dicts in, plain values out: nothing here knows DVC or the gates, so that the comparison
(pipeline.compare.diff) and its tests work on hand-written dicts.

A within-run latency ratio, for variant M.F.Q on target T and a field such as
latency_p50_us, is  metrics[M.F.Q][T][field] / metrics[M.F.fp32][T][field],  both
numbers taken from the SAME revision's metrics (one run, one machine); a gate then
compares the head ratio with the base ratio. Absolute times are never compared
across revisions.
"""

from __future__ import annotations

import math
from typing import Literal

from pipeline.errors import UsageError
from pipeline.variants import REFERENCE_LEVEL, split_variant_id

OK = "ok"
NOT_BUILT = ("skipped", "not_applicable")
IDENTITY_FIELDS = ("model", "format", "quantization")


class CompareError(UsageError):
    """A revision cannot be read, or its metrics cannot be compared; the message says which and
    why. A usage error (exit 2): nothing was gated, so the comparison neither passes nor fails."""


def is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# The decisions per target ("what to ship") sit beside the variants: compared as picks, never as a variant.
SHIP_KEY = "ship"


def variants_of(metrics: dict) -> dict[str, dict]:
    """The variant entries of a metrics dict (anything else at the top level is ignored)."""
    return {k: v for k, v in (metrics or {}).items() if isinstance(v, dict) and k != SHIP_KEY}


def pick_changes(base: dict, head: dict) -> list[tuple[str, str | None, str | None]]:
    """(target, base pick, head pick) for every target whose pick differs (None: nothing fits, or absent)."""
    old, new = (m.get(SHIP_KEY) or {} if isinstance(m, dict) else {} for m in (base, head))
    return [(t, (old.get(t) or {}).get("pick"), (new.get(t) or {}).get("pick")) for t in sorted(old.keys() | new.keys())
            if (old.get(t) or {}).get("pick") != (new.get(t) or {}).get("pick")]


def status_of(entry: dict | None) -> str | None:
    if entry is None:
        return None
    return str(entry.get("status", OK))


def targets_of(entry: dict | None) -> dict[str, dict]:
    """The per-target sub-dicts of a variant (host, cortex-a53, ...): the ones with a status (a variant also
    holds per_class_accuracy and quant_error, which are not targets)."""
    return {k: v for k, v in (entry or {}).items() if isinstance(v, dict) and "status" in v}


def measured(entry: dict | None) -> dict | None:
    """The entry if it holds measurements (status ok), else None."""
    return entry if entry is not None and status_of(entry) == OK else None


def identity(variant_id: str, entry: dict) -> tuple[str, str, str]:
    """(model, format, quantization): the entry's own fields, else the parts of its id.

    The entries the pipeline writes carry all three fields, and those win (as they always did).
    The id is split only for an entry that lacks one, by pipeline.variants.split_variant_id, the
    one definition of an id's form; an id not of that form is then a CompareError, where it used
    to become a variant with an empty format and level that quietly had no fp32 reference.
    """
    if all(name in entry for name in IDENTITY_FIELDS):
        model, fmt, quant = (str(entry[name]) for name in IDENTITY_FIELDS)
        return model, fmt, quant
    try:
        parts = split_variant_id(variant_id)
    except ValueError as err:
        missing = ", ".join(name for name in IDENTITY_FIELDS if name not in entry)
        raise CompareError(f"metrics: {err}, and its entry has no {missing} field") from None
    model, fmt, quant = (str(entry.get(name, part)) for name, part in zip(IDENTITY_FIELDS, parts))
    return model, fmt, quant


def numeric_fields(*metrics: dict) -> set[str]:
    """Every field that holds a number, at a variant's top level or in one of its targets, in any
    of the metrics dicts: the metric names a gate may use (GatesFile.check_metric_names)."""
    names: set[str] = set()
    for variants in map(variants_of, metrics):
        for entry in variants.values():
            for fields in (entry, *targets_of(entry).values()):
                names.update(k for k, v in fields.items() if is_number(v))
    return names


def within_run_ratios(metrics: dict, metric: str, reference: str = REFERENCE_LEVEL,
                      scope: Literal["variant", "targets"] = "targets") -> dict[tuple[str, str | None], float]:
    """{(variant id, target or None): value / value of the reference variant}, within one revision.

    The reference variant is the one with the same model and format and quantization
    `reference`; both must be built, the target measured on both (status ok) and the
    reference value > 0. The reference variant itself is left out (its ratio is 1).
    """
    variants = {k: v for k, v in variants_of(metrics).items() if measured(v)}
    by_identity = {identity(k, v): v for k, v in variants.items()}
    ratios: dict[tuple[str, str | None], float] = {}
    for vid, entry in variants.items():
        model, fmt, quant = identity(vid, entry)
        if quant == reference:
            continue
        ref = by_identity.get((model, fmt, reference))
        if ref is None:
            continue
        if scope == "variant":
            pairs = [(None, entry, ref)]
        else:
            ref_targets = targets_of(ref)
            pairs = [(t, d, ref_targets.get(t)) for t, d in targets_of(entry).items()]
        for target, mine, theirs in pairs:
            if measured(mine) is None or measured(theirs) is None:
                continue
            num, den = mine.get(metric), theirs.get(metric)
            if is_number(num) and is_number(den) and den > 0:
                ratios[(vid, target)] = num / den
    return ratios
