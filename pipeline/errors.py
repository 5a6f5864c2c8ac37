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
