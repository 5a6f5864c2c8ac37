"""What changed between two revisions: the params diff, and the metrics comparison with its gate
verdicts (compare_metrics -> Comparison: rows per variant, violations, variants that came and
went, warnings).

Pure: plain dicts and a GatesFile in, dataclasses out; the Markdown is pipeline.compare.render's
job and reading revisions pipeline.compare.revisions'.

Besides the gated values, every variant's table shows SHOWN_RATIOS as within-run ratios to the
reference variant on each target (gates.yaml says the ratios are shown even when not gated: they
are the only fair view of latency across two runs), gated only where gates.yaml has such a gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pipeline.compare.formatting import change, format_number
from pipeline.compare.gates import TIME_METRIC, Gate, GatesFile
from pipeline.report.tables import METRIC_FIELDS
from pipeline.compare.metrics import (NOT_BUILT, OK, identity, is_number, measured, numeric_fields, pick_changes,
                                      status_of, targets_of, variants_of, within_run_ratios)
from pipeline.variants import feature_input_model

# Within-run ratios shown per variant and target whether or not gates.yaml gates them.
SHOWN_RATIOS: tuple[str, ...] = ("latency_p50_us",)

# --------------------------------------------------------------------------- params


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


def flatten_params(params: dict, prefix: str = "") -> dict[str, Any]:
    """{'data': {'split': {'val': 0.15}}} -> {'data.split.val': 0.15}; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def diff_params(base: dict, head: dict) -> list[tuple[str, Any, Any]]:
    """(key, old, new) for every flattened key that differs; ABSENT marks a missing side."""
    old, new = flatten_params(base), flatten_params(head)
    keys = list(old) + [k for k in new if k not in old]
    return [(k, old.get(k, ABSENT), new.get(k, ABSENT)) for k in sorted(keys)
            if old.get(k, ABSENT) != new.get(k, ABSENT)]


# --------------------------------------------------------------------------- the comparison's data


@dataclass(frozen=True)
class Row:
    """One line of a variant's table: a metric (at a target, maybe as a ratio) at base and head."""

    metric: str
    base: float | None
    head: float | None
    target: str | None = None
    ratio_to: str | None = None  # the reference quantization, for within-run ratios
    gate: Gate | None = None
    verdict: Literal["pass", "fail", "missing", "none"] = "none"

    @property
    def label(self) -> str:
        text = self.metric
        if self.ratio_to:
            text += f" ÷ {self.ratio_to}"
        if self.target:
            text += f" @ {self.target}"
        return text


@dataclass(frozen=True)
class Violation:
    variant: str
    metric: str  # row label, or "status"
    message: str  # one Markdown line naming variant, metric, both values and the limit


@dataclass
class Comparison:
    rows: dict[str, list[Row]] = field(default_factory=dict)  # variants built at base or head
    violations: list[Violation] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # built at head, absent at base
    now_built: list[tuple[str, str]] = field(default_factory=list)  # (id, base status)
    lost: list[tuple[str, str, str, bool]] = field(default_factory=list)  # (id, head status, reason, allowed)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (id, head status, reason)
    not_built: list[tuple[str, str, str]] = field(default_factory=list)  # (id, head status, reason)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # not built at base, absent at head
    warnings: list[str] = field(default_factory=list)
    picks: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (target, base pick, head pick)

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class _RatioSpec:
    """A within-run ratio to compute on both sides: gated by `gate`, or only shown (None)."""

    metric: str
    scope: Literal["variant", "targets"]
    gate: Gate | None


# --------------------------------------------------------------------------- small helpers


def _reason(entry: dict | None) -> str:
    if entry is None:
        return "absent from metrics"
    return str(entry.get("reason", "")) or "no reason given"


def _row_verdict(gate: Gate | None, base: float | None, head: float | None) -> str:
    if gate is None or base is None:
        return "none"
    if head is None:
        return "missing"
    return "pass" if gate.holds(base, head) else "fail"


def _num(d: dict | None, key: str) -> float | None:
    value = (d or {}).get(key)
    return value if is_number(value) else None


def _ordered_union(*dicts: dict | None) -> list[str]:
    keys: list[str] = []
    for d in dicts:
        for k in d or {}:
            if k not in keys:
                keys.append(k)
    return keys


