"""Which convolutions TFLite 2.9's XNNPACK delegate (the C library apps may bundle, npm tfjs-tflite-node) gets
wrong: one-layer models (a convolution, then a dense layer), converted with this TensorFlow, run by the app
target's C consumer with and without XNNPACK and compared with LiteRT on the same inputs.

    .venv/bin/python benchmarks/tflite29_xnnpack_stride.py   # after `make setup`; writes results/tflite29_xnnpack.json
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "tflite29_xnnpack.json"
# (layer, kernel, stride, padding): the stem shapes of the DS-CNN entries and their neighbours
CASES = [("conv", 3, (2, 2), "same"), ("conv", 3, (2, 4), "same"), ("conv", 3, (4, 4), "same"),
         ("conv", 3, (1, 2), "same"), ("conv", 3, (2, 1), "same"), ("conv", 3, (2, 4), "valid"),
         ("conv", 1, (2, 4), "same"), ("depthwise", 3, (2, 2), "same"), ("depthwise", 3, (2, 4), "same")]
SHAPE = (20, 32, 1)  # dscnn_xs's MFCC matrix: 20 coefficients x 32 frames


def one_layer(tf, layer: str, kernel: int, stride: tuple[int, int], padding: str) -> bytes:
    L = tf.keras.layers
    inp = tf.keras.Input(SHAPE, batch_size=1)
    conv = (L.Conv2D(8, kernel, strides=stride, padding=padding) if layer == "conv"
            else L.DepthwiseConv2D(kernel, strides=stride, padding=padding))
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Model(inp, L.Dense(5)(L.Flatten()(conv(inp))))
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def main() -> int:
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from pipeline.bench.child_env import apps_modules
    from pipeline.targets.app import APP_RUNTIMES
    from pipeline.targets.app_run import check_provisioned, consumer_command

    x = np.random.default_rng(0).normal(size=(8, *SHAPE)).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runtime = APP_RUNTIMES["tflite-c"]
        (work / runtime.consumer.name).write_bytes(runtime.consumer.read_bytes())  # as a bundle carries it
        command = consumer_command(runtime, work, check_provisioned(runtime), work)
        files = []
        for i, clip in enumerate(x):
            files.append(str(work / f"{i}.f32"))
            clip.astype("<f4").tofile(files[-1])
        for layer, kernel, stride, padding in CASES:
            data = one_layer(tf, layer, kernel, stride, padding)
            (work / "m.tflite").write_bytes(data)
            it = Interpreter(model_content=data)
            it.allocate_tensors()
            out = it.get_output_details()[0]
            ref = []
            for clip in x:
                it.set_tensor(it.get_input_details()[0]["index"], clip[None])
                it.invoke()
                ref.append(it.get_tensor(out["index"])[0])
            row = {"layer": layer, "kernel": kernel, "stride": list(stride), "padding": padding}
            for label, env in (("xnnpack", {}), ("no_delegate", {"TFLITE_CONSUMER_NO_XNNPACK": "1"})):
                res = subprocess.run([*command, str(work / "m.tflite"), "1," + ",".join(map(str, SHAPE)), out["name"],
                                      "0", "0", "0", "0", "1", "1", *files], capture_output=True, text=True,
                                     env={**os.environ, **env}, check=True)
                got = np.array([[float(v) for v in line.split()[1:]] for line in res.stdout.splitlines()[2:]])
                row[f"max_abs_diff_{label}"] = float(np.abs(got - np.array(ref)).max())
            rows.append(row)
            print(row)
    version = json.loads((apps_modules() / "tfjs-tflite-node" / "package.json").read_text())["version"]
    OUT.write_text(json.dumps({"date": str(date.today()), "machine": platform.processor() or platform.machine(),
                               "tensorflow": tf.__version__, "tfjs_tflite_node": version, "cases": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
