"""The report as data: an ordered list of sections, each with its wording, table, plots and remarks.

Everything the report says is decided here, once: headings, paragraphs, column headers and number
formats, plot titles and what they show. pipeline/report/markdown.py and html.py only lay a Report
out; neither adds or drops content. Built from the rows pipeline/report/tables.py computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

from pipeline.export.formats import FORMATS

TITLE = "Deployment report"


# --------------------------------------------------------------------------- inline text


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Em:
    text: str


Text = tuple[str | Code | Strong | Em, ...]  # one paragraph: plain runs and marked-up runs


# --------------------------------------------------------------------------- numbers


def _num(v, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def _kb(v) -> str:
    return _num(None if v is None else v / 1024, ",.1f")


def _pct(v) -> str:
    return _num(None if v is None else 100 * v, ".1f") + ("" if v is None else "%")


def _pts(v) -> str:
    return "–" if v is None else f"{100 * v:+.1f} pts"


def _interval(v) -> str:
    return "–" if not v else f"{100 * v[0]:.1f}–{100 * v[1]:.1f}%"


def _x(v) -> str:
    return _num(v, ".2f") + ("" if v is None else "×")


def _fixed(fmt: str) -> Callable:
    return lambda v: _num(v, fmt)


# --------------------------------------------------------------------------- the model


class Column(NamedTuple):
    header: str
    key: str
    fmt: Callable = str
    numeric: bool = True  # right-aligned


def _text(header: str, key: str) -> Column:
    return Column(header, key, str, numeric=False)


@dataclass(frozen=True)
class Table:
    rows: tuple[dict, ...]
    columns: tuple[Column, ...]

    def header(self) -> list[str]:
        return [c.header for c in self.columns]

    def body(self) -> list[list[str]]:
        return [[c.fmt(row.get(c.key)) for c in self.columns] for row in self.rows]


class Point(NamedTuple):
    x: float
    y: float
    group: str  # one colour (and legend entry) per group
    marker: str  # matplotlib marker
    label: str  # annotation next to the point


@dataclass(frozen=True)
class Plot:
    """kind "scatter": data = Points; "bars": (label, value) pairs; "lines": (name, xs, ys) series."""

    kind: str
    title: str
    xlabel: str
    data: tuple
    ylabel: str = ""
    log_x: bool = True


@dataclass(frozen=True)
class Section:
    title: str
    level: int = 2
    badge: str | None = None  # a label next to the title, e.g. "emulated"
    notes: tuple[Text, ...] = ()  # paragraphs before the table
    table: Table | None = None
    plots: tuple[Plot, ...] = ()
    remarks: tuple[Text, ...] = ()  # lines after the table and plots (host mismatches, skipped)


@dataclass(frozen=True)
class Report:
    sections: tuple[Section, ...] = ()

    @property
    def title(self) -> str:
        return self.sections[0].title if self.sections else TITLE


# --------------------------------------------------------------------------- columns and wording

HOST_COLUMNS = (
    _text("Variant", "variant"),
    Column("Size (KB)", "size_bytes", _kb),
    Column("Size vs fp32", "size_vs_fp32", _x),
    Column("Accuracy", "accuracy", _pct),
    Column("Δ accuracy vs fp32", "accuracy_change_vs_fp32", _pts),
    Column("Agreement with source", "agreement", _pct),
    Column("p50 (µs)", "latency_p50_us", _fixed(",.1f")),
    Column("Speed-up vs fp32", "speedup_vs_fp32", _x),
    Column("Accuracy, 95% interval", "accuracy_ci95", _interval),
)

PARITY_COLUMNS = (
    _text("End-to-end variant", "variant"),
    Column("MFCC max abs diff vs librosa", "mfcc_max_abs_diff", _fixed(".1e")),
    Column("MFCC mean abs diff", "mfcc_mean_abs_diff", _fixed(".1e")),
    Column("Agreement with librosa + the unconverted model", "agreement", _pct),
    Column("Accuracy", "accuracy", _pct),
    Column("Δ accuracy vs feature-input twin", "accuracy_change_vs_feature_input", _pts),
)

KERNEL_COLUMNS = (
    _text("Variant", "variant"),
    Column("Accuracy, host's optimised kernels", "accuracy", _pct),
    Column("Accuracy, reference kernels", "reference_kernel_accuracy", _pct),
    Column("Top-1 agreement between the two", "reference_kernel_agreement", _pct),
)

E2E_COLUMNS = (
    _text("End-to-end variant", "variant"),
    Column("Total (µs)", "total_us", _fixed(",.1f")),
    Column("Inference (µs)", "classifier_us", _fixed(",.1f")),
    Column("Feature extraction (µs, difference)", "features_us", _fixed(",.1f")),
    Column("Features share", "features_share", _pct),
    Column("Instructions total", "total_instructions", _fixed(",d")),
    Column("Instructions in features", "features_instructions", _fixed(",d")),
    Column("RTF, one clip", "rtf_clip", _fixed(".4f")),
    Column("Streaming load (of hop budget)", "streaming_load", _pct),
)

NOT_APPLICABLE_COLUMNS = (_text("Variants", "variant"), _text("Why they cannot be built", "reason"))
QUANT_ERROR_NOTE = ("Per calibrated variant, the layer that loses most to quantization on the calibration clips, "
                    "measured with the converters' own tools (TFLite: QuantizationDebugger, rmse in quantization "
                    "steps; ONNX: onnxruntime's qdq_loss_debug, SQNR against the float graph). Every layer's figure "
                    "is in the bundle's quant_error.csv and in reports/plots/quant_error (`dvc plots show`).")
QUANT_ERROR_COLUMNS = (_text("Variant", "variant"), _text("Worst layer", "layer"),
                       Column("Error", "error", _fixed(",.3f")), _text("Measure", "unit"))
CLASS_LOSS_NOTE = ("Per quantized variant, the class whose test accuracy drops most against the fp32 variant "
                   "of the same model and format (host, measured): a variant can keep its overall accuracy and "
                   "still lose one class. The confusion matrix of every variant is a DVC plot "
                   "(reports/plots/confusion, `dvc plots show`).")
CLASS_LOSS_COLUMNS = (_text("Variant", "variant"), _text("Class", "class"), Column("Accuracy", "accuracy", _pct),
                      Column("fp32 accuracy", "fp32_accuracy", _pct), Column("Change", "change", _pts))
FAILED_COLUMNS = (_text("Variant", "variant"), _text("Error (a defect: the converter raised, or its runtime "
                                                     "cannot load the file)", "error"))

KERNEL_NOTE = ("The same files on the runtimes' reference kernels (onnxruntime with graph optimisation off, so every "
               "Q/DQ node runs as written; TFLite's reference op resolver), over the whole test split. For these "
               "variants this host's fast kernels answer differently from the file's own semantics: the "
               "difference is in the CPU's kernels, not in the file (onnxruntime's fused int8 kernels, for "
               "one, saturate on x86 CPUs without VNNI: u8 x s8 pairs summed into int16). A device with other "
               "kernels (the emulated ARM cores below) answers differently again; compare its host agreement.")

PARITY_NOTE = ("End-to-end variants take the raw clip; their in-graph MFCCs are compared with the training "
               "features (librosa, per clip) on every test clip, and their top-1 with librosa features + the "
               "unconverted model (Keras or scikit-learn).")



def marker(fmt: str) -> str:
    """A format's points in the plots (its registry entry; "^" for one no longer registered)."""
    return FORMATS[fmt].marker if fmt in FORMATS else "^"


