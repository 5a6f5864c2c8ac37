"""Stage features: data/audio + manifest -> data/features.npz (MFCC matrix per clip, per split) and
data/audio_splits.npz (the raw clips of every split: end-to-end models take them, and a Keras entry with its own
front end computes its MFCCs from them).

The later stages read the raw clips from the one file instead of 1,500 WAVs: a real dependency that
DVC checks with one hash, where the audio folder cost it 1,500 lookups in every stage that depends
on it, on every `dvc repro`. The MFCCs are computed as Dask tasks, a block of WAVs each
(pipeline/audio/mfcc_tasks.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.audio.dataset import SPLITS
from pipeline.audio.mfcc import MfccConfig, mfcc_batch
from pipeline.audio.mfcc_tasks import wav_mfcc
from pipeline.errors import DataError
from pipeline.log import info
from pipeline.params import Params


def read_split_audio(manifest: list[dict[str, str]], split: str, audio_dir: Path) -> np.ndarray:
    import soundfile as sf

    rows = [r for r in manifest if r["split"] == split]
    return np.stack([sf.read(audio_dir / r["path"], dtype="float32")[0] for r in rows])


def split_labels(manifest: list[dict[str, str]], split: str, labels: tuple[str, ...]) -> np.ndarray:
    return np.array([labels.index(r["label"]) for r in manifest if r["split"] == split], dtype=np.int64)


def run(p: Params) -> None:
    manifest = pio.read_csv(cat.MANIFEST.path())
    unknown = sorted({r["label"] for r in manifest} - set(p.data.labels))
    if unknown:
        raise DataError(f"{cat.MANIFEST.template}: labels {unknown} are not in data.labels={list(p.data.labels)}")
    cfg = MfccConfig.from_params(p)
    arrays: dict[str, np.ndarray] = {"labels": np.array(p.data.labels)}
    raw: dict[str, np.ndarray] = {}
    for split in SPLITS:
        raw[split] = read_split_audio(manifest, split, cat.AUDIO.path())
        paths = [str(cat.AUDIO.path().resolve() / r["path"]) for r in manifest if r["split"] == split]
        arrays[f"X_{split}"] = wav_mfcc(paths, cfg, f"features-{split}") if paths else mfcc_batch(raw[split], cfg)
        arrays[f"y_{split}"] = split_labels(manifest, split, p.data.labels)
        info(f"features: {split}: {arrays[f'X_{split}'].shape}")
    pio.write_npz(cat.FEATURES.path(), arrays)
    pio.write_npz(cat.AUDIO_SPLITS.path(), raw, compress=False)
