"""Building blocks of the params schema, shared by the registries that carry their own part of it
(levels, estimator types, target kinds). Types only: no values live here (they are in params.yaml)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class Strict(BaseModel):
    """Unknown keys are refused (a typo stops the run) and every field must be given."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def one_of(key: str, value: str, allowed, where: str) -> str:
    """A field validator's check that `value` names a modelled member (a core, a board), or the error."""
    if value not in allowed:
        raise ValueError(f"{key} {value!r} is not modelled; allowed: {list(allowed)} ({where})")
    return value
