"""A target kind is one registry entry and its own modules: a kind written here, in test code only (a schema, a
run function, a report section, a cost), is measured, reported and decided for by the pipeline, on a copy of
the tiny build, with no other edit; and only its stage and the report run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import run

pytestmark = pytest.mark.e2e

SCHEMA = '''
from pipeline.schema import PositiveFloat, Strict


class Target(Strict):
    passes: PositiveFloat  # how many times the artefact is read


class Device(Strict):
    megabytes_per_s: PositiveFloat  # nominal: the report turns bytes read into a time
'''
RUNNER = '''
from pathlib import Path


def measure(name, target, spec, workdir):
    """Measures the bytes it takes to read each artefact `passes` times (a real, if humble, measurement)."""
    return {job["id"]: {"status": "ok", "bytes_read": round(len(Path(job["artefact"]).read_bytes()) * target.passes)}
            for job in spec["jobs"]}
'''
REPORT = '''
from pipeline.report.model import Column, Section, Table, _fixed, _text

COST_LABEL = "bytes read / the nominal read speed (an estimate)"
ESTIMATE = True


def entry(bench, scored):
    return bench


def complete(metrics, name, target, device):
    for m in metrics.values():
        e = m.get(name) if isinstance(m, dict) else None
        if isinstance(e, dict) and e.get("status") == "ok":
            e["read_us"] = round(e["bytes_read"] / device.megabytes_per_s, 3)


def cost_us(e):
    return e.get("read_us")


def sections(ctx, targets):
    return [Section(f"Toy reader: {name}", table=Table(tuple(
        {"variant": vid, "us": m[name]["read_us"]} for vid, m in sorted(ctx.metrics.items())
        if isinstance(m.get(name), dict) and m[name].get("status") == "ok"),
        (_text("Variant", "variant"), Column("Read (µs)", "us", _fixed(",.3f"))))) for name in targets]
'''


def test_a_kind_written_in_test_code_is_measured_reported_and_decided(built_copy: Path):
    project = built_copy
    targets = project / "pipeline" / "targets"
    for name, text in (("toy.py", SCHEMA), ("toy_run.py", RUNNER), ("toy_report.py", REPORT)):
        (targets / name).write_text(text)
    registry = targets / "kinds.py"
    entry = '    TargetKind("http", "http", timed=True),'
    assert entry in registry.read_text()
    registry.write_text(registry.read_text().replace(entry, entry + '\n    TargetKind("toy", "toy"),'))  # one entry

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["targets"]["toy"] = {"reader": {"passes": 2.0}}
    params["devices"]["reader"] = {"megabytes_per_s": 100.0}
    params["ship"]["reader"] = {"max_latency_ms": 10.0, "max_size_kb": 4096, "max_accuracy_loss": 0.05,
                                "raw_audio": False, "reduction": None}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["python", "-m", "pipeline", "wire"], project)
    out = run(["dvc", "repro"], project, timeout=1800).stdout
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    assert ran == {"check", "report", "benchmark_toy@reader"}, ran

    metrics = json.loads((project / "reports/metrics.json").read_text())
    decision = metrics["ship"]["reader"]
    built = {vid: m for vid, m in metrics.items() if vid != "ship" and m["status"] == "ok"}
    for vid, m in built.items():
        assert m["reader"]["bytes_read"] == 2 * m["size_bytes"], vid
        assert m["reader"]["read_us"] == round(2 * m["size_bytes"] / 100.0, 3), vid
    assert decision["cost"].startswith("bytes read") and decision["pick"] in built
    assert decision["cost_us"] == built[decision["pick"]]["reader"]["read_us"]
    report = (project / "reports/report.md").read_text()
    assert "## Toy reader: reader" in report and f"| reader | {decision['pick']} |" in report
