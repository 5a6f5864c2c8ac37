"""The music classes by label, in the order of CLASSES: the public entry looks a class's
generator up here, and speech draws its music bed from it. Each generator returns the class's
signal before the recording chain (high-pass, normalisation, background noise, gain)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from pipeline.audio.synth import classical, electronic, jazz, rock
from pipeline.audio.synth.context import ClipContext

MUSIC_GENERATORS: dict[str, Callable[[ClipContext], np.ndarray]] = {
    "rock": rock.generate, "jazz": jazz.generate, "electronic": electronic.generate,
    "classical": classical.generate,
}
