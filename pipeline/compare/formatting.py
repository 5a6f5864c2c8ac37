"""How the comparison writes numbers: a value, and the change from base to head.

Its own module because three others need it and none of them should import another for it: the
gates (a limit in a message), the comparison (a violation line) and the Markdown tables.
"""

from __future__ import annotations

import math


def format_number(x: object) -> str:
    """Compact, readable numbers: 1,834,567 / 42,058.7 / 812.4 / 0.912 / 0.0001234."""
    if x is None:
        return "—"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}" if x == int(x) else f"{x:,.1f}"
    return f"{x:.4g}"


def change(base: float | None, head: float | None) -> str:
    """'+4,123 / +10.00 %', '=' for no change, '' when a side is missing (the absolute change alone
    when base is 0: no percentage of nothing)."""
    if base is None or head is None:
        return ""
    diff = head - base
    if diff == 0:
        return "="
    absolute = f"{diff:+,}" if isinstance(diff, int) else f"{diff:+.4g}"
    return f"{absolute} / {diff / abs(base) * 100:+.2f} %" if base else absolute
