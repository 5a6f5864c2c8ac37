"""The user's own WAV folder as the data source: read, resampled and split like synthetic audio, every
bad file named in the error, and tracked by DVC so that a new file re-runs the pipeline."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from conftest import make_project, run
from pipeline.audio.dataset import DatasetError, read_clips, scan_folder

LABELS = ("speech", "rock", "jazz", "electronic", "classical")


def write_wav(path: Path, seconds: float = 1.0, sr: int = 16000, channels: int = 1, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sf.write(path, 0.1 * rng.standard_normal((round(seconds * sr), channels)).astype(np.float32), sr)


def own_folder(root: Path, per_label: int = 4) -> Path:
    for i, label in enumerate(LABELS):
        for j in range(per_label):
            write_wav(root / label / f"take{j}.wav", seed=10 * i + j)
    return root


def test_scan_lists_every_layout_problem_at_once(tmp_path):
    root = own_folder(tmp_path / "wavs")
    write_wav(root / "loose.wav")                          # not in a label folder
    write_wav(root / "polka" / "a.wav")                    # unknown label
    (root / "jazz" / "notes.txt").write_text("x")          # not a WAV
    (root / "rock" / ".DS_Store").write_text("x")          # hidden: ignored
    with pytest.raises(DatasetError) as err:
        scan_folder(root, LABELS)
    msg = str(err.value)
    assert "3 problem(s)" in msg
    for text in ("loose.wav: not in a label subfolder", "polka/a.wav: label folder 'polka'",
                 "jazz/notes.txt: not a .wav file"):
        assert text in msg, msg


def test_scan_names_a_label_without_files(tmp_path):
    root = tmp_path / "wavs"
    for label in LABELS[:-1]:
        write_wav(root / label / "a.wav")
    with pytest.raises(DatasetError, match=r"no WAV files for label\(s\) \['classical'\]"):
        scan_folder(root, LABELS)


def test_read_resamples_to_mono_at_the_configured_rate_and_lists_unreadable_files(tmp_path):
    root = tmp_path / "wavs"
    write_wav(root / "rock" / "stereo8k.wav", seconds=0.5, sr=8000, channels=2)
    clips = read_clips([(root / "rock" / "stereo8k.wav", "rock")], root, 16000, 16000)
    assert clips[0].shape == (16000,) and clips[0].dtype == np.float32
    # 0.5 s of audio, resampled to 8,000 samples, centred between zeros
    assert not clips[0][:3900].any() and not clips[0][12100:].any()
    assert np.count_nonzero(clips[0][3900:12100]) > 7900
    (root / "rock" / "broken.wav").write_bytes(b"RIFF nonsense")
    (root / "jazz").mkdir()
    (root / "jazz" / "empty.wav").write_bytes(b"")
    with pytest.raises(DatasetError) as err:
        read_clips([(root / "rock" / "broken.wav", "rock"), (root / "jazz" / "empty.wav", "jazz")],
                   root, 16000, 16000)
    assert "2 unreadable file(s)" in str(err.value)
    assert "rock/broken.wav: unreadable" in str(err.value) and "jazz/empty.wav: unreadable" in str(err.value)


def _use_folder(project: Path, folder: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"].update(source="folder", folder=str(folder))
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_synthesize_reads_the_folder_and_dvc_tracks_it(tmp_path):
    folder = own_folder(tmp_path / "wavs")
    project = make_project(tmp_path / "repo")
    _use_folder(project, folder)
    run(["dvc", "repro", "synthesize"], project)
    with open(project / "data/manifest.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["path"] for r in rows) == sorted(f"{lab}/take{j}.wav" for lab in LABELS for j in range(4))
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert run(["dvc", "status", "synthesize"], project).stdout.strip().endswith("up to date.")

    write_wav(folder / "jazz" / "take9.wav", seed=99)      # a new recording: synthesize is out of date
    status = run(["dvc", "status", "synthesize"], project).stdout
    assert "modified:" in status and str(folder) in status, status


def test_a_bad_folder_stops_synthesize_and_writes_nothing(tmp_path):
    folder = own_folder(tmp_path / "wavs")
    (folder / "rock" / "broken.wav").write_bytes(b"RIFF nonsense")
    project = make_project(tmp_path / "repo")
    _use_folder(project, folder)
    res = run(["dvc", "repro", "synthesize"], project, check=False)
    assert res.returncode != 0
    assert "rock/broken.wav: unreadable" in res.stdout + res.stderr
    assert not (project / "data/manifest.csv").exists() and not (project / "data/audio").exists()


def test_classify_names_a_missing_or_unreadable_wav(tmp_path, capsys):
    from pipeline.runtime.classify import main

    assert main([str(tmp_path), str(tmp_path / "nope.wav")]) == 1
    assert f"no such file: {tmp_path / 'nope.wav'}" in capsys.readouterr().err
    (tmp_path / "junk.wav").write_bytes(b"RIFF nonsense")
    assert main([str(tmp_path), str(tmp_path / "junk.wav")]) == 1
    assert "cannot read it as audio" in capsys.readouterr().err
