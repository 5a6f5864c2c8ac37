"""Compare two revisions' metrics and params, check the gates, print a Markdown report.

    python -m pipeline compare [--base REV] [--head REV] [--gates FILE] [--out FILE.md]
                               [--metrics FILE] [--allow-lost]

base defaults to `main`, head to the workspace. Both revisions are read through
DVC's Python API (dvc.api.metrics_show / params_show). Exit codes: 0 every gate
holds, 1 a gate is violated, 2 bad usage, a bad gates file or an unreadable revision.

The module is split into pure functions (flatten_params, diff_params,
within_run_ratios, compare_metrics, render_markdown), which work on plain dicts
and know nothing of DVC, and the I/O (read_revision, main).

A within-run latency ratio, for variant M.F.Q on target T and a field such as
latency_p50_us, is  metrics[M.F.Q][T][field] / metrics[M.F.fp32][T][field],  both
numbers taken from the SAME revision's metrics (one run, one machine); the gate then
compares the head ratio with the base ratio. Absolute times are never compared
across revisions.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.gates import TIME_METRIC, Gate, GatesError, GatesFile, format_number, load_gates
from pipeline.variants import REFERENCE_LEVEL

OK = "ok"
NOT_BUILT = ("skipped", "not_applicable")
METRICS_FILE = "reports/metrics.json"
WORKSPACE = "workspace"


class CompareError(Exception):
    """A revision cannot be read; the message says which and why (exit 2)."""


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


# --------------------------------------------------------------------------- metrics helpers


def is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def variants_of(metrics: dict) -> dict[str, dict]:
    """The variant entries of a metrics dict (anything else at the top level is ignored)."""
    return {k: v for k, v in (metrics or {}).items() if isinstance(v, dict)}


def status_of(entry: dict | None) -> str | None:
    if entry is None:
        return None
    return str(entry.get("status", OK))


def targets_of(entry: dict | None) -> dict[str, dict]:
    """The per-target sub-dicts of a variant (host, cortex-a53, ...)."""
    return {k: v for k, v in (entry or {}).items() if isinstance(v, dict)}


def identity(variant_id: str, entry: dict) -> tuple[str, str, str]:
    """(model, format, quantization) from the entry's fields, else from '<model>.<format>.<q>'."""
    parts = variant_id.rsplit(".", 2)
    parts = parts if len(parts) == 3 else [variant_id, "", ""]
    return (str(entry.get("model", parts[0])), str(entry.get("format", parts[1])),
            str(entry.get("quantization", parts[2])))


def _measured(entry: dict | None) -> dict | None:
    """The entry if it holds measurements (status ok), else None."""
    return entry if entry is not None and status_of(entry) == OK else None


def within_run_ratios(metrics: dict, metric: str, reference: str = REFERENCE_LEVEL,
                      scope: Literal["variant", "targets"] = "targets") -> dict[tuple[str, str | None], float]:
    """{(variant id, target or None): value / value of the reference variant}, within one revision.

    The reference variant is the one with the same model and format and quantization
    `reference`; both must be built, the target measured on both (status ok) and the
    reference value > 0. The reference variant itself is left out (its ratio is 1).
    """
    variants = {k: v for k, v in variants_of(metrics).items() if _measured(v)}
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
            if _measured(mine) is None or _measured(theirs) is None:
                continue
            num, den = mine.get(metric), theirs.get(metric)
            if is_number(num) and is_number(den) and den > 0:
                ratios[(vid, target)] = num / den
    return ratios


# --------------------------------------------------------------------------- comparison


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

    @property
    def ok(self) -> bool:
        return not self.violations


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


