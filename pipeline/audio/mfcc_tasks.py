"""MFCCs of many clips as Dask tasks (pipeline/executor.py), a block of clips each, in order: from WAV files
(the features stage) or from clips already in memory, handed to the workers as blocks written to the stage's
scratch folder (a Keras entry with its own front end). Each clip is computed alone (mfcc_batch), so the bytes do
not depend on the blocks or the cluster."""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from pipeline import executor
from pipeline.audio.mfcc import MfccConfig, mfcc_batch
from pipeline.errors import DataError

BLOCK = 128  # clips per task: a few tenths of a second of MFCC work each


def of_wavs(paths: list[str], cfg: MfccConfig) -> np.ndarray:
    """One task: a block of WAVs read and turned into MFCCs; a clip with NaN or inf is named."""
    import soundfile as sf

    clips = np.stack([sf.read(path, dtype="float32")[0] for path in paths])
    bad = [path for path, clip in zip(paths, clips) if not np.isfinite(clip).all()]
    if bad:
        raise DataError(f"NaN or inf samples in {', '.join(bad)}")
    return mfcc_batch(clips, cfg)


def of_block_file(path: str, cfg: MfccConfig) -> np.ndarray:
    """One task: a block of clips saved by array_mfcc."""
    return mfcc_batch(np.load(path), cfg)


def wav_mfcc(paths: list[str], cfg: MfccConfig, label: str) -> np.ndarray:
    blocks = [paths[i:i + BLOCK] for i in range(0, len(paths), BLOCK)]
    return np.concatenate(executor.map_tasks(partial(of_wavs, cfg=cfg), blocks,
                                             [f"{i:05d}" for i in range(len(blocks))], label))


def array_mfcc(clips: np.ndarray, cfg: MfccConfig, label: str) -> np.ndarray:
    if not len(clips):
        return mfcc_batch(clips, cfg)
    folder = Path(tempfile.mkdtemp(prefix=f"{label}-"))  # the stage's scratch: gone with the stage
    paths = []
    for i in range(0, len(clips), BLOCK):
        paths.append(str(folder / f"{i // BLOCK:05d}.npy"))
        np.save(paths[-1], clips[i:i + BLOCK])
    return np.concatenate(executor.map_tasks(partial(of_block_file, cfg=cfg), paths,
                                             [Path(p).stem for p in paths], label))
