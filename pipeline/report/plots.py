"""Plot specs (pipeline/report/model.py) -> inline SVG via matplotlib, deterministic: fixed hash salt, no date."""

from __future__ import annotations

import io

from pipeline.report.model import Plot


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "pipeline", "svg.fonttype": "none", "font.size": 9})
    return plt


def _scatter(ax, plot: Plot) -> None:
    groups = sorted({p.group for p in plot.data})
    for i, group in enumerate(groups):
        for n, p in enumerate(p for p in plot.data if p.group == group):
            ax.scatter(p.x, p.y, color=f"C{i}", marker=p.marker, label=group if n == 0 else None)
            if p.label:  # only the points worth naming (the front): labelling all of them overlaps into a blot
                ax.annotate(p.label, (p.x, p.y), fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.legend(fontsize=7)


def _bars(ax, plot: Plot) -> None:
    labels, values = [d[0] for d in plot.data], [d[1] for d in plot.data]
    ax.barh(labels, values, color="C0")
    ax.invert_yaxis()
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:,.4g}", va="center", fontsize=6)


def _lines(ax, plot: Plot) -> None:
    for name, xs, ys in plot.data:
        ax.plot(xs, ys, label=name)
    ax.legend()


DRAW = {"scatter": (_scatter, lambda n: (7, 4)), "bars": (_bars, lambda n: (7, 0.25 * n + 1)),
        "lines": (_lines, lambda n: (7, 3))}


def svg(plot: Plot) -> str:
    """The plot as an <svg> element (no XML prologue), ready to inline in HTML."""
    plt = _plt()
    draw, size = DRAW[plot.kind]
    fig, ax = plt.subplots(figsize=size(len(plot.data)))
    draw(ax, plot)
    if plot.log_x:
        ax.set_xscale("log")
    ax.set_xlabel(plot.xlabel)
    if plot.ylabel:
        ax.set_ylabel(plot.ylabel)
    ax.set_title(plot.title)
    ax.grid(alpha=0.3, **({"axis": "x"} if plot.kind == "bars" else {}))
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]
