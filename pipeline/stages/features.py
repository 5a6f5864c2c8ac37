"""Stage features: data/audio + manifest -> data/features.npz (MFCC matrix per clip, per split) and
data/audio_splits.npz (the raw train and test clips, for the stages that feed end-to-end models).

The later stages read the raw clips from the one file instead of 1,500 WAVs: a real dependency that
DVC checks with one hash, where the audio folder cost it 1,500 lookups in every stage that depends
on it, on every `dvc repro`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import io as pio
from pipeline.audio.dataset import SPLITS
from pipeline.audio.mfcc import MfccConfig, mfcc_batch
from pipeline.log import info
from pipeline.params import Params
from pipeline.stages.synthesize import AUDIO_DIR, MANIFEST

FEATURES = Path("data/features.npz")
AUDIO_SPLITS = Path("data/audio_splits.npz")
RAW_SPLITS = ("train", "test")  # calibration of end-to-end models; their benchmark inputs


def mfcc_config(p: Params) -> MfccConfig:
    f = p.features
    return MfccConfig(sample_rate=p.data.sample_rate, n_fft=f.n_fft, hop_length=f.hop_length, n_mels=f.n_mels,
                      n_mfcc=f.n_mfcc, fmin=f.fmin, fmax=f.fmax, top_db=f.top_db)


def read_split_audio(manifest: list[dict[str, str]], split: str, audio_dir: Path = AUDIO_DIR) -> np.ndarray:
    import soundfile as sf

    rows = [r for r in manifest if r["split"] == split]
    return np.stack([sf.read(audio_dir / r["path"], dtype="float32")[0] for r in rows])


def split_labels(manifest: list[dict[str, str]], split: str, labels: tuple[str, ...]) -> np.ndarray:
    return np.array([labels.index(r["label"]) for r in manifest if r["split"] == split], dtype=np.int64)


def run(p: Params) -> None:
    manifest = pio.read_csv(MANIFEST)
    unknown = sorted({r["label"] for r in manifest} - set(p.data.labels))
    if unknown:
        raise ValueError(f"{MANIFEST}: labels {unknown} are not in data.labels={list(p.data.labels)}")
    cfg = mfcc_config(p)
    arrays: dict[str, np.ndarray] = {"labels": np.array(p.data.labels)}
    raw: dict[str, np.ndarray] = {}
    for split in SPLITS:
        audio = read_split_audio(manifest, split)
        if split in RAW_SPLITS:
            raw[split] = audio
        arrays[f"X_{split}"] = mfcc_batch(audio, cfg, workers=None)  # every core: same numbers as one
        arrays[f"y_{split}"] = split_labels(manifest, split, p.data.labels)
        info(f"features: {split}: {arrays[f'X_{split}'].shape}")
    pio.write_npz(FEATURES, arrays)
    pio.write_npz(AUDIO_SPLITS, raw, compress=False)
