"""Compare two revisions' metrics and params, check the gates, print a Markdown report.

    python -m pipeline compare [--base REV] [--head REV] [--gates FILE] [--out FILE.md]
                               [--metrics FILE] [--allow-lost]

base defaults to `main`, head to the workspace. Both revisions are read through
DVC's Python API (dvc.api.metrics_show / params_show). Exit codes: 0 every gate
holds, 1 a gate is violated, 2 bad usage, a bad gates file or an unreadable revision.

One job per module, the pure ones working on plain dicts and knowing nothing of DVC:
    gates       gates.yaml: schema, loading, the arithmetic of a gate
    metrics     one revision's metrics dict: variants, status, identity, within-run ratios
    diff        params diff; compare_metrics -> Comparison (rows, violations, lifecycle)
    render      the Markdown report of a Comparison
    formatting  numbers and changes as the report writes them
    revisions   the I/O: a revision's metrics and params through DVC, revision labels
    cli         arguments and exit codes (main)
    ci          scripts/ci_compare.sh's report post-processing (run as its own module; not
                imported here, so that `python -m pipeline.compare.ci` runs it cleanly)

The names below are the package's interface (`pipeline.__main__` calls `main`).
"""

from __future__ import annotations

from pipeline.compare.formatting import change, format_number
from pipeline.compare.gates import (GATES_FILE, TIME_METRIC, Gate, GatesError, GatesFile, TimeGateError, load_gates,
                                    parse_gates)
from pipeline.compare.metrics import CompareError, identity, numeric_fields, within_run_ratios
from pipeline.compare.diff import (ABSENT, SHOWN_RATIOS, Comparison, Row, Violation, compare_metrics, diff_params,
                                   flatten_params)
from pipeline.compare.render import render_markdown, verdict_line
from pipeline.compare.revisions import METRICS_FILE, WORKSPACE, read_revision, revision_label
from pipeline.compare.cli import build_parser, main

__all__ = [
    "ABSENT", "GATES_FILE", "METRICS_FILE", "SHOWN_RATIOS", "TIME_METRIC", "WORKSPACE",
    "Comparison", "CompareError", "Gate", "GatesError", "GatesFile", "Row", "TimeGateError", "Violation",
    "build_parser", "change", "compare_metrics", "diff_params", "flatten_params", "format_number", "identity",
    "load_gates", "main", "numeric_fields", "parse_gates", "read_revision", "render_markdown", "revision_label",
    "verdict_line", "within_run_ratios",
]
