"""A Report (pipeline/report/model.py) -> one self-contained HTML page: tables plus inline SVG plots
(no script, no CDN, opens offline). Layout only: the content is the model's."""

from __future__ import annotations

from html import escape

from pipeline.report import plots
from pipeline.report.model import Code, Em, Report, Section, Strong, Table, Text

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #ddd}
th{background:#f4f4f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;max-width:80ch}.plot svg{max-width:100%;height:auto}
.label{display:inline-block;padding:1px 6px;border-radius:3px;font-size:12px;background:#fde2b0}
"""

TAGS = {Code: "code", Strong: "b", Em: "i"}


def inline(text: Text) -> str:
    return "".join(f"<{TAGS[type(run)]}>{escape(run.text)}</{TAGS[type(run)]}>" if type(run) in TAGS
                   else escape(run) for run in text)


def table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header())
    body = "".join("<tr>" + "".join(f"<td{' class=n' if c.numeric else ''}>{escape(v)}</td>"
                                    for c, v in zip(t.columns, row)) + "</tr>" for row in t.body())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def heading(s: Section) -> str:
    badge = f" <span class=label>{escape(s.badge)}</span>" if s.badge else ""
    return f"<h{s.level}>{escape(s.title)}{badge}</h{s.level}>"


def section(s: Section) -> list[str]:
    parts = [heading(s), *(f"<p class=note>{inline(n)}</p>" for n in s.notes)]
    if s.table is not None:
        parts.append(table(s.table))
    parts += [f"<div class=plot>{plots.svg(p)}</div>" for p in s.plots]
    parts += [f"<p class=note>{inline(r)}</p>" for r in s.remarks]
    return parts


def render(report: Report) -> str:
    body = "\n".join(part for s in report.sections for part in section(s))
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(report.title)}</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")
