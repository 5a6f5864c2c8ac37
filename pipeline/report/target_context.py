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
        t = m.get(target) if isinstance(m, dict) else None
        if not m or m.get("status") != "ok" or not isinstance(t, dict) or t.get("status") != "ok":
            return None
        return self.kinds[target].report.cost_us(t)

    def estimate(self, target: str) -> bool:
        """Whether the target's cost is an estimate (else measured)."""
        return self.kinds[target].report.ESTIMATE
