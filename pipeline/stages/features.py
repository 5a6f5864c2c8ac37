"""Stage features: data/audio + manifest -> data/features.npz (MFCC matrix per clip, per split) and
data/audio_splits.npz (the raw clips of every split: end-to-end models take them, and a Keras entry with its own
front end computes its MFCCs from them).

The later stages read the raw clips from the one file instead of 1,500 WAVs: a real dependency that
DVC checks with one hash, where the audio folder cost it 1,500 lookups in every stage that depends
on it, on every `dvc repro`."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from pipeline import catalog as cat
from pipeline import executor
from pipeline import io as pio
from pipeline.audio.dataset import SPLITS
from pipeline.audio.mfcc import MfccConfig, mfcc_batch
from pipeline.errors import DataError
from pipeline.log import info
from pipeline.params import Params

BLOCK = 128  # clips per Dask task: a few tenths of a second of MFCC work each


def read_split_audio(manifest: list[dict[str, str]], split: str, audio_dir: Path) -> np.ndarray:
    import soundfile as sf

    rows = [r for r in manifest if r["split"] == split]
    return np.stack([sf.read(audio_dir / r["path"], dtype="float32")[0] for r in rows])


def mfcc_of_files(paths: list[str], cfg: MfccConfig) -> np.ndarray:
    """One task: a block of WAVs read and turned into MFCCs (each clip computed alone: any blocking, same bytes)."""
    import soundfile as sf

    clips = np.stack([sf.read(path, dtype="float32")[0] for path in paths])
    bad = [path for path, clip in zip(paths, clips) if not np.isfinite(clip).all()]
    if bad:
        raise DataError(f"NaN or inf samples in {', '.join(bad)}")
    return mfcc_batch(clips, cfg)


def split_mfcc(paths: list[str], cfg: MfccConfig, label: str) -> np.ndarray:
    """The MFCCs of a split's WAVs, block by block on the Dask cluster (pipeline/executor.py), in order."""
    blocks = [paths[i:i + BLOCK] for i in range(0, len(paths), BLOCK)]
    return np.concatenate(executor.map_tasks(partial(mfcc_of_files, cfg=cfg), blocks,
                                             [f"{i:05d}" for i in range(len(blocks))], label))


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
        arrays[f"X_{split}"] = split_mfcc(paths, cfg, f"features-{split}") if paths else mfcc_batch(raw[split], cfg)
        arrays[f"y_{split}"] = split_labels(manifest, split, p.data.labels)
        info(f"features: {split}: {arrays[f'X_{split}'].shape}")
    pio.write_npz(cat.FEATURES.path(), arrays)
    pio.write_npz(cat.AUDIO_SPLITS.path(), raw, compress=False)
