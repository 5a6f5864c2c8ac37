"""Streaming detection over an end-to-end bundle, as an app runs it on a microphone: push frames of any size,
keep the last window in a ring buffer, run one inference per hop, get each hop's label, scores and latency.

Frames at another rate are resampled with soxr's streaming resampler, only when asked (`resample=True`).
The runtime is the bundle's own (its format's); when that one is not installed, a twin bundle of the same
model and level in another format is used, in RUNTIME_ORDER, and the result says which. No TensorFlow import.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field

import numpy as np

from pipeline.bench.runtimes import RUNTIMES, Runner
from pipeline.export.formats import FORMATS
from pipeline.quiet import native_stderr_held
from pipeline.runtime.bundle import Bundle, BundleError, check_samples, open_bundle
from pipeline.variants import E2E_SUFFIX, is_e2e, split_variant_id, variant_id

# Which runtime to try when a bundle's own is missing, and the module that proves it is installed.
RUNTIME_ORDER = ("litert", "onnxruntime")
RUNTIME_MODULES = {"litert": "ai_edge_litert.interpreter", "onnxruntime": "onnxruntime"}
RESAMPLER = "soxr (streaming, HQ)"
RESAMPLE_HINT = f"(pass --resample to resample with {RESAMPLER})"  # what the server says instead: serve.py


class StreamError(BundleError):
    """The audio does not fit the bundle (rate, channels, dtype, values) or the bundle cannot stream."""


@dataclass(frozen=True)
class Hop:
    """One inference: the window [start_s, end_s) of the stream at the bundle's rate."""
    start_s: float
    end_s: float
    label: str
    scores: tuple[float, ...]
    latency_ms: float
    padded: bool = False  # the stream was shorter than one window: zeros after its end
    uncertain: bool = False  # its top probability is below the bundle's threshold (set on the validation split)


def require_raw_audio(bundle: Bundle) -> None:
    meta = bundle.meta
    if not is_e2e(meta["model"]):
        model, fmt, level = split_variant_id(meta["variant"])
        twin = variant_id(model + E2E_SUFFIX, fmt, level)
        hint = (f"its end-to-end twin {twin} (beside it) takes audio" if (bundle.folder.parent / twin).is_dir()
                else f"only end-to-end bundles (<model>{E2E_SUFFIX}) take audio")
        raise StreamError(f"{meta['variant']} takes {meta['input'].get('layout', 'MFCC features')}, not audio; {hint}")


def _twins(bundle: Bundle) -> list[Bundle]:
    """Bundles of the same model and level in the other formats, beside this one, in RUNTIME_ORDER."""
    model, fmt, level = split_variant_id(bundle.variant)
    order = sorted(FORMATS, key=lambda f: RUNTIME_ORDER.index(FORMATS[f].runtime))
    twins = [bundle.folder.parent / variant_id(model, f, level) for f in order if f != fmt]
    return [open_bundle(t) for t in twins if t.is_dir()]


def load_runner(bundle: Bundle) -> tuple[Runner, Bundle, list[str]]:
    """(run, the bundle it runs, notes): the bundle's runtime, else its twin's; an error naming every one tried."""
    tried: list[str] = []
    for candidate in [bundle, *_twins(bundle)]:
        runtime = FORMATS[candidate.meta["format"]].runtime
        try:
            importlib.import_module(RUNTIME_MODULES[runtime])
        except ImportError as err:
            tried.append(f"{candidate.variant} needs {RUNTIMES[runtime].distribution} ({err})")
            continue
        try:
            with native_stderr_held():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line (shown if it fails)
                run, _ = RUNTIMES[runtime].load(str(candidate.artefact), 1)
        except Exception as err:  # the SHA-256 matched: the runtime itself cannot take this file
            raise StreamError(f"{candidate.artefact} ({candidate.variant}): {runtime} cannot load it: "
                              f"{type(err).__name__}: {err}") from None
        notes = [f"{bundle.variant}: its runtime is not installed; running its twin {candidate.variant}"] \
            if candidate is not bundle else []
        return run, candidate, notes
    raise StreamError(f"{bundle.variant}: no runtime installed for it or a twin beside it; tried: "
                      f"{'; '.join(tried)} (pip install one of them)")


def scores_of(bundle: Bundle, raw: np.ndarray) -> np.ndarray:
    """Class probabilities as floats: an int8 output is dequantized with the sidecar's scale and zero point."""
    scores = np.asarray(raw, dtype=np.float64).reshape(-1)
    out = bundle.meta["output"]
    return out["scale"] * (scores - out["zero_point"]) if out.get("scale") else scores


def uncertain_below(bundle: Bundle) -> float | None:
    """The top probability below which a window is marked uncertain (the sidecar's, set on the validation
    split at convert: pipeline/export/uncertainty.py); None for a bundle built without one."""
    return bundle.meta.get("uncertainty", {}).get("uncertain_below")


