"""Which layer loses what: per-layer quantization error of a calibrated (int8, int16x8) variant, measured with
the converters' own tools on calibration data, written beside the artefact (quant_error.csv) and named in the
report (its worst layer).

- TFLite: `tf.lite.experimental.QuantizationDebugger` on the quantized classifier (the part after the float
  standardisation): per layer the root-mean-square error against the float model in units of the layer's
  quantization step (rmse / scale; above 1: the layer's error exceeds one step). It quantizes with int8
  activations only, so int16x8 has no figures (said so in the variant's index entry).
- ONNX: onnxruntime's `quantization.qdq_loss_debug`: per tensor the signal-to-quantization-noise ratio of
  the quantized graph's activation against the float graph's (SQNR in dB; lower is worse).
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np

COLUMNS = ["index", "layer", "error", "unit"]
TFLITE_UNIT = "rmse / scale (quantization steps; higher is worse)"
ONNX_UNIT = "SQNR vs float, dB (lower is worse)"
ONNX_TOOL = "onnxruntime's qdq_loss_debug"
ONNX_NO_MATCH_REASON = (f"{ONNX_TOOL} matched no activation of this graph (its int16 Q/DQ are "
                        "com.microsoft operators, which the tool does not pair with the float graph): no per-layer figures")
TFLITE_INT16_REASON = ("TensorFlow's QuantizationDebugger quantizes with int8 activations only: no per-layer "
                       "figures for int16x8")


def to_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for i, r in enumerate(rows):
        writer.writerow({"index": i, "layer": r["layer"], "error": f"{r['error']:.6g}", "unit": r["unit"]})
    return buf.getvalue().encode()


def worst(rows: list[dict]) -> dict | None:
    """The layer that loses most: the highest rmse/scale, or the lowest SQNR."""
    if not rows:
        return None
    pick = min(rows, key=lambda r: r["error"]) if rows[0]["unit"] == ONNX_UNIT else max(rows, key=lambda r: r["error"])
    return {"layer": pick["layer"], "error": round(float(pick["error"]), 6), "unit": pick["unit"]}


def tflite_layer_errors(keras_model, level: str, calibration: np.ndarray, options=None) -> list[dict]:
    import tensorflow as tf

    from pipeline.export.tflite import TFLITE_LEVELS, _representative
    from pipeline.models.keras_models import export_saved_model, split_standardisation

    front, body = split_standardisation(keras_model)
    standardised = np.asarray(front([calibration.astype(np.float32)], training=False), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        export_saved_model(body, str(Path(tmp) / "body"))
        conv = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "body"))
        TFLITE_LEVELS[level](conv, tf, standardised, options)
        debugger = tf.lite.experimental.QuantizationDebugger(converter=conv,
                                                              debug_dataset=_representative(standardised))
        debugger.run()
        buf = io.StringIO()
        debugger.layer_statistics_dump(buf)
    rows = []
    for r in csv.DictReader(io.StringIO(buf.getvalue())):
        scale = float(r["scale"])
        if scale > 0:
            rows.append({"layer": f"{r['op_name']} {r['tensor_name'].split(';')[0]}",
                         "error": float(np.sqrt(float(r["mean_squared_error"])) / scale), "unit": TFLITE_UNIT})
    return rows


def onnx_layer_errors(float_model, quantized_model, calibration: np.ndarray) -> list[dict]:
    import onnx
    from onnxruntime.quantization import qdq_loss_debug as qd

    from pipeline.export.onnx import _calibration_reader

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, model in (("float", float_model), ("quantized", quantized_model)):
            onnx.save(model, f"{tmp}/{name}.onnx")
            qd.modify_model_output_intermediate_tensors(f"{tmp}/{name}.onnx", f"{tmp}/{name}_all.onnx")
            paths[name] = f"{tmp}/{name}_all.onnx"
        acts = {name: qd.collect_activations(path, _calibration_reader(float_model, calibration))
                for name, path in paths.items()}
    errors = qd.compute_activation_error(qd.create_activation_matching(acts["quantized"], acts["float"]))
    order = {o: i for i, n in enumerate(float_model.graph.node) for o in n.output}
    return [{"layer": t, "error": float(e["xmodel_err"]), "unit": ONNX_UNIT}
            for t, e in sorted(errors.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
            if "xmodel_err" in e and np.isfinite(e["xmodel_err"])]
