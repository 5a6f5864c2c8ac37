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
from pipeline.audio.dataset import DatasetError
from pipeline.audio.folder import layout, read_folder

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
    files, problems = layout(root, LABELS)
    assert len(files) == 5 * 4 and len(problems) == 3, problems
    for text in ("loose.wav: not in a label subfolder", "polka/a.wav: label folder 'polka'",
                 "jazz/notes.txt: not a .wav file"):
        assert any(p.startswith(text) for p in problems), problems


def test_scan_names_a_label_without_files(tmp_path):
    root = tmp_path / "wavs"
    for label in LABELS[:-1]:
        write_wav(root / label / "a.wav")
    assert layout(root, LABELS)[1] == ["no WAV files for label(s) ['classical']"]


def test_read_resamples_to_mono_at_the_configured_rate(tmp_path):
    root = own_folder(tmp_path / "wavs")
    write_wav(root / "rock" / "stereo8k.wav", seconds=0.5, sr=8000, channels=2)
    files, clips = read_folder(root, LABELS, 16000, 16000, 0.25, 0.25)
    clip = clips[[p.name for p, _ in files].index("stereo8k.wav")]
    assert clip.shape == (16000,) and clip.dtype == np.float32
    # 0.5 s of audio, resampled to 8,000 samples, centred between zeros
    assert not clip[:3900].any() and not clip[12100:].any()
    assert np.count_nonzero(clip[3900:12100]) > 7900


def test_every_problem_of_a_folder_is_listed_in_one_pass(tmp_path):
    """Layout, unreadable, cut short, non-finite or out-of-range samples where a model sees them, too few clips
    for the split: one error naming each file, not one round per class of problem."""
    root = own_folder(tmp_path / "wavs")
    write_wav(root / "loose.wav")                                            # layout
    (root / "rock" / "broken.wav").write_bytes(b"RIFF nonsense")             # unreadable
    (root / "jazz" / "empty.wav").write_bytes(b"")
    whole = (root / "jazz" / "take0.wav").read_bytes()
    (root / "jazz" / "cut.wav").write_bytes(whole[:len(whole) // 2])        # its header promises more
    x = 0.1 * np.ones(16000, np.float32)
    sf.write(root / "speech" / "loud.wav", np.where(np.arange(16000) == 8000, 1.5, x), 16000, subtype="FLOAT")
    sf.write(root / "speech" / "nan.wav", np.where(np.arange(16000) == 4000, np.nan, x), 16000, subtype="FLOAT")
    sf.write(root / "speech" / "nan_outside.wav", np.where(np.arange(32000) == 10, np.nan, 0.1), 16000,
             subtype="FLOAT")                                                # cut off with the crop: a note
    for j in (2, 3):
        (root / "classical" / f"take{j}.wav").unlink()                      # 2 clips: too few for the split
    notes = []
    with pytest.raises(DatasetError) as err:
        read_folder(root, LABELS, 16000, 16000, 0.25, 0.25, note=notes.append)
    msg = str(err.value)
    expected = ["loose.wav: not in a label subfolder", "rock/broken.wav: unreadable", "jazz/empty.wav: unreadable",
                "jazz/cut.wav: its header declares", "speech/loud.wav: samples reach 1.5 in the 1 s a model sees",
                "speech/nan.wav: 1 NaN or infinite sample(s) in the 1 s a model sees, the first at 0.250 s",
                "label 'classical' has 2 clips: too few"]
    assert f"{len(expected)} problem(s)" in msg, msg
    for text in expected:
        assert text in msg, (text, msg)
    assert notes == ["speech/nan_outside.wav: 1 NaN or infinite sample(s) outside the 1 s a model sees, "
                     "cut off with the rest"]


def test_a_peak_just_over_full_scale_is_shown_as_it_is(tmp_path):
    root = own_folder(tmp_path / "wavs")
    sf.write(root / "rock" / "hot.wav", np.full(16000, 1.0000001, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(DatasetError, match=r"rock/hot.wav: samples reach 1.00000012 "):
        read_folder(root, LABELS, 16000, 16000, 0.25, 0.25)


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


def test_a_bad_folder_stops_at_check_and_nothing_is_deleted(tmp_path):
    """After a good build, a broken file and a label left with one clip: `check` refuses both in one run, before
    DVC deletes the previous data/audio and manifest."""
    folder = own_folder(tmp_path / "wavs")
    project = make_project(tmp_path / "repo")
    _use_folder(project, folder)
    run(["dvc", "repro", "synthesize"], project)
    before = {p: p.read_bytes() for p in sorted((project / "data").rglob("*")) if p.is_file()}
    (folder / "rock" / "broken.wav").write_bytes(b"RIFF nonsense")
    for j in (1, 2, 3):
        (folder / "classical" / f"take{j}.wav").unlink()
    res = run(["dvc", "repro", "synthesize"], project, check=False)
    said = res.stdout + res.stderr
    assert res.returncode != 0 and "error: check: " in said, said[-2000:]
    assert "2 problem(s)" in said and "rock/broken.wav: unreadable" in said and \
        "label 'classical' has 1 clips: too few" in said, said[-2000:]
    assert {p: p.read_bytes() for p in sorted((project / "data").rglob("*")) if p.is_file()} == before


def test_classify_names_a_missing_or_unreadable_wav(tmp_path, capsys):
    from pipeline.runtime.classify import main

    assert main([str(tmp_path), str(tmp_path / "nope.wav")]) == 1
    assert f"no such file: {tmp_path / 'nope.wav'}" in capsys.readouterr().err
    (tmp_path / "junk.wav").write_bytes(b"RIFF nonsense")
    assert main([str(tmp_path), str(tmp_path / "junk.wav")]) == 1
    assert "cannot read it as audio" in capsys.readouterr().err