def _violation_line(vid: str, row: Row) -> str:
    assert row.gate is not None and row.base is not None
    if row.head is None:
        return (f"`{vid}` **{row.label}**: {format_number(row.base)} at base, missing at head "
                f"(limit {row.gate.describe_limit(row.base)})")
    return (f"`{vid}` **{row.label}**: {format_number(row.base)} → {format_number(row.head)} "
            f"({change(row.base, row.head)}); limit {row.gate.describe_limit(row.base)}")


def _ratio_specs(gates: GatesFile) -> list[_RatioSpec]:
    """The ratio gates in gates.yaml order, then each SHOWN_RATIOS metric that no gate covers."""
    specs = [_RatioSpec(m, g.scope, g) for m, g in gates.gates.items() if g.measure == "within_run_ratio"]
    gated = {(s.metric, s.scope) for s in specs}
    return specs + [_RatioSpec(m, "targets", None) for m in SHOWN_RATIOS if (m, "targets") not in gated]


# --------------------------------------------------------------------------- compare_metrics


def compare_metrics(base_metrics: dict, head_metrics: dict, gates: GatesFile,
                    allow_lost: bool = False, gated_models: set[str] | None = None) -> Comparison:
    """Everything the report says about two revisions' metrics, and every gate violation.

    gated_models: when the two runs come from different kinds of machine, the models whose figures do not depend
    on it (a variant of another model is shown, not gated); None: every variant is gated.

    Raises GatesError for a gate on a metric neither revision reports (GatesFile.check_metric_names).
    """
    base, head = variants_of(base_metrics), variants_of(head_metrics)
    gates.check_metric_names(numeric_fields(base, head) | METRIC_FIELDS)
    builder = _Builder(gates, base, head, gated_models)
    for vid in _ordered_union(base, head):
        builder.lifecycle(vid, base.get(vid), head.get(vid), allow_lost)
        builder.variant_rows(vid, base.get(vid), head.get(vid))
    builder.final_warnings()
    builder.out.picks = pick_changes(base_metrics, head_metrics)
    return builder.out


