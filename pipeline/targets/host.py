"""The host kind's params: `targets.host.<name>: {}`, this machine (always required). It scores the
variants: its runner runs the whole test split and its entries carry each variant's accuracy."""

from __future__ import annotations

from pipeline.schema import Strict


class Target(Strict):
    """This machine, measured wall time: nothing to set."""


Device = None  # measured here: no nominal figures
