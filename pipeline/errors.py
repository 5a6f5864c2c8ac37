"""The project's expected errors: one base class that `python -m pipeline` turns into a message and an
exit code. Anything else is a bug and keeps its traceback."""

from __future__ import annotations


class PipelineError(Exception):
    """An expected failure whose message says what was wrong and what to do (bad input, missing tool)."""

    exit_code = 1


class UsageError(PipelineError):
    """Bad parameters or arguments: nothing was run (exit 2)."""

    exit_code = 2


class DataError(PipelineError):
    """The data (the user's WAV folder, the manifest, an artefact) does not fit what the params say."""


class TargetUnavailable(PipelineError):
    """A target's tools (an emulator, a toolchain, a provisioned cache) are not on this machine: the message
    names what is missing and the command that installs it."""


# What the machine's storage refused, with what to do about it: one line, not a library's traceback.
STORAGE_FIXES = {"ENOSPC": "no space left on the device: free some, then run `dvc repro` again",
                 "EDQUOT": "over the disk quota: free some space, then run `dvc repro` again",
                 "EFBIG": "a file grew past the file-size limit (ulimit -f): raise it, then run `dvc repro` again",
                 "EROFS": "the file system is read-only: work in a writable checkout",
                 "EACCES": "permission denied: the folder belongs to another user (check its owner)"}
STORAGE_WORDS = {"No space left on device": "ENOSPC", "Disk quota exceeded": "EDQUOT"}  # as wrapped by TensorFlow


def storage_error(err: BaseException) -> str | None:
    """The one line for an error the storage raised (an OSError, or a library's error quoting one), else None.
    What was written is whole or absent (pipeline/io.py writes atomically), so re-running is safe."""
    import errno

    code = errno.errorcode.get(getattr(err, "errno", None) or 0) if isinstance(err, OSError) else None
    if code not in STORAGE_FIXES:
        code = next((c for words, c in STORAGE_WORDS.items() if words in str(err)), None)
    if code is None:
        return None
    where = getattr(err, "filename", None) or str(err).splitlines()[0][:300]
    return f"cannot write {where}: {STORAGE_FIXES[code]}"
