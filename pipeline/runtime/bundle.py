"""A deployment bundle as an app opens it: the sidecar, the artefact checked against the sidecar's
SHA-256, and the samples checked before they reach the runtime. No TensorFlow import.

Layout: models/variants/<level>/<variant>/ holds <variant>.json (the sidecar), the artefact it names
(`file`), and README.md. Every error names the folder or file, the variant and what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import io as pio
from pipeline.errors import PipelineError

LAYOUT = "<variant>/ holding <variant>.json (the sidecar), the artefact it names and README.md"
SIDECAR_KEYS = ("variant", "model", "format", "file", "sha256", "input", "output", "labels", "features")


class BundleError(PipelineError):
    """The folder is not a usable bundle, or the samples do not fit it."""


@dataclass(frozen=True)
class Bundle:
    folder: Path
    meta: dict
    artefact: Path

    @property
    def variant(self) -> str:
        return self.meta["variant"]


def open_bundle(folder: Path | str) -> Bundle:
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"{folder}: not a folder; a bundle is a folder {LAYOUT}")
    if (folder / "index.json").is_file():
        inside = sorted(p.name for p in folder.iterdir() if p.is_dir())
        raise BundleError(f"{folder} is a level folder holding {len(inside)} bundles, not one bundle; pass one of "
                          f"them, e.g. {folder / inside[0] if inside else folder / '<variant>'}")
    sidecar = folder / f"{folder.name}.json"
    if not sidecar.is_file():
        found = sorted(p.name for p in folder.glob("*.json"))
        raise BundleError(f"{folder}: no sidecar {sidecar.name} (found {found or 'no JSON file'}); a bundle is a "
                          f"folder {LAYOUT}")
    try:
        meta = json.loads(sidecar.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise BundleError(f"{sidecar}: not a readable sidecar: {err}") from None
    missing = [k for k in SIDECAR_KEYS if k not in meta] if isinstance(meta, dict) else list(SIDECAR_KEYS)
    if missing:
        raise BundleError(f"{sidecar}: the sidecar lacks {missing}")
    artefact = folder / meta["file"]
    if not artefact.is_file():
        raise BundleError(f"{artefact} ({meta['variant']}): the artefact the sidecar names is missing")
    digest = pio.sha256_file(artefact)
    if digest != meta["sha256"]:
        raise BundleError(f"{artefact} ({meta['variant']}): SHA-256 {digest[:16]}... is not the sidecar's "
                          f"{meta['sha256'][:16]}...: the file is corrupt or was replaced; copy the bundle again")
    return Bundle(folder, meta, artefact)


def check_samples(samples: np.ndarray, bundle: Bundle) -> None:
    """Finite float samples in [-1, 1]: NaN or a clip of the wrong scale would give a confident wrong answer."""
    where = f"{bundle.variant} takes float32 samples in [-1, 1]"
    finite = np.isfinite(samples)
    if not finite.all():
        raise BundleError(f"{where}: {int(samples.size - finite.sum())} of {samples.size} samples are NaN or "
                          "infinite")
    if samples.size and float(np.max(np.abs(samples))) > 1.0:
        raise BundleError(f"{where}: samples reach {float(np.max(np.abs(samples))):.9g} (scale integer PCM by "
                          "1/32768, or normalise the recording)")
