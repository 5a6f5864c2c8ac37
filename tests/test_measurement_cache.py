"""The measurement cache: keyed by content, refusing what is not a whole entry, never keeping a skip."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline import io as pio

from pipeline.bench import measurement_cache as mc
from pipeline.targets.kinds import TARGET_KINDS
from pipeline.targets.qemu import Target as QemuTarget


def _cache(tmp_path: Path, target=None, tools=None) -> mc.MeasurementCache:
    target = target or QemuTarget(cpu="cortex-a53", runs=3, agreement_clips=16, required=True)
    return mc.for_target(TARGET_KINDS["qemu"], target, ["pipeline/io.py"], tools or {"qemu": "7.2"})


def _job(folder: Path, artefact: bytes = b"model bytes", name: str = "m.onnx") -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(artefact)
    (folder / "x.npy").write_bytes(b"inputs")
    return {"id": "logreg.onnx.fp32", "artefact": str(folder / name), "inputs": str(folder / "x.npy"),
            "model": "logreg", "format": "onnx", "parity": {"output": "mfcc", "reference": str(folder / "x.npy")}}


def test_the_key_follows_bytes_not_paths(tmp_path, monkeypatch):
    monkeypatch.setenv(mc.CACHE_ENV, str(tmp_path / "cache"))
    cache, settings, source = _cache(tmp_path), {"level": "fp32", "runs": 3}, {"model.skops": "ab"}
    key = cache.key(settings, mc.content_of(_job(tmp_path / "a"), source))
    assert cache.key(settings, mc.content_of(_job(tmp_path / "b", name="n.onnx"), source)) == key  # same bytes
    others = [cache.key(settings, mc.content_of(_job(tmp_path / "c", b"other bytes"), source)),
              cache.key({**settings, "runs": 4}, mc.content_of(_job(tmp_path / "a"), source)),
              cache.key(settings, mc.content_of(_job(tmp_path / "a"), {"model.skops": "cd"})),
              _cache(tmp_path, QemuTarget(cpu="cortex-a72", runs=3, agreement_clips=16, required=True)).key(
                  settings, mc.content_of(_job(tmp_path / "a"), source)),
              _cache(tmp_path, tools={"qemu": "8.0"}).key(settings, mc.content_of(_job(tmp_path / "a"), source))]
    assert key not in others and len(set(others)) == len(others)
    # `required` decides whether a missing tool fails the stage, not what a measurement is
    lax = QemuTarget(cpu="cortex-a53", runs=3, agreement_clips=16, required=False)
    assert _cache(tmp_path, lax).key(settings, mc.content_of(_job(tmp_path / "a"), source)) == key


def test_a_timed_kind_keys_on_this_cpu_an_exact_one_does_not(tmp_path):
    from pipeline.targets.host import Target as HostTarget

    host = mc.for_target(TARGET_KINDS["host"], HostTarget(), ["pipeline/io.py"], {})
    assert host.context["machine"] == mc.cpu_identity() and host.context["machine"]["cpus"] >= 1
    assert _cache(tmp_path).context["machine"] is None


def test_an_entry_round_trips_and_a_damaged_one_is_measured_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(mc.CACHE_ENV, str(tmp_path / "cache"))
    cache = _cache(tmp_path)
    key = cache.key({}, {"id": "a"})
    entry = {"status": "ok", "instructions_per_inference": 123, "record": {"p50": 1.5}}
    assert cache.get(key) is None
    cache.put(key, entry)
    assert cache.get(key) == entry
    path = tmp_path / "cache" / key[:2] / f"{key}.json"
    stored = json.loads(path.read_text())
    for damaged in ({**stored, "entry": {**entry, "instructions_per_inference": 124}},  # altered figure
                    {**stored, "key": "0" * 64}):                                      # another cell's entry
        path.write_text(json.dumps(damaged))
        assert cache.get(key) is None
    path.write_text(path.read_text()[:20])  # cut short
    assert cache.get(key) is None
    assert "measuring that cell again" in capsys.readouterr().err


def test_a_skip_is_never_cached(tmp_path, monkeypatch):
    monkeypatch.setenv(mc.CACHE_ENV, str(tmp_path / "cache"))
    cache = _cache(tmp_path)
    cache.put(cache.key({}, {"id": "a"}), {"status": "skipped", "reason": "qemu-aarch64 is missing"})
    assert not (tmp_path / "cache").exists()
    cache.put(cache.key({}, {"id": "b"}), {"status": "failed", "reason": "does not fit"})  # a result, like DVC's
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 1


def test_the_code_a_key_covers_is_what_dvc_yaml_lists_for_the_stage():
    import yaml

    from pipeline.wiring import DVC_YAML, benchmark_code

    stages = yaml.safe_load(DVC_YAML.read_text())["stages"]
    for kind in TARGET_KINDS:
        listed = [d for d in stages[f"benchmark_{kind}"]["deps"] if d.startswith("pipeline")]
        assert [d for d in benchmark_code(kind) if d.startswith("pipeline")] == listed, kind


def _benchmark(project: Path, target: str) -> dict[str, tuple[int, int]]:
    """Run the benchmark stage's command; per level: (variants, taken from the cache)."""
    from conftest import run

    err = run(["python", "-m", "pipeline", "benchmark", target], project).stderr
    return {lvl: (int(n), int(c)) for lvl, n, c in
            re.findall(rf"benchmark@{target}-(\w+): (\d+) variants, (\d+) from the measurement cache", err)}