def _bars(rows, key: str, xlabel: str, title: str, scale: float = 1.0, floor: float = 0.0) -> Plot:
    """A log-scale bar per row; `floor` keeps zeros drawable on the log axis."""
    return Plot("bars", title, xlabel, tuple((r["variant"], max(r[key] * scale, floor)) for r in rows))


def _size_accuracy_front(rows: list[dict]) -> set[str]:
    """Variants no other is both smaller (or equal) and more accurate (or equal) than, strictly on one."""
    return {r["variant"] for r in rows if not any(
        o["size_bytes"] <= r["size_bytes"] and o["accuracy"] >= r["accuracy"]
        and (o["size_bytes"] < r["size_bytes"] or o["accuracy"] > r["accuracy"]) for o in rows)}


def host_sections(host: list[dict], threads: int, data_note: str = "") -> list[Section]:
    clips = next((r["test_clips"] for r in host if r.get("test_clips")), None)
    split = data_note + (f"Accuracy is on the test split's {clips} clips: one clip is {100 / clips:.2f} points, and each accuracy's "
             "95% Wilson interval says what the split can resolve: a difference well inside those widths is not shown by it. "
             if clips else "")
    intro = (f"{split}Host CPU, {threads} thread(s). Latency: single-sample calls after warm-up, median (p50) in µs. "
             "Ratios compare each variant with the fp32 variant of the same model and format, measured in the same "
             "run.",)
    front = _size_accuracy_front(host)
    scatter = Plot("scatter", "Size vs accuracy (o = ONNX, □ = TFLite; labelled: the size-accuracy front)",
                   "file size (KB, log scale)",
                   tuple(Point(r["size_bytes"] / 1024, 100 * r["accuracy"], r["model"], marker(r["format"]),
                               r["variant"] if r["variant"] in front else "") for r in host), ylabel="test accuracy (%)")
    latency = _bars(host, "latency_p50_us", "p50 latency (µs, log scale)", "Host latency per variant (measured)")
    return [Section(TITLE, level=1, notes=(intro,)),
            Section("Host", table=Table(tuple(host), HOST_COLUMNS), plots=(scatter, latency))]


