"""What the target kinds' report hooks read: the metrics, the decisions, each target's kind (for its cost
figure) and the report's own params."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReportContext:
    metrics: dict                  # reports/metrics.json's variants (estimates filled in)
    kinds: dict                    # target -> its TargetKind, in the registry's order
    clip_seconds: float
    hop_ms: float
    decisions: dict = field(default_factory=dict)  # target -> what to ship there

    def cost_us(self, m: dict | None, target: str) -> float | None:
        """A variant's cost on a target by that target's kind (None: not built, or not measured there)."""
        t = self.entry(m, target)
        return None if t is None else self.kinds[target].report.cost_us(t)

    def entry(self, m: dict | None, target: str) -> dict | None:
        """A built variant's entry on a target, when it was measured (or estimated) there."""
        t = m.get(target) if isinstance(m, dict) and m.get("status") == "ok" else None
        return t if isinstance(t, dict) and t.get("status") in ("ok", "estimate") else None

    def judge(self, m: dict, target: str) -> dict:
        """The kind's optional judgement of a variant there: what it breaks beyond the ship constraints (a part's
        flash and RAM: {constraint: excess}), the caveat its cost carries, and what it stores if not the file."""
        hook = getattr(self.kinds[target].report, "judge", None)
        return hook(self.entry(m, target)) if hook else {}

    def estimate(self, target: str) -> bool:
        """Whether the target's cost is an estimate (else measured)."""
        return self.kinds[target].report.ESTIMATE
