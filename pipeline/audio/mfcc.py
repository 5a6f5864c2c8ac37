"""MFCC features: the per-clip librosa definition and a vectorised numpy batch version.

The training features are defined by `mfcc_reference` (one clip, librosa):

    S    = librosa.feature.melspectrogram(y, sr, n_fft, hop_length, n_mels, fmin, fmax,
                                          power=2.0, center=True, pad_mode="constant", window="hann")
    S_db = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=top_db)     # top_db PER CLIP
    M    = librosa.feature.mfcc(S=S_db, n_mfcc=n_mfcc, dct_type=2, norm="ortho")

`mfcc_batch` computes the same numbers for a whole (n, samples) array at once with numpy
(stride-trick framing, one rfft over all frames of a chunk, librosa's Slaney mel matrix, a per-clip
max for top_db, an orthonormal DCT-II). Do not feed a batch to librosa.feature.mfcc directly: it
applies top_db against the loudest clip of the whole batch.

`window`, `mel_matrix` and `dct_matrix` are the single source of the constants; the graph builders
in `pipeline.audio.mfcc_graph` embed exactly these arrays.

numpy is the only import at module level; librosa (and scipy, which librosa depends on and whose
DCT librosa itself calls) are imported lazily.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

AMIN = 1e-10  # power floor before log10 (librosa.power_to_db's amin)


@dataclass(frozen=True)
class MfccConfig:
    """All parameters of the MFCC front end (their values live in params.yaml: `features`, `data.sample_rate`)."""

    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    n_mfcc: int
    fmin: float
    fmax: float
    top_db: float

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels", "n_mfcc"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"MfccConfig.{name} must be a positive integer, got {value!r}")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"MfccConfig.n_mfcc ({self.n_mfcc}) must be <= n_mels ({self.n_mels})")
        if not 0.0 <= float(self.fmin) < float(self.fmax):
            raise ValueError(f"MfccConfig needs 0 <= fmin < fmax, got fmin={self.fmin}, fmax={self.fmax}")
        if float(self.fmax) > self.sample_rate / 2:
            raise ValueError(f"MfccConfig.fmax ({self.fmax}) must be <= sample_rate/2 "
                             f"({self.sample_rate / 2})")
        if not float(self.top_db) > 0:
            raise ValueError(f"MfccConfig.top_db must be > 0, got {self.top_db!r}")

    @classmethod
    def from_params(cls, p: Any, model: str | None = None) -> "MfccConfig":
        """From validated params: `data.sample_rate` and the front end of `model` (its Keras entry's overrides
        on `features:`), or `features:` itself."""
        features, sample_rate = (p.features if model is None else p.front(model)), p.data.sample_rate
        return cls(sample_rate=int(sample_rate), n_fft=int(features.n_fft),
                   hop_length=int(features.hop_length), n_mels=int(features.n_mels),
                   n_mfcc=int(features.n_mfcc), fmin=float(features.fmin),
                   fmax=float(features.fmax), top_db=float(features.top_db))

    @property
    def n_freqs(self) -> int:
        """Number of one-sided FFT bins."""
        return self.n_fft // 2 + 1

    @property
    def pad(self) -> int:
        """Zeros added on each side of the clip (librosa center=True)."""
        return self.n_fft // 2

    def n_frames(self, n_samples: int) -> int:
        """Frames librosa produces for a clip of n_samples with center=True (51 for 1 s)."""
        if n_samples <= 0:
            raise ValueError(f"n_samples must be positive, got {n_samples}")
        return 1 + (n_samples + 2 * self.pad - self.n_fft) // self.hop_length

    def output_shape(self, n_samples: int) -> tuple[int, int]:
        return (self.n_mfcc, self.n_frames(n_samples))


# ----------------------------------------------------------------------------- constants


@lru_cache(maxsize=16)
def _window(n_fft: int) -> np.ndarray:
    import scipy.signal

    w = scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float64)
    w.setflags(write=False)
    return w


def window(cfg: MfccConfig) -> np.ndarray:
    """Periodic Hann window of length n_fft, float64 (what librosa.stft uses; read-only)."""
    return _window(cfg.n_fft)


@lru_cache(maxsize=16)
def _mel(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    m = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                            htk=False, norm="slaney", dtype=np.float32)
    m.setflags(write=False)
    return m


def _slaney_mel(hz: np.ndarray) -> np.ndarray:
    """librosa.hz_to_mel(htk=False): linear below 1 kHz, logarithmic above."""
    linear = hz / (200.0 / 3)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), linear)


def _slaney_hz(mel: np.ndarray) -> np.ndarray:
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def empty_mel_bands(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> int:
    """How many of the Slaney mel filters get no FFT bin (librosa only warns, and their log-energies are
    the floor: garbage features). Numpy only, so that params validation needs no librosa."""
    edges = _slaney_hz(np.linspace(_slaney_mel(np.float64(fmin)), _slaney_mel(np.float64(fmax)), n_mels + 2))
    bins = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    inside = (bins[None, :] > edges[:-2, None]) & (bins[None, :] < edges[2:, None])
    return int(np.sum(~inside.any(axis=1)))


def mel_matrix(cfg: MfccConfig) -> np.ndarray:
    """librosa's Slaney mel filter bank, (n_mels, n_fft//2 + 1) float32 (read-only).

    Exactly the matrix librosa.feature.melspectrogram uses (float32 is librosa's default dtype).
    """
    return _mel(cfg.sample_rate, cfg.n_fft, cfg.n_mels, float(cfg.fmin), float(cfg.fmax))


@lru_cache(maxsize=16)
def _dct(n_mfcc: int, n_mels: int) -> np.ndarray:
    n = np.arange(n_mels, dtype=np.float64)
    k = np.arange(n_mfcc, dtype=np.float64)[:, None]
    d = np.sqrt(2.0 / n_mels) * np.cos(np.pi * k * (2.0 * n + 1.0) / (2.0 * n_mels))
    d[0] *= 1.0 / np.sqrt(2.0)
    d.setflags(write=False)
    return d


def dct_matrix(cfg: MfccConfig) -> np.ndarray:
    """Orthonormal DCT-II rows 0..n_mfcc-1, (n_mfcc, n_mels) float64 (read-only).

    `dct_matrix(cfg) @ S_db` equals scipy.fft.dct(S_db, type=2, norm="ortho", axis=0)[:n_mfcc].
    """
    return _dct(cfg.n_mfcc, cfg.n_mels)


# ----------------------------------------------------------------------------- reference


def mfcc_reference(clip: np.ndarray, cfg: MfccConfig) -> np.ndarray:
    """The training-feature definition for ONE clip (librosa). Returns (n_mfcc, frames) float32."""
    import librosa

    clip = np.asarray(clip)
    if clip.ndim != 1 or clip.size == 0:
        raise ValueError(f"clip must be a non-empty 1-D array, got shape {clip.shape}")
    if clip.dtype not in (np.float32, np.float64):
        raise ValueError(f"clip must be float32 or float64, got {clip.dtype}")
    S = librosa.feature.melspectrogram(
        y=clip, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
        n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, power=2.0, center=True,
        pad_mode="constant", window="hann")
    S_db = librosa.power_to_db(S, ref=1.0, amin=AMIN, top_db=cfg.top_db)
    M = librosa.feature.mfcc(S=S_db, n_mfcc=cfg.n_mfcc, dct_type=2, norm="ortho")
    return M.astype(np.float32)


# ----------------------------------------------------------------------------- batch


def _check_batch(clips: Any) -> np.ndarray:
    if not isinstance(clips, np.ndarray):
        raise ValueError(f"clips must be a numpy array of shape (n, samples), got {type(clips).__name__}")
    if clips.ndim != 2:
        raise ValueError(f"clips must be 2-D (n, samples), got {clips.ndim}-D with shape {clips.shape}")
    if clips.shape[0] == 0 or clips.shape[1] == 0:
        raise ValueError(f"clips must be non-empty, got shape {clips.shape}")
    if clips.dtype not in (np.float32, np.float64):
        raise ValueError(f"clips must be float32 or float64, got {clips.dtype}")
    return clips


class _Workspace:
    """Buffers for one vectorised block of `rows` clips, reused block after block.

    The arithmetic follows librosa step by step so the result is the same float32 numbers, not
    just the same maths: the frames are multiplied by the float64 window and transformed in float64
    (as librosa.stft does), the spectrum is stored as complex64 for float32 input, and |X|, |X|**2,
    the mel product, the dB conversion and the DCT run in the input's precision. This matters: at
    silence c0 is about -100 dB * sqrt(n_mels) = -632 where one float32 ulp is 6e-5, and a float64
    pipeline rounded at the end differs from librosa by up to 2 ulp (1.2e-4); a float32 FFT is off
    by up to 6e-4 on loud multi-tone clips (rounding noise ~1e-7 of the frame's energy swamps bands
    80 dB down that top_db still keeps).

    The mel product is one sgemm per clip of exactly librosa's shape, mel (n_mels, n_freqs) times the
    clip's F-ordered power (n_freqs, frames): OpenBLAS picks its kernels and blocking by the matrix
    shape, so one big product over the whole block (or the transposed product) rounds differently
    and moved c0 by up to 2 ulp (1.2e-4) against librosa on this machine.
    """

    def __init__(self, cfg: MfccConfig, n_samples: int, rows: int, dtype: np.dtype) -> None:
        self.cfg = cfg
        self.n_samples = n_samples
        self.n_frames = cfg.n_frames(n_samples)
        self.rdtype = np.dtype(dtype)
        cdtype = np.complex64 if self.rdtype == np.float32 else np.complex128
        F, nf = self.n_frames, cfg.n_freqs
        self.win = window(cfg)
        self.mel_basis = mel_matrix(cfg).astype(self.rdtype, copy=False)  # (n_mels, n_freqs), C order
        self.padded = np.zeros((rows, n_samples + 2 * cfg.pad), dtype=np.float64)  # edges stay 0
        # (rows, frames, n_fft) strided view of `padded`: no copy.
        self.frames = np.lib.stride_tricks.sliding_window_view(self.padded, cfg.n_fft, axis=-1)[
            :, : (F - 1) * cfg.hop_length + 1 : cfg.hop_length]
        self.windowed = np.empty((rows, F, cfg.n_fft), dtype=np.float64)
        self.spec = np.empty((rows, F, nf), dtype=cdtype)
        self.power = np.empty((rows, F, nf), dtype=self.rdtype)

    def mel_power(self, x: np.ndarray, mel: np.ndarray) -> None:
        """Mel energies of x (m <= rows, n_samples) into mel (m, n_mels, frames)."""
        m, pad = x.shape[0], self.cfg.pad
        self.padded[:m, pad:pad + self.n_samples] = x
        windowed = np.multiply(self.frames[:m], self.win, out=self.windowed[:m])
        # a float64 FFT stored as complex64 for float32 clips, as librosa.stft stores it
        spec = np.fft.rfft(windowed, axis=-1, out=self.spec[:m])
        power = np.abs(spec, out=self.power[:m])
        np.square(power, out=power)
        # per clip: mel (n_mels, n_freqs) @ power.T (n_freqs, frames), librosa's own sgemm
        np.matmul(self.mel_basis, power.transpose(0, 2, 1), out=mel)


def _mel_to_mfcc(mel: np.ndarray, cfg: MfccConfig, out: np.ndarray) -> None:
    """power_to_db (per-clip top_db) and the DCT, in place on mel (m, n_mels, frames). Elementwise
    and per-line work: it runs on large blocks, where numpy's and scipy's call overheads vanish."""
    np.maximum(mel, AMIN, out=mel)
    db = np.log10(mel, out=mel)
    np.multiply(db, 10.0, out=db)
    floor = db.max(axis=(1, 2), keepdims=True) - float(cfg.top_db)   # per clip, never per batch
    np.maximum(db, floor, out=db)
    # DCT-II ortho over the mel axis, as librosa calls it: mathematically `dct_matrix(cfg) @ db`
    # (the constant the graphs embed); scipy's transform rounds as librosa's does in float32.
    out[:] = _scipy_dct(db)[:, : cfg.n_mfcc]                          # (m, n_mfcc, frames)


def _scipy_dct(x: np.ndarray) -> np.ndarray:
    import scipy.fft

    return scipy.fft.dct(x, type=2, norm="ortho", axis=-2)


POST_BLOCK = 256  # clips per dB + DCT block


def _mfcc_serial(clips: np.ndarray, cfg: MfccConfig, chunk: int) -> np.ndarray:
    n, n_samples = clips.shape
    frames = cfg.n_frames(n_samples)
    out = np.empty((n, cfg.n_mfcc, frames), dtype=np.float32)
    work = _Workspace(cfg, n_samples, min(chunk, n), clips.dtype)
    mel = np.empty((min(POST_BLOCK, n), cfg.n_mels, frames), dtype=work.rdtype)
    with np.errstate(invalid="ignore", over="ignore"):   # bad rows are reported by mfcc_batch
        for block in range(0, n, POST_BLOCK):
            stop = min(block + POST_BLOCK, n)
            for start in range(block, stop, chunk):
                end = min(start + chunk, stop)
                work.mel_power(clips[start:end], mel[start - block:end - block])
            _mel_to_mfcc(mel[:stop - block], cfg, out[block:stop])
    return out


def _mfcc_parallel(clips: np.ndarray, cfg: MfccConfig, chunk: int, workers: int) -> np.ndarray:
    """Contiguous parts of the batch in forked processes that write into one shared output (numpy's
    FFT holds the GIL, so threads gained little; a multiprocessing pool cost 35 ms to start and
    pickled the results). A fork inherits the audio without a copy. Each part is computed exactly
    as the serial path computes it, so the result is the same."""
    import mmap
    import traceback

    n = len(clips)
    shape = (n, cfg.n_mfcc, cfg.n_frames(clips.shape[1]))
    shared = mmap.mmap(-1, int(np.prod(shape)) * 4)          # MAP_SHARED | MAP_ANONYMOUS
    out = np.frombuffer(shared, dtype=np.float32).reshape(shape)
    edges = [round(i * n / workers) for i in range(workers + 1)]
    children = []
    for lo, hi in zip(edges[1:-1], edges[2:]):
        pid = os.fork()
        if pid == 0:                                         # child: compute its part, never return
            code = 0
            try:
                out[lo:hi] = _mfcc_serial(clips[lo:hi], cfg, chunk)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    try:
        out[edges[0]:edges[1]] = _mfcc_serial(clips[edges[0]:edges[1]], cfg, chunk)
    finally:
        statuses = [os.waitpid(pid, 0)[1] for pid in children]
    if any(statuses):
        raise RuntimeError(f"an MFCC worker process failed (wait statuses {statuses}); see its traceback above")
    result = out.copy()
    del out
    shared.close()
    return result


def mfcc_batch(clips: np.ndarray, cfg: MfccConfig, chunk: int = 2, workers: int | None = 1) -> np.ndarray:
    """MFCCs of every row of `clips` (n, samples), float32 or float64.

    Returns (n, n_mfcc, frames) float32 equal to stacking `mfcc_reference` of each row: top_db is
    applied per clip, and the arithmetic and even the BLAS calls follow librosa's, so float32 clips
    give bit-identical numbers (tested; a different BLAS build could move them by a float32 ulp).

    Rows are processed `chunk` at a time through buffers allocated once, so memory stays bounded
    (about 0.75 MB per row of a chunk). Small chunks are the fast ones: the working set stays in
    cache (chunk 2 beat 4, 16 and 256 on the 2-core build machine). `workers` > 1 splits the batch
    into that many forked processes (None: one per CPU this process may use); every clip is
    computed the same way in any of them, so the result does not depend on `workers`.
    """
    clips = _check_batch(clips)
    for name, value in (("chunk", chunk), ("workers", 1 if workers is None else workers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    chunk = int(chunk)
    workers = len(os.sched_getaffinity(0)) if workers is None else int(workers)
    workers = min(workers, len(clips) // (8 * chunk) or 1)   # a fork costs more than a few chunks
    out = _mfcc_serial(clips, cfg, chunk) if workers == 1 else _mfcc_parallel(clips, cfg, chunk, workers)
    # A NaN or inf anywhere in a clip turns all of that clip's MFCCs into NaN (it reaches the
    # per-clip max), so checking the small output is enough and saves a pass over the audio.
    ok = np.isfinite(out).all(axis=(1, 2))
    if not ok.all():
        row = int(np.argmin(ok))
        if not np.isfinite(clips[row]).all():
            raise ValueError(f"clips contains NaN or inf (first in row {row})")
        raise ValueError(f"MFCCs of row {row} overflow float32: amplitudes up to "
                         f"{float(np.abs(clips[row]).max()):.3g}; expected audio in [-1, 1]")
    return out
