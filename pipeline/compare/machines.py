"""Which figures two runs can be gated on when they were made on different kinds of machine
(reports/machine.json, written by the report stage: pipeline/machine.py).

Keras training and every conversion after it dispatch kernels by the CPU's instruction set, so on another kind of
machine the same commit gives other Keras weights, other artefacts and other accuracies: no PR made that change.
The scikit-learn models train to the same bytes everywhere (catalog.REPRODUCIBLE_STAGES), so their variants are
still gated; the others are shown beside them, not gated, and the report says why.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.catalog import MACHINE
from pipeline.machine import describe, same_kind

MACHINE_FILE = Path(MACHINE.template).name  # beside the metrics file (compare --metrics may name another)


def machine_policy(base: dict | None, head: dict | None, base_params: dict,
                   head_params: dict) -> tuple[set[str] | None, list[str]]:
    """(the models whose variants are gated, None for all; the notes for the report)."""
    same = same_kind(base, head)
    if same is None:
        missing = [side for side, m in (("the base", base), ("the head", head)) if not m]
        who = "neither run records its machine" if len(missing) == 2 else f"{missing[0]} does not record its machine"
        return None, [f"{who} ({MACHINE_FILE}): compared as if both were made on the same kind of machine"]
    if same:
        return None, []
    gated = set(base_params.get("sklearn") or {}) & set(head_params.get("sklearn") or {})
    return gated, [f"**Made on different kinds of machine**: base on {describe(base)}, head on {describe(head)}. "
                   "Keras training and every conversion after it pick kernels by CPU, so the variants of other "
                   "models are shown, not gated; the scikit-learn models' variants "
                   f"({', '.join(sorted(gated)) or 'none'}) train to the same bytes anywhere and are gated as usual. "
                   "Rebuild the base on this machine (`bash scripts/ci_compare.sh`) to gate everything."]
