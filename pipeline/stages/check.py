"""Stage check: params.yaml, the user's WAV folder and the interpreter, before any other stage runs
(the interpreter first, in pipeline/__main__.py: another Python may lack the packages the rest imports).

DVC deletes a stage's outputs before it runs the stage's command, so a bad param found by the
stage itself would already have cost its outputs. Every stage depends on this one's marker, whose
bytes never change while everything is valid: editing a param re-runs this check (a second) and
then only the stages that use the param.
"""

from __future__ import annotations

from pathlib import Path

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.audio.dataset import DatasetError
from pipeline.audio.folder import read_folder, too_few
from pipeline.log import info
from pipeline.params import Params

MARKER = "params.yaml, data.folder and the environment were valid when the stages last ran\n"


def run(p: Params) -> None:
    split = p.data.split
    if p.data.source == "folder":
        # The whole folder is decoded here, as synthesize will, and every problem listed at once: a broken
        # file fails now, not after DVC has deleted data/audio.
        root = Path(p.data.folder)
        files, _ = read_folder(root, p.data.labels, p.data.sample_rate,
                               round(p.data.sample_rate * p.data.clip_seconds), split.val, split.test,
                               note=lambda text: info(f"check: note: {text}"))
        info(f"check: {len(files)} WAV files in {root} read")
    elif problems := too_few(list(p.data.labels) * p.data.clips_per_class, split.val, split.test):
        raise DatasetError(f"data.clips_per_class: {p.data.clips_per_class}: {problems[0]}")
    pio.atomic_write_text(cat.CHECKED.path(), MARKER)
