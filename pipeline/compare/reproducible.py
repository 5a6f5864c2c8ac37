"""Did a rebuild reproduce the committed outputs? The reproducibility check of a commit, separate from the
metric gates: the outputs of the stages listed as reproducible across machines (catalog.REPRODUCIBLE_STAGES)
must hash as in the committed dvc.lock.

    python -m pipeline.compare.reproducible COMMITTED_DVC_LOCK REBUILT_DVC_LOCK     (exit 1 on a difference)

scripts/check_reproducible.sh rebuilds a commit in a throwaway worktree and calls this.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline import catalog as cat
from pipeline.io import read_yaml
from pipeline.errors import UsageError


def out_hashes(lock: dict, stages: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """stage (matrix entries included: train_sklearn@logreg) -> output path -> md5."""
    picked = {}
    for name, stage in (lock.get("stages") or {}).items():
        if name.split("@")[0] in stages:
            picked[name] = {o["path"]: o.get("md5") for o in stage.get("outs", [])}
    return picked


def differences(committed: dict, rebuilt: dict, stages: tuple[str, ...] = cat.REPRODUCIBLE_STAGES) -> list[str]:
    """One line per reproducible output whose rebuilt hash is not the committed one (or that is missing)."""
    old, new = out_hashes(committed, stages), out_hashes(rebuilt, stages)
    lines = []
    for stage in sorted(old.keys() | new.keys()):
        if stage not in new:
            lines.append(f"{stage}: not rebuilt")
            continue
        for path in sorted(old.get(stage, {}).keys() | new[stage].keys()):
            a, b = old.get(stage, {}).get(path), new[stage].get(path)
            if a != b:
                lines.append(f"{stage}: {path}: committed {a}, rebuilt {b}")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        committed, rebuilt = (read_yaml(Path(p), UsageError, "no such dvc.lock") for p in argv)
    except UsageError as err:
        print(f"reproducible: {err}", file=sys.stderr)
        return 2
    lines = differences(committed, rebuilt)
    if lines:
        print(f"reproducibility regression: {len(lines)} output(s) of {list(cat.REPRODUCIBLE_STAGES)} differ from "
              "the committed dvc.lock:\n  " + "\n  ".join(lines))
        return 1
    n = sum(len(v) for v in out_hashes(rebuilt, cat.REPRODUCIBLE_STAGES).values())
    print(f"reproducible: {n} outputs of {list(cat.REPRODUCIBLE_STAGES)} hash as in the committed dvc.lock")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
