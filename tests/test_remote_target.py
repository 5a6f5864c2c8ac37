"""The `http` target kind on a copy of the tiny build: every end-to-end variant is served on loopback and driven
open-loop at each offered rate; every request is answered (bad payloads 4xx, good ones 2xx with the right
label), p50 <= p90 <= p99 per rate, the modelled round trip is added only in the remote cost, feature-input
variants are not_applicable, and the report compares remote with every on-device target."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import run

pytestmark = pytest.mark.e2e

REMOTE = {"rates": [20.0, 100.0], "requests": 20, "concurrency": 1, "saturation_clients": 4, "saturation_requests": 40,
          "max_batch": 4, "max_wait_ms": 1.0}
NETWORK = {"rtt_ms": 50.0, "budget_ms": 50.0, "memory_budget_mb": 100.0}


def test_every_end_to_end_variant_is_load_tested_without_loss(built_copy: Path):
    project = built_copy
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["targets"]["http"]["remote"] = REMOTE
    params["devices"]["remote"] = NETWORK
    params["ship"]["remote"] = {"max_latency_ms": 200.0, "max_size_kb": 102400, "max_accuracy_loss": 0.05,
                                "raw_audio": True, "reduction": None}
    params["quantization"] = {k: params["quantization"][k] for k in ("fp32", "int8")}  # two levels suffice
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], project, timeout=1800).stdout
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    assert {"benchmark_http@remote", "report"} <= ran
    assert not any(s.startswith(("convert", "benchmark_host")) for s in ran), ran

    metrics = json.loads((project / "reports/metrics.json").read_text())
    decisions = metrics.pop("ship")
    served = 0
    for vid, m in metrics.items():
        if m["status"] != "ok":
            continue
        r = m["remote"]
        if not m["model"].endswith("_e2e"):
            assert r == {"status": "not_applicable", "reason": "the server takes audio; this variant takes MFCC features"}
            continue
        served += 1
        assert r["status"] == "ok" and r["errors"] == 0 and r["lost"] == 0 and r["server_exit_code"] in (0, -15), (vid, r)
        assert [x["offered_rps"] for x in r["rates"]] == REMOTE["rates"]
        for x in r["rates"]:
            assert (x["answered"], x["ok"], x["refused"], x["errors"]) == (20, 18, 2, 0), (vid, x)
            assert 0 < x["p50_ms"] <= x["p90_ms"] <= x["p99_ms"] and x["server_cpu_ms_per_request"] > 0
        assert r["rtt_us"] == 50_000 and r["remote_cost_us"] == pytest.approx(r["loopback_p99_us"] + 50_000, abs=1e-3)
        assert r["loopback_p99_us"] == pytest.approx(r["rates"][0]["p99_ms"] * 1e3, abs=1e-3)
        u, b = r["saturation"], r["saturation_batched"]
        assert (u["ok"], u["errors"]) == (40, 0) and u["throughput_rps"] > 0 and 0 < u["inference_ms_per_request"]
        assert u["inference_ms_per_request"] < u["p50_ms"] and u["server_cpu_ms_per_request"] > 0, (vid, u)
        if m["format"] == "onnx" and m["model"].removesuffix("_e2e") in params["sklearn"]:  # skl2onnx's take a batch
            assert b["takes_batch"] and (b["ok"], b["errors"]) == (40, 0) and b["windows"] == 40, (vid, b)
            assert r["batching_speedup"] == pytest.approx(b["throughput_rps"] / u["throughput_rps"], abs=1e-3)
        else:
            assert b["status"] == "not_applicable" and "fixed batch of 1" in b["reason"], (vid, b)
        # one recording and digital silence, ten requests each: each missed once, then answered from the cache
        assert (r["answer_cache"]["hits"], r["answer_cache"]["misses"], r["answer_cache"]["hit_rate"]) == (18, 2, 0.9)
        assert 20 < r["server_peak_rss_mb"] and r["memory_within_budget"] == (r["server_peak_rss_mb"] <= 100.0)
    bench = json.loads((project / "reports/bench/remote/fp32.json").read_text())
    assert not [vid for vid, e in bench.items() if {"rtt_us", "remote_cost_us", "budget_ms"} & set(e)]  # measured only
    assert served >= 9  # keras_e2e in both formats at both levels, every <sk>_e2e at fp32, mlp_e2e at int8
    pick = decisions["remote"]["pick"]
    assert pick and pick.split(".")[0].endswith("_e2e") and "modelled" in decisions["remote"]["cost"]
    md = (project / "reports/report.md").read_text()
    assert "## Remote vs on-device: remote" in md and "The served pick against each device (remote)" in md
    assert "(modelled, not measured)" in md
    assert "### Serving throughput, batching and the answer cache (remote)" in md and "fixed batch of 1" in md

    # What re-runs: editing the server, the http benchmarks alone; a nominal figure of a device, the report alone.
    assert stale(project) == set()
    serve = project / "pipeline/runtime/serve.py"
    source = serve.read_text()
    serve.write_text(source + "\n# an edit\n")
    assert stale(project) == {"benchmark_http@remote"}
    serve.write_text(source)
    params["devices"]["cortex-a53"]["clock_mhz"] *= 2
    params["devices"]["remote"]["rtt_ms"] = 20.0
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert stale(project) == {"report"}


def stale(project: Path) -> set[str]:
    """The stages `dvc status` lists as changed."""
    return set(json.loads(run(["dvc", "status", "--json"], project).stdout))

