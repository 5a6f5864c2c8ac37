"""The promises of the README under `dvc repro`, `dvc exp run` and bad input, on the built tiny project: a test
that changes anything (params, files, commits, DVC's config) works on its own copy."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run
from pipeline import io as pio

pytestmark = pytest.mark.e2e


def every_output(project: Path) -> dict[str, str]:
    """sha256 of every file the pipeline writes (data, models, reports), the ones DVC does not cache included."""
    return {str(p.relative_to(project)): pio.sha256_file(p)
            for top in ("data", "models", "reports") for p in sorted((project / top).rglob("*")) if p.is_file()}


@pytest.mark.parametrize("key,value", [("features.n_fft", 4), ("data.folder", "data/nowhere")])
def test_a_bad_param_under_dvc_repro_leaves_every_output_as_it_was(built_copy: Path, key, value):
    params_file = built_copy / "params.yaml"
    before = every_output(built_copy)
    raw = yaml.safe_load(params_file.read_text())
    section, name = key.split(".")
    raw[section][name] = value
    params_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    res = run(["dvc", "repro"], built_copy, check=False, timeout=600)
    assert res.returncode != 0
    assert key in res.stdout + res.stderr or value in res.stdout + res.stderr
    assert every_output(built_copy) == before


def test_outputs_get_the_users_umask(built_project: Path):
    """Like any other file (a teammate, a web server or a shared cache can read them), not mkstemp's and
    mkdtemp's private 0600 / 0700."""
    umask = os.umask(0)
    os.umask(umask)
    for rel in ("reports/report.md", "reports/metrics.json", "data/audio", "models/keras", "models/variants/int8",
                "models/variants/int8/keras.tflite.int8/keras.tflite.int8.tflite"):
        path = built_project / rel
        want = (0o777 if path.is_dir() else 0o666) & ~umask
        assert stat.S_IMODE(path.stat().st_mode) == want, f"{rel}: {oct(stat.S_IMODE(path.stat().st_mode))}"


def test_a_killed_write_leaves_nothing_dvc_sees_and_the_next_write_clears_it(built_copy: Path):
    level = built_copy / "models/variants/fp32"
    litter = level.with_name(".fp32.killed.tmp")  # what kill -9 during replace_dir leaves
    litter.mkdir()
    (litter / "half.onnx").write_bytes(b"\0" * 10)
    assert "up to date" in run(["dvc", "status"], built_copy).stdout  # ignored: report is not stale
    files = {str(p.relative_to(level)): p.read_bytes() for p in sorted(level.rglob("*")) if p.is_file()}
    pio.replace_dir(level, files)  # the next run of convert@fp32 writes the same folder
    assert not litter.exists()
    assert "up to date" in run(["dvc", "status"], built_copy).stdout


