"""A Report (pipeline/report/model.py) -> Markdown (reports/report.md). Layout only: the content is the model's.

Plots have no Markdown form; the sections that carry them still say what they show in their text.
"""

from __future__ import annotations

import re

from pipeline.report.model import Code, Em, Report, Section, Strong, Table, Text


def code_span(text: str) -> str:
    """Inline code that stays one span whatever backticks the text holds (CommonMark: a longer fence)."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def inline(text: Text) -> str:
    out = []
    for run in text:
        if isinstance(run, Code):
            out.append(code_span(run.text))
        elif isinstance(run, Strong):
            out.append(f"**{run.text}**")
        elif isinstance(run, Em):
            out.append(f"_{run.text}_")
        else:
            out.append(run)
    return "".join(out)


def cell(text: str) -> str:
    """One table cell on one line: a newline would end the row, a bare `|` would start a new cell."""
    return " ".join(text.split("\n")).replace("|", r"\|")


def table(t: Table) -> str:
    head = "| " + " | ".join(cell(h) for h in t.header()) + " |"
    sep = "|" + "|".join("---:" if c.numeric else "---" for c in t.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in t.body()]
    return "\n".join([head, sep, *body])


def heading(s: Section) -> str:
    return "#" * s.level + " " + s.title + (f" ({s.badge})" if s.badge else "")


def section(s: Section) -> list[str]:
    blocks = [heading(s), *(inline(n) for n in s.notes)]
    if s.table is not None:
        blocks.append(table(s.table))
    blocks += [inline(r) for r in s.remarks]
    return blocks


def render(report: Report) -> str:
    """Blocks separated by a blank line, the file ending in one newline."""
    return "".join(block + "\n\n" for s in report.sections for block in section(s))[:-1]
