"""A self-contained HTML report: tables plus inline SVG plots (no script, no CDN, opens offline)."""

from __future__ import annotations

import html
import io

from pipeline.report.markdown import (E2E_COLUMNS, HOST_COLUMNS, KERNEL_COLUMNS, KERNEL_NOTE, PARITY_COLUMNS,
                                     TARGET_COLUMNS, Column)

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #ddd}
th{background:#f4f4f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;max-width:80ch}.plot svg{max-width:100%;height:auto}
.label{display:inline-block;padding:1px 6px;border-radius:3px;font-size:12px;background:#fde2b0}
"""


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "pipeline", "svg.fonttype": "none", "font.size": 9})
    return plt


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _plt().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def size_accuracy_svg(rows: list[dict]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    markers = {"onnx": "o", "tflite": "s"}
    models = sorted({r["model"] for r in rows})
    for i, model in enumerate(models):
        for r in (r for r in rows if r["model"] == model):
            ax.scatter(r["size_bytes"] / 1024, 100 * r["accuracy"], color=f"C{i}", marker=markers.get(r["format"], "^"),
                       label=model if r is next(x for x in rows if x["model"] == model) else None)
            ax.annotate(f"{r['format']}.{r['quantization']}", (r["size_bytes"] / 1024, 100 * r["accuracy"]),
                        fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("file size (KB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Size vs accuracy (o = ONNX, □ = TFLite)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _svg(fig)


def bars_svg(labels: list[str], values: list[float], xlabel: str, title: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(labels) + 1))
    ax.barh(labels, values, color="C0")
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:,.4g}", va="center", fontsize=6)
    return _svg(fig)


def history_svg(history: list[dict]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    epochs = [int(r["epoch"]) for r in history]
    for key in ("accuracy", "val_accuracy"):
        ax.plot(epochs, [float(r[key]) for r in history], label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title("Keras training history")
    ax.legend()
    ax.grid(alpha=0.3)
    return _svg(fig)


def html_table(rows: list[dict], columns: list[Column]) -> str:
    head = "".join(f"<th>{html.escape(c[0])}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i else ''}>{html.escape(f(r.get(k)))}</td>"
                         for i, (_, k, f) in enumerate(columns)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def e2e_html(title: str, rows: list[dict], hop_ms: float, estimate: bool) -> list[str]:
    if not rows:
        return []
    kind = "estimated device latency (an estimate)" if estimate else "measured host p50"
    return [f"<h3>{html.escape(title)}: end-to-end cost split</h3>",
            f"<p class=note>Times: {kind}. Inference = the matching feature-input variant in the same run; feature "
            f"extraction = end-to-end minus inference. Streaming load: share of the {hop_ms:g} ms hop budget "
            "used by one inference on a 1 s window (over 100% cannot keep up).</p>",
            html_table(rows, E2E_COLUMNS), "<div class=plot>",
            bars_svg([r["variant"] for r in rows], [max(r["streaming_load"] * 100, 1e-3) for r in rows],
                     f"% of the {hop_ms:g} ms streaming budget (log scale)", f"{title}: streaming load"), "</div>"]


def render(host: list[dict], targets: dict[str, tuple[dict, list[dict]]], not_applicable: list[dict],
           history: list[dict], threads: int, parity: list[dict] = (), e2e: dict | None = None,
           hop_ms: float = 20.0, kernels: list[dict] = ()) -> str:
    e2e = e2e or {}
    parts = ["<h1>Deployment report</h1>",
             f"<p class=note>Host CPU, {threads} thread(s): measured wall time of single-sample calls after warm-up. "
             "Ratios compare each variant with the fp32 variant of the same model and format in the same run.</p>",
             "<h2>Host</h2>", html_table(host, HOST_COLUMNS),
             "<div class=plot>", size_accuracy_svg(host), "</div>",
             "<div class=plot>", bars_svg([r["variant"] for r in host], [r["latency_p50_us"] for r in host],
                                          "p50 latency (µs, log scale)", "Host latency per variant (measured)"),
             "</div>"]
    if kernels:
        parts += ["<h3>Host kernels that change the answers</h3>", f"<p class=note>{html.escape(KERNEL_NOTE)}</p>",
                  html_table(list(kernels), KERNEL_COLUMNS)]
    if parity:
        parts += ["<h3>End-to-end parity</h3>",
                  "<p class=note>In-graph MFCCs vs the training features (librosa, per clip) on every test clip; "
                  "top-1 agreement with librosa features + the unconverted Keras model.</p>",
                  html_table(list(parity), PARITY_COLUMNS), "<div class=plot>",
                  bars_svg([r["variant"] for r in parity], [max(r["mfcc_max_abs_diff"], 1e-9) for r in parity],
                           "max |MFCC difference| vs librosa (log scale; target 1e-3)", "Front-end parity"),
                  "</div>"]
    parts += e2e_html("Host", e2e.get("host", []), hop_ms, estimate=False)
    for name, (target, rows) in targets.items():
        ok = [r for r in rows if r["status"] == "ok"]
        parts += [f"<h2>{html.escape(name)} <span class=label>emulated</span></h2>",
                  f"<p class=note>QEMU user mode, <code>-cpu {html.escape(str(target['cpu']))}</code>. Instruction "
                  "counts are exact and deterministic for the inference region. The device latency is an "
                  f"<b>estimate</b> (instructions / (IPC {target['ipc']} × {target['clock_ghz']} GHz), nominal "
                  "figures); emulated wall time is <b>not</b> device time.</p>"]
        if ok:
            parts += [html_table(ok, TARGET_COLUMNS), "<div class=plot>",
                      bars_svg([r["variant"] for r in ok], [r["instructions_per_inference"] for r in ok],
                               "instructions per inference (log scale)", f"{name}: instructions per inference"),
                      "</div>"]
        parts += e2e_html(name, e2e.get(name, []), hop_ms, estimate=True)
        for r in rows:
            if r["status"] != "ok":
                parts.append(f"<p class=note>Skipped: {html.escape(r['reason'])}</p>")
                break
    if not_applicable:
        parts += ["<h2>Not applicable</h2>", "<table><tr><th>Variant</th><th>Why it cannot be built</th></tr>",
                  *(f"<tr><td>{html.escape(r['variant'])}</td><td>{html.escape(r['reason'])}</td></tr>"
                    for r in not_applicable), "</table>"]
    if history:
        parts += ["<h2>Training</h2><div class=plot>", history_svg(history), "</div>"]
    body = "\n".join(parts)
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Deployment report</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")