def compare_metrics(base_metrics: dict, head_metrics: dict, gates: GatesFile,
                    allow_lost: bool = False) -> Comparison:
    """Everything the report says about two revisions' metrics, and every gate violation."""
    base, head = variants_of(base_metrics), variants_of(head_metrics)
    ref = gates.reference_quantization
    value_gates = {s: {m: g for m, g in gates.gates.items() if g.scope == s and g.measure == "value"}
                   for s in ("variant", "targets")}
    ratio_gates = {m: g for m, g in gates.gates.items() if g.measure == "within_run_ratio"}
    ratios = {side: {m: within_run_ratios(metrics, m, ref, g.scope) for m, g in ratio_gates.items()}
              for side, metrics in (("base", base), ("head", head))}
    out = Comparison()
    seen_metrics: set[str] = set()
    lost_targets: dict[str, dict[str, list[str]]] = {}  # target -> "status: reason" -> variant ids

    for vid in _ordered_union(base, head):
        b_entry, h_entry = base.get(vid), head.get(vid)
        b_status, h_status = status_of(b_entry), status_of(h_entry)

        # --- the variant's life cycle
        if h_status is not None and h_status != OK and h_status not in NOT_BUILT:
            out.failed.append((vid, h_status, _reason(h_entry)))
            out.violations.append(Violation(vid, "status", f"`{vid}`: status **{h_status}** at head "
                                                           f"({_reason(h_entry)})"))
        if b_status == OK and h_status != OK:
            if h_status is None or h_status in NOT_BUILT:
                allowed = allow_lost or gates.lost_allowed(vid)
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

        b, h = _measured(b_entry), _measured(h_entry)
        if b is None and h is None:
            continue
        both = b is not None and h is not None
        rows: list[Row] = []

        # --- top-level numbers: gated ones first (in gates.yaml order), then any others
        gated_first = [m for m in value_gates["variant"] if m in (b or {}) or m in (h or {})]
        for metric in gated_first + [k for k in _ordered_union(h, b) if k not in gated_first]:
            bv, hv = _num(b, metric), _num(h, metric)
            if (bv is None and hv is None) or TIME_METRIC.search(metric):
                continue  # times are only meaningful as within-run ratios
            gate = value_gates["variant"].get(metric)
            if gate:
                seen_metrics.add(metric)
            verdict = _row_verdict(gate, bv, hv) if both else "none"
            rows.append(Row(metric, bv, hv, None, None, gate, verdict))

        # --- per target: gated values, then within-run ratios
        b_targets, h_targets = targets_of(b), targets_of(h)
        for target in _ordered_union(h_targets, b_targets):
            bt, ht = _measured(b_targets.get(target)), _measured(h_targets.get(target))
            if both and bt is not None and ht is None:
                h_target = h_targets.get(target)
                why = f"{status_of(h_target)}: {_reason(h_target)}" if h_target else "absent"
                lost_targets.setdefault(target, {}).setdefault(why, []).append(vid)
            for metric, gate in value_gates["targets"].items():
                bv, hv = _num(bt, metric), _num(ht, metric)
                if bv is None and hv is None:
                    continue
                seen_metrics.add(metric)
                verdict = _row_verdict(gate, bv, hv) if both and ht is not None else "none"
                rows.append(Row(metric, bv, hv, target, None, gate, verdict))
            for metric, gate in ratio_gates.items():
                if gate.scope == "targets":
                    rows += _ratio_rows(out, ratios, vid, target, metric, gate, ref,
                                        both and ht is not None, seen_metrics)
        for metric, gate in ratio_gates.items():
            if gate.scope == "variant":
                rows += _ratio_rows(out, ratios, vid, None, metric, gate, ref, both, seen_metrics)

        out.rows[vid] = rows
        out.violations += [Violation(vid, r.label, _violation_line(vid, r))
                           for r in rows if r.verdict in ("fail", "missing")]

    for target, reasons in lost_targets.items():
        for why, vids in reasons.items():
            shown = ", ".join(f"`{v}`" for v in vids[:8]) + (f" and {len(vids) - 8} more" if len(vids) > 8 else "")
            out.warnings.append(f"target **{target}** was measured at base but not at head ({why}) for "
                                f"{len(vids)} variant{'s' if len(vids) != 1 else ''}: {shown}; "
                                f"its gates were not evaluated there")
    for metric in gates.gates:
        if metric not in seen_metrics:
            out.warnings.append(f"gate **{metric}** matched no value in either revision "
                                f"(a typo in gates.yaml, or no variant/target reports it)")
    return out


def _ratio_rows(out: Comparison, ratios: dict, vid: str, target: str | None, metric: str, gate: Gate,
                ref: str, both: bool, seen: set[str]) -> list[Row]:
    """The within-run ratio row of one gate; `both`: the variant (and target) is measured on both sides."""
    bv = ratios["base"][metric].get((vid, target))
    hv = ratios["head"][metric].get((vid, target))
    if bv is None and hv is None:
        return []
    seen.add(metric)
    if both and bv is not None and hv is None:
        where = f" @ {target}" if target else ""
        out.warnings.append(f"`{vid}` **{metric} ÷ {ref}{where}**: a within-run ratio at base but not "
                            f"computable at head (no measured {ref} reference or no value); not gated")
        return [Row(metric, bv, None, target, ref, gate, "none")]
    return [Row(metric, bv, hv, target, ref, gate, _row_verdict(gate, bv, hv) if both else "none")]


# --------------------------------------------------------------------------- rendering


def change(base: float | None, head: float | None) -> str:
    if base is None or head is None:
        return ""
    diff = head - base
    if diff == 0:
        return "="
    absolute = f"{diff:+,}" if isinstance(diff, int) else f"{diff:+.4g}"
    return f"{absolute} / {diff / abs(base) * 100:+.2f} %" if base else absolute


