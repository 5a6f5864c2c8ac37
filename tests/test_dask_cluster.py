"""The stages' fan-out on a Dask cluster started as a user would (`dask scheduler`, two `scripts/dask.sh worker`
workers, DASK_SCHEDULER_ADDRESS set): the features stage and an emulated benchmark stage give what the serial
path gives, byte for byte (instruction counts and answers; wall times aside), with one worker killed mid-stage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run
from pipeline.io import sha256_file

pytestmark = pytest.mark.e2e


@pytest.fixture
def cluster(tmp_path: Path):
    """A scheduler and two single-threaded workers without nannies (a killed one stays dead)."""
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen(["bash", str(ROOT / "scripts/dask.sh"), "scheduler", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        procs += [subprocess.Popen(["bash", str(ROOT / "scripts/dask.sh"), "worker", address, "--no-nanny",
                                    "--name", f"w{i}"], env={**os.environ, "DASK_NWORKERS": "1"},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(2)]
        from distributed import Client

        with Client(address, timeout="60s") as c:
            c.wait_for_workers(2, timeout=120)
            pids = c.run(os.getpid)
        yield address, sorted(pids.values())
    finally:
        for p in reversed(procs):  # the workers, then the scheduler
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def counted(bench: Path) -> dict:
    """What an emulated stage measures, without its wall times: per variant the count and the answers."""
    out = {}
    for f in sorted(bench.glob("*.json")):
        for vid, e in json.loads(f.read_text()).items():
            out[vid] = (e["status"], e.get("instructions_per_inference"), (e.get("record") or {}).get("predictions"))
    return out


def test_features_and_an_emulated_stage_on_a_cluster_equal_the_serial_path(built_copy: Path, cluster, tmp_path):
    address, worker_pids = cluster
    project = built_copy
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["quantization"] = {"fp32": params["quantization"]["fp32"]}  # one level: a dozen emulated variants
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    serial_env = {"PIPELINE_SERIAL": "1", "PIPELINE_MEASUREMENT_CACHE": str(tmp_path / "cache-serial")}
    run(["dvc", "repro", "-f", "-s", "features", "benchmark_qemu@cortex-a53"], project, timeout=1800, env=serial_env)
    features = sha256_file(project / "data/features.npz")
    serial = counted(project / "reports/bench/cortex-a53")
    assert len(serial) >= 8 and all(s == "ok" and n > 0 for s, n, _ in serial.values()), serial

    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}", "DASK_SCHEDULER_ADDRESS": address,
           "PIPELINE_MEASUREMENT_CACHE": str(tmp_path / "cache-cluster"),
           "PIPELINE_ARM_CACHE": str(ROOT / ".cache" / "arm")}
    stage = subprocess.Popen(["dvc", "repro", "-f", "-s", "features", "benchmark_qemu@cortex-a53"], cwd=project,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log, killed = [], False
    for line in stage.stdout:
        log.append(line)
        if not killed and "benchmark@cortex-a53-fp32: " in line and "tasks done" in line:
            os.kill(worker_pids[0], signal.SIGKILL)  # mid-stage: its task is run again on the other worker
            killed = True
    assert stage.wait(timeout=1800) == 0, "".join(log[-60:])
    said = "".join(log)
    assert killed and f"dask: 2 worker(s) on the cluster at {address}" in said, said[-3000:]
    assert "features-train: " in said and "tasks done" in said
    assert sha256_file(project / "data/features.npz") == features
    assert counted(project / "reports/bench/cortex-a53") == serial