def as_mono(samples: np.ndarray) -> tuple[np.ndarray, bool]:
    """(mono samples, whether channels were mixed down): (n,) stays, (n, channels) is averaged."""
    if samples.ndim == 1:
        return samples, False
    if samples.ndim == 2:
        return samples.mean(axis=1, dtype=np.float32), True
    raise StreamError(f"channels: expected samples of shape (n,) or (n, channels), got {samples.shape}")


@dataclass
class Detector:
    """push(frame) -> the hops completed by that frame; finish() -> the last ones (or one padded window)."""
    bundle: Bundle
    hop_s: float
    rate: int | None = None          # the frames' rate; None: the bundle's
    resample: bool = False
    runner: tuple[Runner, Bundle] | None = None  # a loaded (run, bundle it runs) to share; None: load one
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        require_raw_audio(self.bundle)
        self.sample_rate = int(self.bundle.meta["features"]["sample_rate"])
        self.window = int(self.bundle.meta["input"]["shape"][-1])
        self.hop = int(round(self.hop_s * self.sample_rate))
        if not 1 <= self.hop <= self.window:
            raise StreamError(f"hop: {self.hop_s} s is {self.hop} samples; allowed: 1..{self.window} samples "
                              f"(up to one window, {self.window / self.sample_rate:g} s)")
        rate = self.sample_rate if self.rate is None else int(self.rate)
        self._resampler = None
        if rate != self.sample_rate:
            if not self.resample:
                raise StreamError(f"sample rate: expected {self.sample_rate} Hz, got {rate} Hz "
                                  f"{RESAMPLE_HINT}")
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.sample_rate, 1, dtype="float32", quality="HQ")
            self.notes.append(f"resampled {rate} Hz -> {self.sample_rate} Hz with {RESAMPLER}")
        if self.runner is None:
            self._run, self.runs_bundle, notes = load_runner(self.bundle)
            self.notes.extend(notes)
        else:
            self._run, self.runs_bundle = self.runner
        self.uncertain_below = uncertain_below(self.runs_bundle)
        if self.uncertain_below is None:
            self.notes.append(f"{self.runs_bundle.variant} has no uncertainty threshold (built before convert set "
                              "one): no window is marked uncertain")
        self._ring = np.zeros(self.window, np.float32)
        self._pos = 0         # where the next sample goes in the ring
        self._seen = 0        # samples received, at the bundle's rate
        self._since = 0       # samples since the last inference
        self._hops = 0

    def push(self, frame: np.ndarray) -> list[Hop]:
        frame = np.asarray(frame)
        if frame.ndim != 1 or frame.dtype != np.float32:
            raise StreamError(f"frame: expected 1-D float32 samples in [-1, 1], got {frame.dtype} of shape "
                              f"{frame.shape}")
        check_samples(frame, self.bundle)
        if self._resampler is not None:
            frame = self._resampler.resample_chunk(frame)
        return self._consume(frame)

    def finish(self) -> list[Hop]:
        """Flush the resampler; a stream shorter than one window gets one inference, zero-padded and said so."""
        hops = self._consume(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)) \
            if self._resampler is not None else []
        if self._hops == 0 and self._seen:
            self.notes.append(f"the audio ({self._seen} samples) is shorter than one window ({self.window}): "
                              f"zero-padded to one window")
            hops.append(self._infer(np.concatenate([self._ring[:self._seen],
                                                    np.zeros(self.window - self._seen, np.float32)]), padded=True))
        return hops

    def _consume(self, x: np.ndarray) -> list[Hop]:
        hops = []
        while len(x):
            full = self._seen >= self.window
            need = (self.hop - self._since) if full and self._hops else (self.window - self._seen)
            take = min(need, len(x))
            self._write(x[:take])
            x = x[take:]
            self._seen += take
            self._since += take
            if self._seen >= self.window and (self._since >= self.hop or self._hops == 0):
                hops.append(self._infer(np.concatenate([self._ring[self._pos:], self._ring[:self._pos]])))
        return hops

    def _write(self, x: np.ndarray) -> None:
        first = min(len(x), self.window - self._pos)
        self._ring[self._pos:self._pos + first] = x[:first]
        self._ring[:len(x) - first] = x[first:]
        self._pos = (self._pos + len(x)) % self.window

    def _infer(self, window: np.ndarray, padded: bool = False) -> Hop:
        t0 = time.perf_counter()
        raw = self._run(window.reshape(1, self.window))
        latency_ms = (time.perf_counter() - t0) * 1e3
        scores = scores_of(self.runs_bundle, raw)
        start = 0 if padded else self._seen - self.window
        self._since = 0
        self._hops += 1
        return Hop(start / self.sample_rate, (start + self.window) / self.sample_rate,
                   self.bundle.meta["labels"][int(np.argmax(scores))], tuple(float(s) for s in scores),
                   latency_ms, padded, self.is_uncertain(float(np.max(scores))))

    def is_uncertain(self, top: float) -> bool:
        return self.uncertain_below is not None and top < self.uncertain_below
