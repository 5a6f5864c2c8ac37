"""Stage synthesize: labelled clips (synthetic, or the user's WAV folder) -> data/audio + data/manifest.csv."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from pipeline import catalog as cat
from pipeline import io as pio
from pipeline.audio.dataset import MANIFEST_FIELDS, assign_splits
from pipeline.audio.folder import read_folder
from pipeline.log import info, progress
from pipeline.params import Params

def wav_bytes(clip: np.ndarray, sample_rate: int) -> bytes:
    """Mono 32-bit float WAV: keeps the samples exact. Written by hand because libsndfile adds a
    PEAK chunk holding the current time, which would make identical audio differ byte for byte."""
    data = np.ascontiguousarray(clip, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, sample_rate, sample_rate * 4, 4, 32)  # 3 = WAVE_FORMAT_IEEE_FLOAT
    fact = struct.pack("<I", len(clip))
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def synthetic_clips(p: Params) -> tuple[list[str], list[str], list[np.ndarray]]:
    from pipeline.audio.synth import Difficulty, clip_rng, synthesize_clip, CLASSES

    difficulty = Difficulty(overlap=p.data.difficulty.overlap, snr_db=tuple(p.data.difficulty.snr_db),
                            gain_db=tuple(p.data.difficulty.gain_db))
    names, labels, clips = [], [], []
    jobs = [(label, i) for label in p.data.labels for i in range(p.data.clips_per_class)]
    for label, i in progress(jobs, len(jobs), "synthesize"):
        rng = clip_rng(p.seed, CLASSES.index(label), i)
        clips.append(synthesize_clip(label, rng, sample_rate=p.data.sample_rate,
                                     duration_s=p.data.clip_seconds, difficulty=difficulty))
        names.append(f"{label}/{label}_{i:05d}.wav")
        labels.append(label)
    return names, labels, clips


def folder_clips(p: Params) -> tuple[list[str], list[str], list[np.ndarray]]:
    root = Path(p.data.folder)
    info(f"synthesize: reading the WAV files in {root}")
    files, clips = read_folder(root, p.data.labels, p.data.sample_rate, round(p.data.sample_rate * p.data.clip_seconds),
                               p.data.split.val, p.data.split.test)
    names = [f"{label}/{path.stem}.wav" for path, label in files]
    if len(set(names)) != len(names):
        raise ValueError(f"{root}: two files in one label folder map to the same name (.wav vs .WAV?)")
    return names, [label for _, label in files], clips


def run(p: Params) -> None:
    names, labels, clips = (synthetic_clips if p.data.source == "synthetic" else folder_clips)(p)
    splits = assign_splits(labels, p.seed, p.data.split.val, p.data.split.test)
    files = {name: wav_bytes(clip, p.data.sample_rate) for name, clip in zip(names, clips)}
    pio.replace_dir(cat.AUDIO.path(), files)
    rows = [dict(path=n, label=lab, split=s) for n, lab, s in zip(names, labels, splits)]
    pio.write_csv(cat.MANIFEST.path(), rows, MANIFEST_FIELDS)
    counts = {s: splits.count(s) for s in ("train", "val", "test")}
    info(f"synthesize: {len(rows)} clips, {counts}")
