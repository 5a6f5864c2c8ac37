"""What scripts/ci_compare.sh does to compare's report before posting it, as pure functions.

    python -m pipeline.compare.ci title-and-profile REPORT BASE_DESC HEAD_DESC PROFILE BASE_SUMMARY HEAD_SUMMARY
    python -m pipeline.compare.ci truncate SRC DST LIMIT

title-and-profile: compare, run on the two throwaway commits that hold each side's build, can
only name those commits; the script knows the real revisions (BASE_DESC, HEAD_DESC: Markdown
such as "`origin/main` (1a2b3c4)"). The report's title is rewritten to name them, a line says
both sides were built on the CI profile, and a "CI profile" section is appended from the two
sides' scripts/apply_profile.py --summary files: first a warning listing the keys the PR
changes that the profile overrides (both sides were built with the profile's value, so the
comparison does not exercise those changes), then what the profile changed in the head's
params.yaml. REPORT is rewritten in place.

truncate: GitHub refuses a comment over 65,536 characters. The report is cut at the last line
boundary within LIMIT characters (so the verdict at the top stays), a <details> left open by the
cut is closed (else the rest of the page would fold into it), and a note says where the full
report is. SRC is not changed; the shortened text goes to DST.

The script runs this module from the user's checkout (`python -m`, so with that checkout's code,
like the script itself), not from the worktrees. The functions use only the standard library.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# One key of an apply_profile summary: flattened params key -> [value in params.yaml, value built with].
Applied = dict[str, list[Any]]

TRUNCATED_NOTE = ("\n\n---\n*Report truncated to fit a comment; the full report is in the job summary "
                  "and the job log.*\n")


def code(value: Any) -> str:
    """A params value as inline code: strings as they are, anything else as JSON."""
    return f"`{value if isinstance(value, str) else json.dumps(value)}`"


def masked_keys(base: Applied, head: Applied) -> list[str]:
    """Keys the profile overrides whose params.yaml value differs between base and head (head's order)."""
    return [k for k in head if k in base and base[k][0] != head[k][0]]


def retitle(lines: list[str], base_desc: str, head_desc: str, profile: str) -> list[str]:
    """The report's lines with the real revisions in the title and the CI-profile line under it
    (unchanged if the first line is not a '## ' title: e.g. an empty report)."""
    if not (lines and lines[0].startswith("## ")):
        return list(lines)
    return [f"## Model comparison: {base_desc} → {head_desc}", "",
            f"*Both sides built by `dvc repro` with the CI profile `{profile}` merged onto their "
            "own params.yaml; the parameters below are the merged ones.*", *lines[1:]]


def profile_section(base: Applied, head: Applied, profile: str) -> list[str]:
    """The "CI profile" section: the masked changes (if any), then the values the profile changed."""
    out = ["", "### CI profile", ""]
    masked = masked_keys(base, head)
    if masked:
        out += ["⚠️ **This PR changes values that the CI profile overrides**; both sides were built with "
                "the profile's value, so this comparison does not exercise these changes:", ""]
        out += [f"- `{k}`: {code(base[k][0])} → {code(head[k][0])} (built with {code(head[k][1])})" for k in masked]
        out.append("")
    changed = {k: v for k, v in head.items() if v[0] != v[1]}
    out += [f"<details><summary><code>{profile}</code> changed {len(changed)} value"
            f"{'s' if len(changed) != 1 else ''} of the head's params.yaml</summary>", ""]
    out += [f"- `{k}`: {code(old)} → {code(new)}" for k, (old, new) in changed.items()] or ["- nothing"]
    out += ["", "</details>", ""]
    return out


def title_and_profile(report: str, base_desc: str, head_desc: str, profile: str,
                      base: Applied, head: Applied) -> str:
    """The whole rewritten report: retitle + profile_section, joined by exactly one newline."""
    lines = retitle(report.split("\n"), base_desc, head_desc, profile)
    return "\n".join(lines).rstrip("\n") + "\n" + "\n".join(profile_section(base, head, profile))


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, cut at a line boundary, an open <details> closed, and
    the truncation note appended (the note itself is not counted in `limit`)."""
    cut = text[:limit].rsplit("\n", 1)[0]
    if cut.count("<details") > cut.count("</details>"):
        cut += "\n\n</details>"
    return cut + TRUNCATED_NOTE


def _applied(path: str) -> Applied:
    return json.loads(Path(path).read_text(encoding="utf-8"))["applied"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.compare.ci",
                                     description="scripts/ci_compare.sh's post-processing of compare's report.")
    sub = parser.add_subparsers(dest="command", required=True)
    tp = sub.add_parser("title-and-profile", help="name the real revisions, append the CI profile section")
    for name in ("report", "base_desc", "head_desc", "profile", "base_summary", "head_summary"):
        tp.add_argument(name)
    tr = sub.add_parser("truncate", help="shorten a report to fit a PR comment")
    tr.add_argument("src")
    tr.add_argument("dst")
    tr.add_argument("limit", type=int)
    args = parser.parse_args(argv)

    if args.command == "title-and-profile":
        report = Path(args.report)
        text = title_and_profile(report.read_text(encoding="utf-8"), args.base_desc, args.head_desc,
                                 args.profile, _applied(args.base_summary), _applied(args.head_summary))
        report.write_text(text, encoding="utf-8")
    else:
        Path(args.dst).write_text(truncate(Path(args.src).read_text(encoding="utf-8"), args.limit),
                                  encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
