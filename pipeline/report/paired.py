"""Two variants on the same test clips: is the difference in accuracy real?

McNemar's exact test on the clips where they disagree, and the paired loss's 95% interval (Agresti and Min:
half a clip added to each cell of the 2x2 table, which keeps the interval honest when few clips disagree).
The decision calls a loss a loss only when the interval resolves it: a difference smaller than the test split
can tell apart is not a difference."""

from __future__ import annotations

from math import comb, sqrt
from typing import Sequence

Z95 = 1.959964


def mcnemar_exact_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: b and c are the two kinds of disagreement."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_loss(base_correct: Sequence[bool], correct: Sequence[bool]) -> dict:
    """The variant's loss of accuracy against the base on the same clips (positive: the variant is worse)."""
    if len(base_correct) != len(correct) or not correct:
        raise ValueError(f"a paired test needs the same clips: {len(base_correct)} vs {len(correct)}")
    n = len(correct)
    b = sum(1 for x, y in zip(base_correct, correct) if x and not y)  # the base right, the variant wrong
    c = sum(1 for x, y in zip(base_correct, correct) if y and not x)
    b2, c2, n2 = b + 0.5, c + 0.5, n + 2
    centre = (b2 - c2) / n2
    half = Z95 * sqrt(max(0.0, (b2 + c2) - (b2 - c2) ** 2 / n2)) / n2
    return {"clips": n, "discordant": [b, c], "loss": round((b - c) / n, 6),
            "loss_ci95": [round(centre - half, 6), round(centre + half, 6)], "mcnemar_p": round(mcnemar_exact_p(b, c), 6)}


def resolves_more_than(pair: dict, budget: float) -> bool:
    """The loss exceeds the budget beyond what the clips can resolve (the interval's lower end is above it)."""
    return pair["loss_ci95"][0] > budget + 1e-12


def sentence(pair: dict, baseline: str, budget: float) -> str:
    lo, hi = (100 * x for x in pair["loss_ci95"])
    said = (f"loss against {baseline} {100 * pair['loss']:.1f} points (95% interval {lo:.1f} to {hi:.1f}, McNemar "
            f"p = {pair['mcnemar_p']:.2f}, {pair['clips']} paired clips)")
    if hi <= 100 * budget + 1e-9:
        return said + f": within the {100 * budget:g}-point budget by the paired test"
    if pair["loss"] > budget:
        return said + f": above the {100 * budget:g}-point budget, but not by more than {pair['clips']} clips resolve"
    return said + f": the interval reaches past the {100 * budget:g}-point budget; more test clips would settle it"


def tests_over(predictions: dict[str, Sequence[int]], labels: Sequence[int]):
    """(baseline id, variant id) -> their paired test, from each variant's answers on the test split."""
    correct = {vid: [int(p) == int(y) for p, y in zip(pred, labels)] for vid, pred in predictions.items()
               if len(pred) == len(labels)}

    def paired(base: str, vid: str) -> dict | None:
        return paired_loss(correct[base], correct[vid]) if base in correct and vid in correct else None
    return paired
