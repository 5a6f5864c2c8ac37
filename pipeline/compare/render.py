"""The Markdown report of a Comparison: verdict, violations, params diff, variants that came and
went, warnings, one collapsible table per variant, and the verdict again at the end (a long
report is read from both ends). Pure: strings out, nothing written.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.compare.diff import ABSENT, Comparison, Row
from pipeline.compare.formatting import change, format_number


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


def _params_section(params_diff: list[tuple[str, Any, Any]]) -> list[str]:
    out = ["### Parameters", ""]
    if params_diff:
        out += ["| parameter | base | head |", "|---|---|---|"]
        out += [f"| `{k}` | {_param_value(old)} | {_param_value(new)} |" for k, old, new in params_diff]
    else:
        out.append("No parameter changes.")
    return out + [""]


def _variants_section(cmp: Comparison) -> list[str]:
    out = ["### Variants", ""]
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
    return out


def _per_variant_section(cmp: Comparison) -> list[str]:
    out = [f"### Per variant ({len(cmp.rows)} built at base or head)", ""]
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
    return out


def render_markdown(cmp: Comparison, params_diff: list[tuple[str, Any, Any]],
                    base_label: str, head_label: str, notes: list[str] | None = None) -> str:
    out: list[str] = [f"## Model comparison: {base_label} → {head_label}", "", verdict_line(cmp), ""]
    if cmp.violations:
        out += ["### Gate violations", ""] + [f"- ❌ {v.message}" for v in cmp.violations] + [""]
    if cmp.picks:
        out += ["### What to ship: changed picks", ""] + [
            f"- **{t}**: `{a or 'nothing fits'}` → `{b or 'nothing fits'}`" for t, a, b in cmp.picks] + [""]
    out += _params_section(params_diff)
    out += _variants_section(cmp)
    warnings = list(notes or []) + cmp.warnings
    if warnings:
        out += ["### Warnings", ""] + [f"- ⚠️ {w}" for w in warnings] + [""]
    out += _per_variant_section(cmp)
    out += ["### Verdict", "", verdict_line(cmp), ""]
    return "\n".join(out)