class _Builder:
    """One compare_metrics call: the gates sorted by kind, both sides' ratios, the Comparison being
    filled, and what was seen on the way (for the warnings written at the end)."""

    def __init__(self, gates: GatesFile, base: dict, head: dict, gated_models: set[str] | None = None):
        self.gates, self.ref, self.gated_models = gates, gates.reference_quantization, gated_models
        self.value_gates = {s: {m: g for m, g in gates.gates.items() if g.scope == s and g.measure == "value"}
                            for s in ("variant", "targets")}
        self.ratio_specs = _ratio_specs(gates)
        self.ratios = {side: {s: within_run_ratios(metrics, s.metric, self.ref, s.scope) for s in self.ratio_specs}
                       for side, metrics in (("base", base), ("head", head))}
        self.out = Comparison()
        self.seen_metrics: set[str] = set()
        self.lost_targets: dict[str, dict[str, list[str]]] = {}  # target -> "status: reason" -> variant ids

    def lifecycle(self, vid: str, b_entry: dict | None, h_entry: dict | None, allow_lost: bool) -> None:
        """Where the variant stands: failed, lost, added, now built, not built or dropped."""
        out = self.out
        b_status, h_status = status_of(b_entry), status_of(h_entry)
        if h_status is not None and h_status != OK and h_status not in NOT_BUILT:
            out.failed.append((vid, h_status, _reason(h_entry)))
            out.violations.append(Violation(vid, "status", f"`{vid}`: status **{h_status}** at head "
                                                           f"({_reason(h_entry)})"))
        if b_status == OK and h_status != OK:
            if h_status is None or h_status in NOT_BUILT:
                allowed = allow_lost or self.gates.lost_allowed(vid)
                shown = h_status or "absent"
                out.lost.append((vid, shown, _reason(h_entry), allowed))
                what = f"**{h_status}** at head ({_reason(h_entry)})" if h_status else "**absent** from head's metrics"
                if not allowed:
                    out.violations.append(Violation(
                        vid, "status", f"`{vid}`: built at base, {what}; a lost variant fails unless "
                                       f"allowed (gates.yaml `allow_lost` or --allow-lost)"))
        elif h_status == OK and b_status != OK:
            if b_status is None:
                out.added.append(vid)
            else:
                out.now_built.append((vid, b_status))
        elif h_status in NOT_BUILT:
            out.not_built.append((vid, h_status, _reason(h_entry)))
        elif h_status is None and b_status != OK:
            out.dropped.append((vid, b_status or ""))

    def variant_rows(self, vid: str, b_entry: dict | None, h_entry: dict | None) -> None:
        """The variant's table (if built on either side) and the violations in it."""
        b, h = measured(b_entry), measured(h_entry)
        if b is None and h is None:
            return
        both = b is not None and h is not None
        rows: list[Row] = []

        # --- top-level numbers: gated ones first (in gates.yaml order), then any others
        value_gates = self.value_gates["variant"]
        gated_first = [m for m in value_gates if m in (b or {}) or m in (h or {})]
        for metric in gated_first + [k for k in _ordered_union(h, b) if k not in gated_first]:
            bv, hv = _num(b, metric), _num(h, metric)
            if (bv is None and hv is None) or TIME_METRIC.search(metric):
                continue  # times are only meaningful as within-run ratios
            gate = value_gates.get(metric)
            if gate:
                self.seen_metrics.add(metric)
            verdict = _row_verdict(gate, bv, hv) if both else "none"
            rows.append(Row(metric, bv, hv, None, None, gate, verdict))

        # --- per target: gated values, then within-run ratios (gated, then shown)
        b_targets, h_targets = targets_of(b), targets_of(h)
        for target in _ordered_union(h_targets, b_targets):
            bt, ht = measured(b_targets.get(target)), measured(h_targets.get(target))
            if both and bt is not None and ht is None:
                h_target = h_targets.get(target)
                why = f"{status_of(h_target)}: {_reason(h_target)}" if h_target else "absent"
                self.lost_targets.setdefault(target, {}).setdefault(why, []).append(vid)
            for metric, gate in self.value_gates["targets"].items():
                bv, hv = _num(bt, metric), _num(ht, metric)
                if bv is None and hv is None:
                    continue
                self.seen_metrics.add(metric)
                verdict = _row_verdict(gate, bv, hv) if both and ht is not None else "none"
                rows.append(Row(metric, bv, hv, target, None, gate, verdict))
            for spec in self.ratio_specs:
                if spec.scope == "targets":
                    rows += self.ratio_row(vid, target, spec, both and ht is not None)
        for spec in self.ratio_specs:
            if spec.scope == "variant":
                rows += self.ratio_row(vid, None, spec, both)

        model = feature_input_model(identity(vid, h or b)[0])
        if self.gated_models is not None and model not in self.gated_models:  # made on another kind of machine
            rows = [replace(r, gate=None, verdict="none") for r in rows]
        self.out.rows[vid] = rows
        self.out.violations += [Violation(vid, r.label, _violation_line(vid, r))
                                for r in rows if r.verdict in ("fail", "missing")]

    def ratio_row(self, vid: str, target: str | None, spec: _RatioSpec, both: bool) -> list[Row]:
        """The within-run ratio row of one spec; `both`: the variant (and target) is measured on both sides."""
        bv = self.ratios["base"][spec].get((vid, target))
        hv = self.ratios["head"][spec].get((vid, target))
        if bv is None and hv is None:
            return []
        gate = spec.gate
        if gate is None:  # shown, not gated
            return [Row(spec.metric, bv, hv, target, self.ref)]
        self.seen_metrics.add(spec.metric)
        if both and bv is not None and hv is None:
            where = f" @ {target}" if target else ""
            self.out.warnings.append(
                f"`{vid}` **{spec.metric} ÷ {self.ref}{where}**: a within-run ratio at base but not "
                f"computable at head (no measured {self.ref} reference or no value); not gated")
            return [Row(spec.metric, bv, None, target, self.ref, gate, "none")]
        return [Row(spec.metric, bv, hv, target, self.ref, gate, _row_verdict(gate, bv, hv) if both else "none")]

    def final_warnings(self) -> None:
        """One warning per target lost at head (not one per variant), and one per gate that matched nothing."""
        for target, reasons in self.lost_targets.items():
            for why, vids in reasons.items():
                shown = ", ".join(f"`{v}`" for v in vids[:8]) + (f" and {len(vids) - 8} more" if len(vids) > 8 else "")
                self.out.warnings.append(
                    f"target **{target}** was measured at base but not at head ({why}) for "
                    f"{len(vids)} variant{'s' if len(vids) != 1 else ''}: {shown}; "
                    f"its gates were not evaluated there")
        for metric, gate in self.gates.gates.items():
            if metric not in self.seen_metrics:
                where = "a variant's own field" if gate.scope == "variant" else "a field of a target"
                self.out.warnings.append(
                    f"gate **{metric}** matched no value in either revision (no variant measured at "
                    f"base or head reports it as {where}: is its `scope` right?)")
