"""`python -m pipeline compare`'s command line: arguments, the run, exit codes.

Exit codes: 0 every gate holds, 1 a gate is violated, 2 bad usage, a bad gates file (including
a gate on a metric neither revision reports) or an unreadable revision. The exit-2 cases are the
UsageError subclasses (GatesError, CompareError) and argparse's own usage errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.compare.diff import Comparison, compare_metrics, diff_params
from pipeline.compare.gates import GATES_FILE, load_gates
from pipeline.compare.machines import MACHINE_FILE, machine_policy
from pipeline.compare.render import render_markdown, verdict_line
from pipeline.compare.revisions import METRICS_FILE, WORKSPACE, read_optional_json, read_revision, revision_label
from pipeline.errors import UsageError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline compare",
        description="Compare metrics and params of two revisions, check gates.yaml, print a Markdown report. "
                    "Exit 0: all gates hold; 1: a gate is violated; 2: bad usage, gates file or revision.")
    p.add_argument("--base", default="main", help="Git revision to compare against (default: main)")
    p.add_argument("--head", default=None,
                   help="Git revision to check (default: the workspace; 'workspace' also means it)")
    p.add_argument("--gates", default=str(GATES_FILE), help=f"gates file (default: {GATES_FILE})")
    p.add_argument("--out", default=None, help="also write the Markdown report to this file")
    p.add_argument("--metrics", default=METRICS_FILE, help=f"metrics file (default: {METRICS_FILE})")
    p.add_argument("--allow-lost", action="store_true",
                   help="do not fail on variants built at base but missing/skipped/not_applicable at head")
    return p


def _colour(markdown: str, cmp: Comparison) -> str:
    """The verdict lines in bold green/red when printing to a terminal."""
    if not sys.stdout.isatty():
        return markdown
    line, code = verdict_line(cmp), "32" if cmp.ok else "31"
    return "\n".join(f"\033[1;{code}m{t}\033[0m" if t == line else t for t in markdown.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 2
    head_rev = None if args.head in (None, WORKSPACE) else args.head

    try:
        gates = load_gates(args.gates)  # first: a bad gates file is reported before DVC is even loaded
        base_label, head_label = revision_label(args.base), revision_label(head_rev)
        base_metrics, base_params, base_notes = read_revision(args.base, args.metrics, "base")
        head_metrics, head_params, head_notes = read_revision(head_rev, args.metrics, "head")
        machine = str(Path(args.metrics).parent / MACHINE_FILE)
        gated, machine_notes = machine_policy(read_optional_json(machine, args.base),
                                              read_optional_json(machine, head_rev), base_params, head_params)
        cmp = compare_metrics(base_metrics, head_metrics, gates, allow_lost=args.allow_lost, gated_models=gated)
    except UsageError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return exc.exit_code

    report = render_markdown(cmp, diff_params(base_params, head_params), base_label, head_label,
                             machine_notes + base_notes + head_notes)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
    print(_colour(report, cmp))
    return 0 if cmp.ok else 1
