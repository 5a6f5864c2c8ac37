"""Files: atomic writes, deterministic containers, hashing.

Every output goes through `atomic_write_bytes` (temporary file in the same
folder, fsync, rename), so a stage killed halfway never leaves a file that
looks complete; what a killed run left (`.<name>.*.tmp`, which DVC ignores) is
removed by the next write of the same output. Outputs get the user's umask like
any other file (mkstemp alone would make them private). Containers (npz, zip) are written with fixed timestamps and a
fixed member order, so the same content gives the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

_EPOCH = (1980, 1, 1, 0, 0, 0)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _share(path: Path, is_dir: bool) -> None:
    """The mode a plain open() / mkdir() would have given (mkstemp and mkdtemp make 0600 / 0700)."""
    os.chmod(path, (0o777 if is_dir else 0o666) & ~_UMASK)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def clear_leftovers(path: Path) -> None:
    """Remove the temporary siblings a killed write of `path` left behind."""
    for stale in path.parent.glob(f"{glob_escape(_temp_prefix(path))}*.tmp"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    old = path.with_name(f".{path.name}.old")
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _naming(err: BaseException, path: Path) -> BaseException:
    """A write's OSError with the output it was writing (a write on a descriptor names no file)."""
    if isinstance(err, OSError) and not err.filename:
        return OSError(err.errno, err.strerror, str(path)).with_traceback(err.__traceback__)
    return err


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_leftovers(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
    try:
        _share(Path(tmp), is_dir=False)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        raise _naming(err, path)
    return path


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: Path | str, obj: Any) -> Path:
    return atomic_write_text(path, to_json(obj))


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())


def read_yaml(path: Path | str, error: type[Exception], missing: str) -> Any:
    """A YAML file's content; a missing or malformed file, or one with a key given twice in a mapping
    (PyYAML keeps the last silently; DVC refuses the file), raises `error` naming the file."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden here
                    continue
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice in one mapping (line {key_node.start_mark.line + 1})",
                        key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    try:
        return yaml.load(Path(path).read_text(), Loader=UniqueKeyLoader)
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except yaml.YAMLError as err:
        raise error(f"{path}: not valid YAML: {err}") from None


def csv_text(rows: Iterable[Mapping[str, Any]], fieldnames: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()


def write_csv(path: Path | str, rows: Iterable[Mapping[str, Any]], fieldnames: list[str]) -> Path:
    return atomic_write_text(path, csv_text(rows, fieldnames))


def read_csv(path: Path | str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def zip_bytes(members: Mapping[str, bytes], compress: bool = True) -> bytes:
    """A zip whose bytes depend only on the members (sorted names, fixed dates)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name])
    return buf.getvalue()


def npz_bytes(arrays: Mapping[str, np.ndarray], compress: bool = True) -> bytes:
    members = {}
    for name, arr in arrays.items():
        b = io.BytesIO()
        np.lib.format.write_array(b, np.asarray(arr), allow_pickle=False)
        members[f"{name}.npy"] = b.getvalue()
    return zip_bytes(members, compress)


def write_npz(path: Path | str, arrays: Mapping[str, np.ndarray], compress: bool = True) -> Path:
    """compress=False for noise-like data (audio): deflate saves ~10% of it and costs seconds."""
    return atomic_write_bytes(path, npz_bytes(arrays, compress))


def read_npz(path: Path | str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def replace_dir(path: Path | str, files: Mapping[str, bytes]) -> Path:
    """Write a whole output folder atomically: build it beside, then swap it in."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_leftovers(path)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp"))
    try:
        _share(staging, is_dir=True)
        for rel, data in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(staging, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise _naming(err, path)
    return path
