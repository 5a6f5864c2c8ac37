from __future__ import annotations

import numpy as np
import pytest

from pipeline import io as pio


def test_npz_bytes_are_deterministic_and_round_trip(tmp_path):
    arrays = {"b": np.arange(6, dtype=np.int64).reshape(2, 3), "a": np.linspace(0, 1, 5, dtype=np.float32),
              "labels": np.array(["x", "yy"])}
    first, second = pio.npz_bytes(arrays), pio.npz_bytes(dict(reversed(list(arrays.items()))))
    assert first == second
    pio.write_npz(tmp_path / "f.npz", arrays)
    back = pio.read_npz(tmp_path / "f.npz")
    assert set(back) == set(arrays) and all(np.array_equal(back[k], arrays[k]) for k in arrays)


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    pio.write_json(target, {"v": 1})

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pio.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        pio.write_json(target, {"v": 2})
    assert pio.read_json(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_replace_dir_swaps_whole_folder(tmp_path):
    pio.replace_dir(tmp_path / "d", {"a.txt": b"1", "sub/b.txt": b"2"})
    pio.replace_dir(tmp_path / "d", {"c.txt": b"3"})
    assert sorted(p.name for p in (tmp_path / "d").rglob("*")) == ["c.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