def test_an_experiment_in_a_temporary_copy_measures_the_emulated_target(built_copy: Path):
    """`dvc exp run --temp` runs in <checkout>/.dvc/tmp/exps/..., which has no .cache/arm: the emulation
    cache is found in the checkout, so an optional target is measured, not skipped in silence."""
    cache = built_copy / ".cache" / "arm"
    cache.parent.mkdir(exist_ok=True)
    if not cache.exists():
        cache.symlink_to(ROOT / ".cache" / "arm")  # where a user's `make arm` puts it
    # an experiment starts from a commit: the built state, its dvc.lock and outputs (from DVC's cache)
    run(["git", "add", "-A"], built_copy)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "built"], built_copy)
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_ARM_CACHE"}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    # an empty measurement cache: the checkout's would answer every cell without running the emulator
    env["PIPELINE_MEASUREMENT_CACHE"] = str(built_copy.parent / "empty-measurement-cache")
    res = subprocess.run(["dvc", "exp", "run", "--temp", "-S", "targets.qemu.cortex-a53.required=false", "-f", "-s",
                          "benchmark_qemu@cortex-a53"], cwd=built_copy, env=env, capture_output=True, text=True,
                         timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    # every variant of the level ran in the emulator (the executor's progress), none was skipped
    assert re.search(r"benchmark@cortex-a53-fp32: (\d+)/\1 tasks done", out) and "skipped" not in out, out[-3000:]


def classify(project: Path, bundle: Path, wav: Path):
    return run([str(ROOT / ".venv" / "bin" / "python"), "-m", "pipeline", "classify", str(bundle), str(wav)], project,
               check=False)


def test_classify_refuses_what_would_give_a_confident_wrong_answer(built_project: Path, tmp_path: Path):
    import shutil

    import numpy as np
    import soundfile as sf

    level = built_project / "models/variants/int8"
    bundle = level / "keras_e2e.tflite.int8"
    good = np.zeros(16000, np.float32)
    cases = {"nan.wav": np.full(16000, np.nan, np.float32), "loud.wav": np.full(16000, 3.0, np.float32)}
    for name, clip in cases.items():
        sf.write(tmp_path / name, clip, 16000, subtype="FLOAT")
    sf.write(tmp_path / "ok.wav", good, 16000, subtype="FLOAT")

    res = classify(built_project, bundle, tmp_path / "nan.wav")
    assert res.returncode == 1 and "16000 of 16000 samples are NaN" in res.stderr and "keras_e2e.tflite.int8" in res.stderr
    res = classify(built_project, bundle, tmp_path / "loud.wav")
    assert res.returncode == 1 and "samples reach 3" in res.stderr and "[-1, 1]" in res.stderr
    res = classify(built_project, level, tmp_path / "ok.wav")
    assert res.returncode == 1 and "is a level folder" in res.stderr and "Traceback" not in res.stderr
    res = classify(built_project, built_project / "models/variants/fp32/logreg.onnx.fp32", tmp_path / "ok.wav")
    assert res.returncode == 1 and "not audio" in res.stderr  # the variant a user can take instead, by its id
    assert "its end-to-end twin logreg_e2e.onnx.fp32 (beside it) takes audio" in res.stderr
    res = classify(built_project, bundle, tmp_path)  # a folder where the WAV goes
    assert res.returncode == 1 and f"{tmp_path}: is a folder; give a WAV file" in res.stderr

    cut = tmp_path / "cut.wav"  # 4 s of 16-bit PCM, the second half of the file lost
    sf.write(cut, np.zeros(64000, np.float32), 16000, subtype="PCM_16")
    cut.write_bytes(cut.read_bytes()[:44 + 64000])
    res = classify(built_project, bundle, cut)
    assert res.returncode == 0 and "note: cut.wav is cut short: its header declares 128,000 bytes of samples and " \
        "the file holds 64,000; classified as the 2 s it holds" in res.stderr, res.stderr
    assert "XNNPACK" not in res.stderr  # the runtime's start-up line is not the user's business
    long = tmp_path / "five_minutes.wav"  # done in about a second: no line a second of audio
    sf.write(long, 0.01 * np.sin(np.arange(300 * 16000) / 7.0).astype(np.float32), 16000, subtype="FLOAT")
    said = classify(built_project, bundle, long).stderr.splitlines()
    assert len([line for line in said if line.startswith("classify: ")]) < 10, said

    corrupt = tmp_path / "corrupt"
    shutil.copytree(bundle, corrupt / bundle.name)
    artefact = corrupt / bundle.name / f"{bundle.name}.tflite"
    artefact.write_bytes(artefact.read_bytes()[:1000])
    res = classify(built_project, corrupt / bundle.name, tmp_path / "ok.wav")
    assert res.returncode == 1 and "SHA-256" in res.stderr and str(artefact) in res.stderr
    assert "Traceback" not in res.stderr


def test_dvc_plots_page_renders_offline(built_copy: Path, tmp_path: Path):
    """`make setup` points DVC at a template with vega, vega-lite and vega-embed inlined from npm: the page
    DVC writes renders every plot in a browser that cannot reach any network (DVC's own loads a CDN)."""
    from test_report_browser import find_chromium, load

    template = ROOT / ".cache" / "plots" / "offline.html"
    assert template.is_file(), "run `make setup` (scripts/plots_template.py)"
    run(["dvc", "config", "--local", "plots.html_template", str(template)], built_copy)
    run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], built_copy)
    page = tmp_path / "plots" / "index.html"
    assert "cdn.jsdelivr" not in page.read_text()
    binary = find_chromium()
    if binary is None:  # like the report's browser test: CI must run it, a developer's machine may lack it
        msg = "no headless Chromium (make setup installs it)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    seen = load(binary, page, tmp_path / "browser")
    assert seen["loaded"] and seen["problems"] == [], seen["problems"]
    plots = len(yaml.safe_load((built_copy / "dvc.yaml").read_text())["stages"]["report"]["plots"]) + 1
    assert seen["dom"].count("<canvas") >= plots  # vega-embed drew each plot (keras history, size, latency, cost)
