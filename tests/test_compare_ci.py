"""pipeline.compare.ci: what scripts/ci_compare.sh does to compare's report (the real revision
names in the title, the CI profile section, truncation to fit a PR comment), without building."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT  # which also puts the checkout on sys.path
from pipeline.compare.ci import TRUNCATED_NOTE, masked_keys, profile_section, retitle, title_and_profile, truncate

# apply_profile --summary "applied": key -> [value in that side's params.yaml, value built with]
BASE = {"keras.epochs": [30, 2], "data.clips_per_class": [40, 12], "benchmark.runs": [20, 20],
        "targets.cortex-a72": [{"kind": "qemu"}, "(removed)"]}
HEAD = {**BASE, "keras.epochs": [50, 2]}
REPORT = "## Model comparison: `a1b2c3d` (a1b2c3d) → `e4f5a6b` (e4f5a6b)\n\n✅ **All gates hold.**\n"


def test_masked_key_warning_names_the_change_the_profile_hides():
    assert masked_keys(BASE, HEAD) == ["keras.epochs"]
    section = profile_section(BASE, HEAD, "params.ci.yaml")
    assert section[:3] == ["", "### CI profile", ""]
    assert section[3].startswith("⚠️ **This PR changes values that the CI profile overrides**")
    assert "- `keras.epochs`: `30` → `50` (built with `2`)" in section
    assert masked_keys(BASE, BASE) == [] and not any("⚠️" in line for line in profile_section(BASE, BASE, "p"))
    # a key only one side's profile touched is not "masked": the PR's change shows in the comparison
    assert masked_keys({}, HEAD) == []


def test_changed_values_list():
    section = profile_section(BASE, HEAD, "params.ci.yaml")
    start = section.index("<details><summary><code>params.ci.yaml</code> changed 3 values of the head's "
                          "params.yaml</summary>")
    assert section[start + 2:] == [
        "- `keras.epochs`: `50` → `2`", "- `data.clips_per_class`: `40` → `12`",
        '- `targets.cortex-a72`: `{"kind": "qemu"}` → `(removed)`',  # benchmark.runs: the same value, not listed
        "", "</details>", ""]
    one = profile_section({}, {"keras.epochs": [30, 2]}, "p.yaml")
    assert "<details><summary><code>p.yaml</code> changed 1 value of the head's params.yaml</summary>" in one
    assert "- nothing" in profile_section({}, {"benchmark.runs": [20, 20]}, "p.yaml")


def test_title_rewrite():
    lines = retitle(REPORT.split("\n"), "`origin/main` (1111111)", "`HEAD` (2222222)", "params.ci.yaml")
    assert lines[:4] == [
        "## Model comparison: `origin/main` (1111111) → `HEAD` (2222222)", "",
        "*Both sides built by `dvc repro` with the CI profile `params.ci.yaml` merged onto their own "
        "params.yaml; the parameters below are the merged ones.*", ""]
    assert lines[4] == "✅ **All gates hold.**"
    assert retitle(["no title", ""], "b", "h", "p") == ["no title", ""]


def test_title_and_profile_joins_report_and_section():
    text = title_and_profile(REPORT + "\n\n", "`b`", "`h`", "p.yaml", BASE, HEAD)
    assert text.startswith("## Model comparison: `b` → `h`\n\n*Both sides built")
    assert "✅ **All gates hold.**\n\n### CI profile\n\n⚠️" in text  # trailing blank lines folded into one
    assert text.endswith("</details>\n")


def test_truncation_at_a_line_boundary_closes_details():
    text = "## title\n\n✅ verdict\n\n<details><summary>v</summary>\n\n" + "| row | 12345 |\n" * 50 + "</details>\n"
    cut = truncate(text, 100)
    body = cut.removesuffix(TRUNCATED_NOTE)
    assert body.endswith("\n\n</details>") and cut.endswith("the job log.*\n")
    kept = body.removesuffix("\n\n</details>")
    assert text.startswith(kept + "\n") and len(kept) <= 100  # whole lines only
    assert kept.split("\n")[-1] == "| row | 12345 |"
    # nothing left open: no closing tag added
    closed = truncate("a\n<details>x</details>\nb\nc\n", 25)
    assert closed == "a\n<details>x</details>\nb" + TRUNCATED_NOTE


def test_cli(tmp_path):
    report, base, head = tmp_path / "compare.md", tmp_path / "base.json", tmp_path / "head.json"
    report.write_text(REPORT, encoding="utf-8")
    base.write_text(json.dumps({"applied": BASE, "ignored": []}))
    head.write_text(json.dumps({"applied": HEAD, "ignored": []}))
    cli = [sys.executable, "-m", "pipeline.compare.ci"]
    subprocess.run([*cli, "title-and-profile", str(report), "`b`", "`h`", "params.ci.yaml", str(base), str(head)],
                   cwd=ROOT, check=True, capture_output=True)
    text = report.read_text(encoding="utf-8")
    assert text == title_and_profile(REPORT, "`b`", "`h`", "params.ci.yaml", BASE, HEAD)
    short = tmp_path / "comment.md"
    proc = subprocess.run([*cli, "truncate", str(report), str(short), "120"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""  # no runpy warning: pipeline.compare does not import ci
    assert short.read_text(encoding="utf-8") == truncate(text, 120)
    assert subprocess.run([*cli, "truncate", str(report)], cwd=ROOT, capture_output=True).returncode == 2


def test_the_ci_profile_applies_to_the_shipped_params(tmp_path):
    """A pull request's CI builds params.yaml with params.ci.yaml merged onto it: the result must be valid
    params (a target the profile removes takes its ship entry with it), or every PR's comparison fails."""
    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    summary = tmp_path / "summary.json"
    proc = subprocess.run([sys.executable, "scripts/apply_profile.py", "params.ci.yaml", str(params), "--summary",
                           str(summary)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    applied = json.loads(summary.read_text())["applied"]
    # every key of the profile applies to the shipped params: one naming a model params.yaml no longer has would
    # be ignored in silence, and that model trained in full on every pull request
    assert json.loads(summary.read_text())["ignored"] == [], summary.read_text()
    for removed in ("cortex-a72", "cortex-m7", "remote", "node-onnxruntime", "chromium-onnxruntime-web", "c-tflite"):
        assert applied[f"ship.{removed}"][1] == "(removed)", removed