def test_a_changed_variant_is_the_one_cell_measured_again(built_copy: Path):
    import onnx

    bench = built_copy / "reports" / "bench" / "host"
    built = {f.name: f.read_bytes() for f in bench.glob("*.json")}
    counts = _benchmark(built_copy, "host")  # everything the build measured is in its cache
    assert counts and all(n == c for n, c in counts.values()), counts
    assert {f.name: f.read_bytes() for f in bench.glob("*.json")} == built  # cached = what was measured

    # a new ONNX variant with the same graph (another producer string): its bytes, sidecar and index agree
    folder = built_copy / "models" / "variants" / "fp32"
    index = json.loads((folder / "index.json").read_text())
    entry = index["logreg.onnx.fp32"]
    model = onnx.load(folder / entry["file"])
    model.producer_version += "-edited"
    onnx.save(model, folder / entry["file"])
    meta = json.loads((folder / entry["sidecar"]).read_text())
    meta["sha256"] = pio.sha256_file(folder / entry["file"])
    meta["size_bytes"] = entry["size_bytes"] = (folder / entry["file"]).stat().st_size
    (folder / entry["sidecar"]).write_text(json.dumps(meta))
    (folder / "index.json").write_text(json.dumps(index))

    again = _benchmark(built_copy, "host")
    assert again["fp32"] == (counts["fp32"][0], counts["fp32"][0] - 1)
    assert all(again[lvl] == counts[lvl] for lvl in counts if lvl != "fp32"), again
    before, after = (json.loads(b) for b in (built["fp32.json"], (bench / "fp32.json").read_bytes()))
    assert {k: v for k, v in after.items() if k != "logreg.onnx.fp32"} == \
        {k: v for k, v in before.items() if k != "logreg.onnx.fp32"}
    assert after["logreg.onnx.fp32"]["size_bytes"] == meta["size_bytes"]
    assert after["logreg.onnx.fp32"]["accuracy"] == before["logreg.onnx.fp32"]["accuracy"]  # same graph

    # a host cell's cached entries (its key's and its last measurement's) altered by hand are not believed:
    # that cell alone is measured again (svc has one host cell: svc.onnx.fp32)
    victims = [f for f in sorted((built_copy / ".cache" / "measurements").rglob("*.json"))
               if json.loads(f.read_text())["entry"].get("model") == "svc"
               and "per_class_accuracy" in json.loads(f.read_text())["entry"]]
    assert victims
    measured = json.loads(victims[0].read_text())["entry"]["accuracy"]
    for victim in victims:
        stored = json.loads(victim.read_text())
        stored["entry"]["accuracy"] = 1.0 - measured
        victim.write_text(json.dumps(stored))
    third = _benchmark(built_copy, "host")
    assert sum(n - c for n, c in third.values()) == 1, third
    assert all(json.loads(v.read_text())["entry"]["accuracy"] == measured for v in victims)  # measured again


def test_an_optional_target_without_its_tools_keeps_its_last_measurement(built_copy: Path, tmp_path: Path):
    """No Cortex-M toolchain on PATH and `required: false`: the stage succeeds and leaves every measured cell
    as it was (byte for byte), says so, and writes no path of this machine."""
    import os
    import subprocess

    import yaml

    from conftest import ROOT

    params = yaml.safe_load((built_copy / "params.yaml").read_text())
    params["targets"]["mcu"]["cortex-m4"]["required"] = False
    (built_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    bench = built_copy / "reports" / "bench" / "cortex-m4"
    before = {f.name: f.read_bytes() for f in bench.glob("*.json")}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python", "python3"):
        os.symlink(ROOT / ".venv/bin" / tool, bin_dir / tool)
    res = subprocess.run([str(bin_dir / "python"), "-m", "pipeline", "benchmark", "cortex-m4"], cwd=built_copy,
                         capture_output=True, text=True, env={**os.environ, "PATH": str(bin_dir),
                                                              "PIPELINE_ARM_CACHE": str(ROOT / ".cache" / "arm")})
    assert res.returncode == 0, res.stderr[-3000:]
    assert "kept from their last measurement, 0 skipped" in res.stderr, res.stderr[-3000:]
    assert {f.name: f.read_bytes() for f in bench.glob("*.json")} == before
    for f in bench.glob("*.json"):
        assert str(built_copy) not in f.read_text() and str(ROOT) not in f.read_text(), f
