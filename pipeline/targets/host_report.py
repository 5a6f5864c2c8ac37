"""The host kind's report hooks: its entries are the variants' own figures (the table, parity and kernel
sections of the report are built from them); its cost is the measured p50; its section, the end-to-end
cost split on this machine."""

from __future__ import annotations

from pipeline.report import tables
from pipeline.report.model import Section, e2e_section

COST_LABEL = "measured p50 latency on this host (wall time)"
ESTIMATE = False


def entry(bench: dict, scored: dict) -> dict:
    return tables.host_target_entry(bench)


def complete(metrics: dict, name: str, target, device) -> None:
    """Nothing to estimate: everything here is measured."""


def cost_us(e: dict) -> float | None:
    return e.get("latency_p50_us")


def sections(ctx, targets: dict) -> list[Section]:
    return [s for name in targets
            for s in e2e_section(name.capitalize(), tables.e2e_rows(ctx, name), ctx.hop_ms, estimate=False)]
