"""python -m pipeline <stage> [args...]
python -m pipeline compare [--base REV] [--head REV]     (two commits' metrics against gates.yaml)
python -m pipeline classify BUNDLE_DIR FILE.wav [--resample] [--json]   (an end-to-end bundle on a recording)
python -m pipeline serve BUNDLE_DIR [--port 8000]       (the bundle over HTTP: POST /v1/classify)
python -m pipeline wire [--check]                        (dvc.yaml, written from pipeline/wiring.py)
python -m pipeline pick [--json]                         (the best pick per target over every experiment)

Every stage validates params.yaml first; a bad value stops here, before any output is touched.
Expected failures (pipeline.errors.PipelineError) print one line and exit non-zero; anything else
is a bug and shows its traceback.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager

COMMANDS = {"compare": "compare", "classify": "runtime.classify", "serve": "runtime.serve",  # modules under pipeline.
            "wire": "wiring", "pick": "compare.pick"}


@contextmanager
def scratch_dir(stage: str):
    """The stage's temporary folder (tempfile's and its subprocesses'), emptied before and after: what a
    killed run of the same stage left is removed by the next run, not left in the system's /tmp."""
    from pipeline.catalog import SCRATCH

    folder = (SCRATCH / stage).resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    tempfile.tempdir, os.environ["TMPDIR"] = str(folder), str(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    from pipeline.pins import is_pinned, pinned_env

    if not is_pinned():
        # The hash seed and the kernels are fixed before any library loads (pipeline/pins.py): the same
        # params give the same bytes on any AVX2 machine. Re-executing is the only way to set them.
        os.execve(sys.executable, [sys.executable, "-m", "pipeline", *argv], pinned_env())
    from pipeline.wiring import stage_arguments

    STAGES = stage_arguments()  # stage module -> names of its arguments (the DVC matrix keys)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__ + "\nstages: " + ", ".join(f"{s} {' '.join(a)}".strip() for s, a in STAGES.items()))
        return 0 if argv else 2
    from pipeline.errors import PipelineError

    name, args = argv[0], argv[1:]
    try:
        if name in COMMANDS:
            return importlib.import_module(f"pipeline.{COMMANDS[name]}").main(args)
        if name not in STAGES:
            print(f"error: unknown stage '{name}'; stages: {', '.join(STAGES)}, {', '.join(COMMANDS)}",
                  file=sys.stderr)
            return 2
        if len(args) != len(STAGES[name]):
            print(f"error: stage {name} takes {STAGES[name] or 'no arguments'}, got {args}", file=sys.stderr)
            return 2
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's C++ start-up chatter hides the progress lines
        if name == "check":  # first, before anything imports a package another interpreter may lack
            from pipeline.environment import check_environment

            check_environment()
        from pipeline.params import load_params

        params = load_params()
        with scratch_dir("-".join([name, *args])):
            importlib.import_module(f"pipeline.stages.{name}").run(params, *args)
    except PipelineError as err:
        print(f"error: {name}: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as err:  # a full disk or a read-only folder is the machine's, not a bug: one line
        from pipeline.errors import storage_error

        if (line := storage_error(err)) is None:
            raise
        print(f"error: {name}: {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
