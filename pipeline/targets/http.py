"""The http kind's params: `targets.http.<name>` (each end-to-end variant served on loopback and driven
open-loop at each offered rate: what the load test uses) and `devices.<name>` (the network and the budget
the report judges the measured figures against: the round trip is modelled, never measured)."""

from __future__ import annotations

from pydantic import field_validator

from pipeline.schema import NonNegativeFloat, PositiveFloat, PositiveInt, Strict


class Target(Strict):
    rates: list[PositiveFloat]      # offered requests per second, one open-loop run each
    requests: PositiveInt           # arrivals per rate
    concurrency: PositiveInt        # inferences the server runs at once
    saturation_clients: PositiveInt   # requests kept in flight by the closed-loop saturation run
    saturation_requests: PositiveInt  # answers it waits for (once without batching, once with)
    max_batch: PositiveInt          # the batched server's --max-batch (where the artefact takes a batch)
    max_wait_ms: NonNegativeFloat   # and its --max-wait-ms

    @field_validator("rates")
    @classmethod
    def _distinct(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("at least one offered rate (requests per second)")
        dup = sorted({r for r in v if v.count(r) > 1})
        if dup:
            raise ValueError(f"duplicate offered rates {dup}: each rate is run once")
        return v


class Device(Strict):
    rtt_ms: NonNegativeFloat        # the modelled network round trip added for the comparison (not measured)
    budget_ms: PositiveFloat        # the per-request budget the loopback p99 is held to
    memory_budget_mb: PositiveFloat  # the serving process's resident memory budget (peak RSS is measured)