def _param_value(v: Any) -> str:
    if v is ABSENT:
        return "*(absent)*"
    text = v if isinstance(v, str) else json.dumps(v, separators=(", ", ": "))
    return f"`{text}`".replace("|", "\\|")  # a pipe would end the table cell


def verdict_line(cmp: Comparison) -> str:
    if cmp.ok:
        return "✅ **All gates hold.**"
    n = len(cmp.violations)
    return f"❌ **{n} gate violation{'s' if n != 1 else ''}.**"


def _gate_cell(row: Row) -> str:
    if row.gate is None:
        return ""
    if row.base is None:
        return "new"
    limit = row.gate.describe_limit(row.base)
    return {"pass": f"✅ {limit}", "fail": f"❌ {limit}", "missing": f"❌ missing at head; {limit}",
            "none": "—"}[row.verdict]


def render_markdown(cmp: Comparison, params_diff: list[tuple[str, Any, Any]],
                    base_label: str, head_label: str, notes: list[str] | None = None) -> str:
    out: list[str] = [f"## Model comparison: {base_label} → {head_label}", "", verdict_line(cmp), ""]
    warnings = list(notes or []) + cmp.warnings
    if cmp.violations:
        out += ["### Gate violations", ""] + [f"- ❌ {v.message}" for v in cmp.violations] + [""]

    out += ["### Parameters", ""]
    if params_diff:
        out += ["| parameter | base | head |", "|---|---|---|"]
        out += [f"| `{k}` | {_param_value(old)} | {_param_value(new)} |" for k, old, new in params_diff]
    else:
        out.append("No parameter changes.")
    out.append("")

    out += ["### Variants", ""]
    built = len(cmp.rows)
    lifecycle = [
        ("Added (new at head)", [f"`{v}`" for v in cmp.added]),
        ("Now built (not built at base)", [f"`{v}` (was {s})" for v, s in cmp.now_built]),
        ("Lost (built at base, not at head)",
         [f"`{v}`: " + ("no longer in the metrics" if s == "absent" else f"{s}: {r}")
          + (" — allowed" if allowed else " — ❌ fails") for v, s, r, allowed in cmp.lost]),
        ("Failed at head", [f"`{v}`: {s}: {r}" for v, s, r in cmp.failed]),
        ("Removed (not built at base either)", [f"`{v}` (was {s})" for v, s in cmp.dropped]),
    ]
    listed = False
    for title, items in lifecycle:
        if items:
            listed = True
            out += [f"**{title}:**", ""] + [f"- {i}" for i in items] + [""]
    if not listed:
        out += ["No variant was added, lost or removed.", ""]
    if cmp.not_built:
        out += [f"<details><summary>Not built at head ({len(cmp.not_built)})</summary>", ""]
        out += [f"- `{v}`: {s}: {r}" for v, s, r in cmp.not_built] + ["", "</details>", ""]

    if warnings:
        out += ["### Warnings", ""] + [f"- ⚠️ {w}" for w in warnings] + [""]

    out += [f"### Per variant ({built} built at base or head)", ""]
    for vid, rows in cmp.rows.items():
        bad = any(r.verdict in ("fail", "missing") for r in rows)
        gated = sum(1 for r in rows if r.verdict != "none")
        mark = "❌" if bad else "✅" if gated else "➖"
        summary = f"{mark} <code>{vid}</code> ({gated} gated value{'s' if gated != 1 else ''})"
        out += [f"<details{' open' if bad else ''}><summary>{summary}</summary>", ""]
        if rows:
            out += ["| metric | base | head | change | gate |", "|---|---:|---:|---:|---|"]
            out += [f"| {r.label} | {format_number(r.base)} | {format_number(r.head)} | "
                    f"{change(r.base, r.head)} | {_gate_cell(r)} |" for r in rows]
        else:
            out.append("No numeric metrics.")
        out += ["", "</details>", ""]

    out += ["### Verdict", "", verdict_line(cmp), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- I/O (DVC)


def _is_rev_error(exc: BaseException) -> bool:
    from dvc.scm import RevError
    from scmrepo.exceptions import RevError as ScmRevError

    return isinstance(exc, (RevError, ScmRevError))


def _dvc_show(kind: Literal["metrics", "params"], rev: str | None, targets: tuple[str, ...] = ()) -> dict:
    import dvc.api

    show = dvc.api.metrics_show if kind == "metrics" else dvc.api.params_show
    try:
        return show(*targets, rev=rev)
    except Exception as exc:  # noqa: BLE001 - re-raised below unless the retry explains it
        if rev is None or _is_rev_error(exc):
            raise
        first_error = exc
    # dvc.api reads the workspace along with `rev` and, raising on any error, fails when
    # only the workspace lacks the file (e.g. before `dvc repro`). Ask again, keeping
    # errors per revision, and look at `rev`'s answer alone.
    from dvc.repo import Repo

    with Repo() as repo:
        shower = repo.metrics.show if kind == "metrics" else repo.params.show
        results = shower(targets=list(targets) or None, revs=[rev], on_error="return")
    results.pop(WORKSPACE, None)
    if len(results) != 1:
        raise first_error
    result = next(iter(results.values()))
    if "error" in result:
        raise result["error"]
    merged: dict = {}
    for file_result in result.get("data", {}).values():
        if "error" in file_result:
            raise file_result["error"]
        merged.update(file_result.get("data", {}))
    return merged


def revision_label(rev: str | None) -> str:
    """'`main` (1a2b3c4)' or 'the workspace'; raises CompareError for an unknown revision."""
    if rev is None:
        return "the workspace"
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        with Repo() as repo:
            sha = repo.scm.resolve_rev(rev)
    except NotDvcRepoError as exc:
        raise CompareError(f"not inside a DVC project: {exc}") from None
    except Exception as exc:  # noqa: BLE001
        if _is_rev_error(exc):
            raise CompareError(f"unknown Git revision {rev!r} (in CI, check out with fetch-depth: 0 "
                               f"so that origin/<base branch> exists)") from None
        raise
    return f"`{rev}` ({sha[:7]})"


def read_revision(rev: str | None, metrics_file: str, role: str) -> tuple[dict, dict, list[str]]:
    """(metrics, params, notes) of one revision (None: the workspace)."""
    where = "the workspace" if rev is None else f"revision {rev!r}"
    notes: list[str] = []
    try:
        metrics = _dvc_show("metrics", rev, (metrics_file,))
    except FileNotFoundError:
        if role == "head":
            hint = " (run `dvc repro` first)" if rev is None else ""
            raise CompareError(f"{metrics_file} not found in {where}{hint}") from None
        notes.append(f"{metrics_file} does not exist at base ({where}): every variant counts as new, "
                     f"nothing is gated")
        metrics = {}
    except Exception as exc:  # noqa: BLE001
        raise CompareError(f"cannot read {metrics_file} in {where}: {type(exc).__name__}: {exc}") from None
    try:
        params = _dvc_show("params", rev)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"cannot read params in {where} ({type(exc).__name__}: {exc}); params diff is incomplete")
        params = {}
    return metrics, params, notes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline compare",
        description="Compare metrics and params of two revisions, check gates.yaml, print a Markdown report. "
                    "Exit 0: all gates hold; 1: a gate is violated; 2: bad usage, gates file or revision.")
    p.add_argument("--base", default="main", help="Git revision to compare against (default: main)")
    p.add_argument("--head", default=None,
                   help="Git revision to check (default: the workspace; 'workspace' also means it)")
    p.add_argument("--gates", default="gates.yaml", help="gates file (default: gates.yaml)")
    p.add_argument("--out", default=None, help="also write the Markdown report to this file")
    p.add_argument("--metrics", default=METRICS_FILE, help=f"metrics file (default: {METRICS_FILE})")
    p.add_argument("--allow-lost", action="store_true",
                   help="do not fail on variants built at base but missing/skipped/not_applicable at head")
    return p


def _colour(markdown: str, cmp: Comparison) -> str:
    """The verdict lines in bold green/red when printing to a terminal."""
    if not sys.stdout.isatty():
        return markdown
    line, code = verdict_line(cmp), "32" if cmp.ok else "31"
    return "\n".join(f"\033[1;{code}m{t}\033[0m" if t == line else t for t in markdown.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 2
    head_rev = None if args.head in (None, WORKSPACE) else args.head

    try:
        gates = load_gates(args.gates)
    except GatesError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    try:
        base_label, head_label = revision_label(args.base), revision_label(head_rev)
        base_metrics, base_params, base_notes = read_revision(args.base, args.metrics, "base")
        head_metrics, head_params, head_notes = read_revision(head_rev, args.metrics, "head")
    except CompareError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2

    cmp = compare_metrics(base_metrics, head_metrics, gates, allow_lost=args.allow_lost)
    report = render_markdown(cmp, diff_params(base_params, head_params), base_label, head_label,
                             base_notes + head_notes)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
    print(_colour(report, cmp))
    return 0 if cmp.ok else 1


if __name__ == "__main__":
    sys.exit(main())
