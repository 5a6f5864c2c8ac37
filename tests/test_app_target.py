"""The `app` target kind: every bundle run by the runtimes apps bundle (onnxruntime-node in Node.js, onnxruntime-web
in headless Chromium, TFLite's 2.9 C API), through the reference consumers each bundle carries, with no Python
between the file and the label: they decode 16-bit PCM as Python does, agree with Python on the tiny build's clips,
a file the runtime cannot load is `failed` with the runtime's words, a variant that loads but answers wrongly is
named and never ships there, and every bundle of the task has the same I/O names."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT
from pipeline.io import sha256_file
from pipeline.targets import app_run
from pipeline.bench.child_env import APPS_CACHE_ENV
from pipeline.targets.app import APP_RUNTIMES, Target, consumer_files

APPS = ROOT / ".cache" / "apps"
RUNTIME_OF = {"node-onnxruntime": "onnxruntime-node", "chromium-onnxruntime-web": "onnxruntime-web",
              "c-tflite": "tflite-c"}


def test_the_javascript_consumer_decodes_16_bit_pcm_as_python_does(tmp_path: Path):
    clip = np.sin(np.linspace(0, 40, 1000)) * np.linspace(0, 1.2, 1000)  # past full scale at the end: clipped
    wav = tmp_path / "clip.wav"
    app_run.write_wav(wav, app_run.pcm16(clip), 16000)
    script = ("const C = require(process.argv[1]); const b = require('fs').readFileSync(process.argv[2]);"
              "console.log(JSON.stringify(Array.from(C.decodeWav(new Uint8Array(b), 1200, 'clip.wav'))));")
    out = subprocess.run(["node", "-e", script, str(ROOT / "pipeline/targets/app_js/onnx_consumer.js"), str(wav)],
                         capture_output=True, text=True, check=True).stdout
    decoded = np.array(json.loads(out), dtype=np.float32)
    python, rate = sf.read(wav, dtype="float32")
    assert rate == 16000 and np.array_equal(decoded[:1000], python) and not decoded[1000:].any()  # zero-padded
    assert python.max() == 32767 / 32768  # the clipped peak, as a microphone delivers it

    sf.write(tmp_path / "float.wav", clip.astype(np.float32), 16000, subtype="FLOAT")
    bad = subprocess.run(["node", "-e", script, str(ROOT / "pipeline/targets/app_js/onnx_consumer.js"),
                          str(tmp_path / "float.wav")], capture_output=True, text=True)
    assert bad.returncode != 0 and "not 16-bit PCM mono: clip.wav" in bad.stderr


def bench(project: Path, target: str, level: str) -> dict:
    return json.loads((project / f"reports/bench/{target}/{level}.json").read_text())


@pytest.mark.parametrize("target", sorted(RUNTIME_OF))
def test_every_variant_of_its_formats_runs_outside_python(built_project: Path, target: str):
    runtime = APP_RUNTIMES[RUNTIME_OF[target]]
    ran = 0
    for level in ("fp32", "fp16", "dynamic_int8", "int8", "int16x8"):
        for vid, e in bench(built_project, target, level).items():
            fmt = vid.split(".")[1]
            if fmt not in runtime.formats:
                assert e == {"status": "not_applicable",
                             "reason": f"{runtime.name} runs {', '.join(runtime.formats)} files, not {fmt}"}
                continue
            assert e["status"] == "ok", (vid, e)
            assert e["clips"] == 10 and len(e["predictions"]) == 10 and e["runtime"] == runtime.name
            assert 0 < e["latency_p50_us"] <= e["latency_p99_us"] and e["load_us"] > 0, (vid, e)
            ran += 1
            # the DS-CNN's stem is an explicit pad and a VALID convolution (the next test); int8 and int16x8 included: TFLite 2.9 has no per-channel dense kernels (the converter keeps them per tensor)
            assert e["python_agreement"] >= 0.995, (vid, e)
            if level == "fp32":
                assert e["python_agreement"] == 1.0 and e["max_probability_diff"] < 1e-4, (vid, e)
    assert ran >= 12


def test_tflite_29_answers_a_same_stem_wrongly_and_the_exported_pad_right(built_project: Path, tmp_path: Path,
                                                                          monkeypatch):
    """The defect the DS-CNN's explicit stem padding avoids, on the real runtime: one trained DS-CNN with stem
    stride 2x4 over a 3x3 kernel, converted as the pipeline does (ZeroPadding2D + VALID) and with Keras' SAME
    convolution, same weights; TFLite 2.9's C API with XNNPACK loads both, answers the SAME file differently
    from LiteRT (the wrong verdict the report names) and the exported one the same."""
    from pipeline.export.tflite import from_saved_model
    from pipeline.export.tflite_strip import strip_internal_names
    from pipeline.models import dscnn
    from pipeline.models import keras_models as km

    monkeypatch.setenv(APPS_CACHE_ENV, str(APPS))
    d = np.load(built_project / "models/keras/small/features.npz")  # 20 x 32 MFCCs, like the default dscnn_xs
    y = np.load(built_project / "data/features.npz")["y_train"]
    spec = dscnn.DscnnSpec(type="dscnn", filters=8, blocks=1, stem_kernel=(3, 3), stem_stride=(2, 4), dropout=0.0,
                           epochs=3, batch_size=8, learning_rate=0.01, features={})
    km.configure_determinism(0)
    exported = km.build(d["X_train"].shape[1:], 5, spec, d["X_train"])
    km.train(exported, d["X_train"], y, d["X_train"], y, epochs=3, batch_size=8, learning_rate=0.01)
    monkeypatch.setattr(dscnn, "same_padding", lambda *_: None)
    same = km.build(d["X_train"].shape[1:], 5, spec, d["X_train"])
    same.set_weights(exported.get_weights())
    inputs = tmp_path / "X.npy"
    np.save(inputs, np.concatenate([d["X_train"], d["X_test"]]))
    jobs = []
    for name, model in (("exported", exported), ("same", same)):
        vid = f"{name}.tflite.fp32"  # the job's id; the folder keeps the bundle's name, as open_bundle requires
        bundle = shutil.copytree(built_project / "models/variants/fp32/small.tflite.fp32",
                                 tmp_path / name / "small.tflite.fp32")
        km.export_saved_model(model, str(tmp_path / f"{name}_saved"))
        artefact = bundle / "small.tflite.fp32.tflite"
        artefact.write_bytes(strip_internal_names(from_saved_model(tmp_path / f"{name}_saved", "fp32", None)))
        sidecar = bundle / "small.tflite.fp32.json"
        sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "sha256": sha256_file(artefact)}))
        jobs.append({"id": vid, "format": "tflite", "model": "small", "family": "keras", "artefact": str(artefact),
                     "inputs": str(inputs), "runtime": "litert"})
    work = tmp_path / "work"
    work.mkdir()
    got = app_run.measure("c-tflite", Target(runtime="tflite-c", clips=None, required=True),
                          {"level": "fp32", "threads": 1, "warmup": 1, "jobs": jobs}, work)
    ok, wrong = got["exported.tflite.fp32"], got["same.tflite.fp32"]
    assert ok["python_agreement"] == 1.0 and ok["max_probability_diff"] < 1e-4, ok
    assert wrong["status"] == "ok" and wrong["max_probability_diff"] > 0.05, wrong  # loads, answers otherwise


@pytest.mark.parametrize("runtime, fmt, words", [("onnxruntime-node", "onnx", "the runtime cannot load"),
                                                 ("onnxruntime-web", "onnx", "the runtime cannot load"),
                                                 ("tflite-c", "tflite", "the runtime cannot read the model")])
def test_a_file_the_runtime_cannot_load_is_failed_with_its_words(built_project: Path, tmp_path: Path, monkeypatch,
                                                                  runtime: str, fmt: str, words: str):
    monkeypatch.setenv(APPS_CACHE_ENV, str(APPS))
    vid = f"keras_e2e.{fmt}.fp32"
    bundle = shutil.copytree(built_project / "models/variants/fp32" / vid, tmp_path / vid)
    artefact = next(p for p in bundle.iterdir() if p.suffix in (".onnx", ".tflite"))
    artefact.write_bytes(artefact.read_bytes()[:200])  # cut short: not a model any more, its sidecar agreeing
    sidecar = bundle / f"{vid}.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "sha256": sha256_file(artefact)}))
    inputs = tmp_path / "audio.npy"
    np.save(inputs, np.zeros((2, 16000), np.float32))
    job = {"id": vid, "format": fmt, "model": "keras_e2e", "family": "keras_e2e", "artefact": str(artefact),
           "inputs": str(inputs), "runtime": "onnxruntime" if fmt == "onnx" else "litert"}
    # a sound bundle after it, measured in the same run (the browser's driver runs a level's bundles in one process)
    sound = {**job, "id": f"sound.{fmt}.fp32",
             "artefact": str(next(built_project.glob(f"models/variants/fp32/{vid}/*.{fmt}")))}
    spec = {"level": "fp32", "threads": 1, "warmup": 1, "jobs": [job, sound]}
    work = tmp_path / "work"
    work.mkdir()
    got = app_run.measure("app", Target(runtime=runtime, clips=None, required=True), spec, work)
    broken = got[vid]
    assert broken["status"] == "failed" and broken["reason"].startswith(f"{runtime}: ") and words in broken["reason"], \
        broken
    assert got[sound["id"]]["status"] == "ok" and got[sound["id"]]["python_agreement"] == 1.0, got[sound["id"]]


def checked(m: dict, accelerators: set[str]) -> None:
    """The runtime's checker's verdict per accelerator, or its own failure in words (onnx's strict shape inference
    refuses skl2onnx's Scaler -> Cast -> MatMul graphs: the mlp)."""
    found = m["mobile_accelerators"]
    if found["accelerators"]:
        assert set(found["accelerators"]) == accelerators and found["checked_by"], m["variant"]
        assert all(a["verdict"] in ("yes", "partly", "no") for a in found["accelerators"].values()), m["variant"]
    else:
        assert found["note"].startswith("the checker raised ") and m["model"].startswith("mlp"), (m["variant"], found)


def test_every_bundle_of_the_task_has_one_io_contract(built_project: Path):
    """An app swaps bundles by changing the file: the same input and output names whatever the family, format
    and level (no label output), and each bundle states which mobile accelerators its runtime's checker clears."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    seen = 0
    for sidecar in sorted(built_project.glob("models/variants/*/*/*.json")):
        m = json.loads(sidecar.read_text())
        e2e = m["model"].endswith("_e2e")
        artefact = sidecar.parent / m["file"]
        assert (m["input"]["name"], m["output"]["name"]) == ("waveform" if e2e else "mfcc", "probabilities"), m
        if m["format"] == "onnx":
            s = ort.InferenceSession(str(artefact), providers=["CPUExecutionProvider"])
            inputs, outputs = [i.name for i in s.get_inputs()], [o.name for o in s.get_outputs()]
            checked(m, {"NNAPI", "CoreML"})
        else:
            it = Interpreter(model_path=str(artefact))
            inputs, outputs = [d["name"] for d in it.get_input_details()], [d["name"] for d in it.get_output_details()]
            checked(m, {"GPU delegate"})
        assert inputs == [m["input"]["name"]] and sorted(outputs) == sorted(["probabilities", *(["mfcc"] * e2e)]), \
            (m["variant"], inputs, outputs)
        for name, source in consumer_files(m["format"]).items():  # the consumers the app targets run, copied in
            assert (sidecar.parent / name).read_bytes() == source.read_bytes(), (m["variant"], name)
        readme = (sidecar.parent / "README.md").read_text()
        asked = m["runtime_requirement"]  # what the file asks of its runtime, in its own words
        if m["format"] == "onnx":
            import onnx

            opsets = {o.domain or "ai.onnx": o.version for o in onnx.load(str(artefact)).opset_import}
            assert asked["opsets"] == opsets and f"ONNX IR version {asked['ir_version']}" in readme, m["variant"]
        else:
            assert re.fullmatch(r"\d+\.\d+\.\d+", asked["min_runtime_version"]), (m["variant"], asked)
            assert f"TensorFlow Lite {asked['min_runtime_version']} or later" in readme, m["variant"]
        assert "## Runtime versions" in readme and "Runs outside Python" in readme, m["variant"]
        assert "## Outside Python" in readme and f"{m['file']} {','.join(map(str, m['input']['shape']))} " \
            f"{m['features']['sample_rate']} probabilities" in readme, m["variant"]
        seen += 1
    assert seen >= 40


@pytest.mark.parametrize("target, vid", [("node-onnxruntime", "keras_e2e.onnx.fp32"),
                                         ("chromium-onnxruntime-web", "keras_e2e.onnx.fp32"),
                                         ("c-tflite", "keras_e2e.tflite.fp32")])
def test_bad_audio_is_a_clear_error_in_each_consumer(built_project: Path, tmp_path: Path, monkeypatch, target: str,
                                                     vid: str):
    """What an app feeds by mistake: a WAV cut short (its header promises more samples) and one at another rate.
    Each consumer refuses it in its own language, naming the file and what was wrong, with a non-zero exit."""
    from pipeline.targets.app import consumer_args

    monkeypatch.setenv(APPS_CACHE_ENV, str(APPS))
    runtime = APP_RUNTIMES[RUNTIME_OF[target]]
    bundle = built_project / "models/variants/fp32" / vid
    meta = json.loads((bundle / f"{vid}.json").read_text())
    command = app_run.consumer_command(runtime, bundle, app_run.check_provisioned(runtime), tmp_path)
    clip = app_run.pcm16(0.1 * np.sin(np.linspace(0, 2000, 16000)))
    app_run.write_wav(tmp_path / "at_8k.wav", clip, 8000)
    app_run.write_wav(tmp_path / "cut.wav", clip, 16000)
    whole = (tmp_path / "cut.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[:len(whole) // 2])
    for name, words in (("at_8k.wav", "at_8k.wav is sampled at 8000 Hz; the model takes 16000 Hz"),
                        ("cut.wav", "truncated WAV")):
        env = {**app_run.harness_env(1), "NODE_PATH": str(APPS / "node_modules"), "TMPDIR": "/tmp"}
        res = subprocess.run([*command, *consumer_args(meta, str(bundle / meta["file"]), 1, 1), str(tmp_path / name)],
                             capture_output=True, text=True, env=env, timeout=300)
        assert res.returncode != 0 and words in res.stderr and name in res.stderr, (name, res.stderr[-800:])
        said = [line for line in res.stderr.splitlines() if line.strip() and not line.startswith("INFO: ")]
        assert len(said) == 1, said  # one line that says it, no stack trace
