"""Load generators (httpx on asyncio). open_loop: requests leave on a fixed schedule whatever the answers,
and each latency is timed from the request's intended send time, so queueing in the server (or in the
client's connection pool) counts (a closed loop would hide it). saturate: a closed loop on purpose, to find the
throughput the server sustains with a fixed number of requests in flight.

Every `bad_every`-th request carries a payload that must be refused with a 4xx; the others must be answered
2xx with the expected label. Anything else (a 5xx, a wrong answer, a transport error, a timeout) is an error;
a request with no answer at all by the deadline is lost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Payload:
    body: bytes
    headers: dict
    expect: str  # "ok": 2xx with `label`; "refused": a 4xx
    label: str | None = None


def _percentiles(latencies_ms: list[float]) -> dict:
    if not latencies_ms:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None}
    a = np.asarray(latencies_ms)
    return {f"p{q}_ms": round(float(np.percentile(a, q)), 3) for q in (50, 90, 99)}


async def _run(url: str, rate: float, requests: int, good: Payload, bad: Payload, bad_every: int,
               timeout_s: float) -> dict:
    import httpx

    outcomes: list[tuple[str, float | None]] = []  # (ok | refused | error: ..., latency of good answers)
    limits = httpx.Limits(max_connections=requests, max_keepalive_connections=32)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        start = time.perf_counter() + 0.05

        async def one(i: int) -> None:
            intended = start + i / rate
            await asyncio.sleep(max(0.0, intended - time.perf_counter()))
            payload = bad if bad_every and i % bad_every == bad_every - 1 else good
            try:
                res = await client.post(url, content=payload.body, headers=payload.headers)
            except httpx.HTTPError as err:
                outcomes.append((f"error: {type(err).__name__}", None))
                return
            latency_ms = (time.perf_counter() - intended) * 1e3
            if payload.expect == "refused":
                outcomes.append(("refused" if 400 <= res.status_code < 500 else f"error: HTTP {res.status_code} "
                                 f"for a bad payload", None))
            elif res.status_code != 200:
                outcomes.append((f"error: HTTP {res.status_code}", None))
            elif res.json().get("label") != payload.label:
                outcomes.append((f"error: label {res.json().get('label')!r}, expected {payload.label!r}", None))
            else:
                outcomes.append(("ok", latency_ms))

        tasks = [asyncio.create_task(one(i)) for i in range(requests)]
        _done, pending = await asyncio.wait(tasks, timeout=requests / rate + timeout_s + 1)
        for task in pending:
            task.cancel()
        elapsed = time.perf_counter() - start
    errors = [o for o, _ in outcomes if o.startswith("error")]
    return {"offered_rps": rate, "requests": requests, "answered": len(outcomes), "lost": requests - len(outcomes),
            "ok": sum(o == "ok" for o, _ in outcomes), "refused": sum(o == "refused" for o, _ in outcomes),
            "errors": len(errors), "first_error": errors[0] if errors else None,
            "achieved_rps": round(len(outcomes) / elapsed, 3),
            **_percentiles([lat for o, lat in outcomes if o == "ok"])}


def open_loop(url: str, rate: float, requests: int, good: Payload, bad: Payload, bad_every: int = 10,
              timeout_s: float = 30.0) -> dict:
    """One offered rate: `requests` arrivals at `rate` per second; p50/p90/p99 of the good answers."""
    return asyncio.run(_run(url, rate, requests, good, bad, bad_every, timeout_s))


async def _closed(url: str, clients: int, requests: int, body: bytes, headers: dict, timeout_s: float) -> dict:
    import httpx

    sent, latencies, inference_ms, errors = [0], [], [], []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        async def worker() -> None:
            while sent[0] < requests:
                sent[0] += 1
                t0 = time.perf_counter()
                try:
                    res = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError as err:
                    errors.append(type(err).__name__)
                    continue
                if res.status_code != 200:
                    errors.append(f"HTTP {res.status_code}")
                    continue
                latencies.append((time.perf_counter() - t0) * 1e3)
                inference_ms.append(sum(h["latency_ms"] for h in res.json()["hops"]))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return {"clients": clients, "requests": requests, "ok": len(latencies), "errors": len(errors),
            "first_error": errors[0] if errors else None, "elapsed_s": round(elapsed, 3),
            "throughput_rps": round(len(latencies) / elapsed, 1),
            "inference_ms_per_request": round(float(np.mean(inference_ms)), 3) if inference_ms else None,
            **_percentiles(latencies)}


def saturate(url: str, clients: int, requests: int, body: bytes, headers: dict, timeout_s: float = 30.0) -> dict:
    """Closed loop: `clients` requests always in flight until `requests` are answered; the throughput the server
    sustains (requests per second), the latency it costs, and how much of a request the model's calls take."""
    return asyncio.run(_closed(url, clients, requests, body, headers, timeout_s))