def e2e_section(title: str, rows: list[dict], hop_ms: float, estimate: bool) -> list[Section]:
    if not rows:
        return []
    kind = (("estimated device latency (instructions × CPI / clock, nominal figures): an ", Strong("estimate")) if estimate
            else ("measured p50 on the host",))
    note = ("Times are the ", *kind,
            ". Inference is the matching feature-input variant measured in the same run; feature extraction is the "
            "end-to-end figure minus it (a dash where the end-to-end figure was not above it: the difference is "
            f"within timing noise). RTF = time / clip length. Streaming: a 1 s window moved every {hop_ms:g} ms "
            f"needs one inference per hop; the load is the share of the {hop_ms:g} ms budget it uses (over 100% "
            "cannot keep up).")
    plot = _bars(rows, "streaming_load", f"% of the {hop_ms:g} ms streaming budget (log scale)",
                 f"{title}: streaming load", scale=100, floor=1e-3)
    return [Section(f"{title}: end-to-end cost split", level=3, notes=(note,), table=Table(tuple(rows), E2E_COLUMNS),
                    plots=(plot,))]


CANDIDATE_COLUMNS = (
    _text("Keras model", "model"), _text("Architecture", "architecture"), _text("Front end", "front"),
    Column("MFCC frames", "frames", str), Column("Parameters", "parameters", _fixed(",d")),
    Column("MACs", "macs", _fixed(",d")), Column("Validation accuracy", "val_accuracy", _pct),
    Column("Test accuracy (unconverted)", "test_accuracy", _pct),
)


def training_section(history: dict[str, list[dict]], candidates: list[dict] = ()) -> Section:
    """Every Keras model tried (architecture, front end, size of the work) and its validation accuracy per epoch
    (the kept weights are its best epoch's)."""
    series = tuple((f"{name} val_accuracy", [int(r["epoch"]) for r in rows], [float(r["val_accuracy"]) for r in rows])
                   for name, rows in history.items())
    notes = (("The Keras models of params.yaml (keras:), each trained on the MFCCs of its own front end; MACs are "
              "the classifier's multiply-accumulates per inference (the front end's cost is in the targets' "
              "end-to-end cost split)."),) if candidates else ()
    notes += tuple(f"{name}: {len(rows)} epochs, the best validation accuracy "
                   f"{_pct(max(float(r['val_accuracy']) for r in rows))} (its weights are kept), the last epoch at "
                   f"{_pct(float(rows[-1]['accuracy']))} on the training split." for name, rows in history.items())
    plot = Plot("lines", "Keras validation accuracy per epoch", "epoch", series, ylabel="accuracy", log_x=False)
    table = Table(tuple(candidates), CANDIDATE_COLUMNS) if candidates else None
    return Section("Training", notes=notes, table=table, plots=(plot,))


def build(host: list[dict], not_applicable: list[dict], threads: int, parity: list[dict] = (),
          kernels: list[dict] = (), history: dict[str, list[dict]] | None = None,
          candidates: list[dict] = (), failed: list[dict] = (),
          class_loss: list[dict] = (), lead: Section | None = None, quant_error: list[dict] = (),
          targets: tuple[Section, ...] = (), data_note: str = "") -> Report:
    """targets: every target kind's sections, in the registry's order (pipeline/targets/kinds.py); data_note:
    what the models were trained and tested on, first."""
    title, *sections = host_sections(host, threads, data_note)
    sections = [title, *([lead] if lead else []), *sections]  # the report leads with its answer
    if kernels:
        sections.append(Section("Host kernels that change the answers", level=3, notes=((KERNEL_NOTE,),),
                                table=Table(tuple(kernels), KERNEL_COLUMNS)))
    if parity:
        sections.append(Section("End-to-end parity", level=3, notes=((PARITY_NOTE,),),
                                table=Table(tuple(parity), PARITY_COLUMNS),
                                plots=(_bars(parity, "mfcc_max_abs_diff",
                                             "max |MFCC difference| vs librosa (log scale; target 1e-3)",
                                             "Front-end parity", floor=1e-9),)))
    sections += targets
    if quant_error:
        sections.append(Section("Quantization error per layer", level=3, notes=((QUANT_ERROR_NOTE,),),
                                table=Table(tuple(quant_error), QUANT_ERROR_COLUMNS)))
    if class_loss:
        sections.append(Section("Classes lost to quantization", level=3, notes=((CLASS_LOSS_NOTE,),),
                                table=Table(tuple(class_loss), CLASS_LOSS_COLUMNS)))
    if failed:
        sections.append(Section("Failed", table=Table(tuple(failed), FAILED_COLUMNS)))
    if not_applicable:
        sections.append(Section("Not applicable", table=Table(tuple(not_applicable), NOT_APPLICABLE_COLUMNS)))
    if history:
        sections.append(training_section(history, list(candidates)))
    return Report(tuple(sections))
