"""Serve an end-to-end bundle over HTTP, the remote alternative to running it on the device:
python -m pipeline serve BUNDLE_DIR [--host 127.0.0.1] [--port 8000] [--concurrency 2] [--resample]
                                    [--max-body-kb 4096] [--max-seconds 60] [--hop-ms 250] [--body-timeout-s 10]
                                    [--max-batch 1] [--max-wait-ms 2] [--cache-mb 16] [--cache-ttl-s 300]

Starlette on uvicorn. POST /v1/classify takes a WAV body (Content-Type audio/wav) or raw PCM
(application/octet-stream with ?rate=16000&format=f32le|s16le[&channels=1]) and answers what `classify`
prints with --json, plus the variant and the server-side time (server_ms). GET /v1/model: the sidecar.
GET /healthz. GET /v1/stats: batching and answer-cache counters. GET /: a page to try the bundle from a browser (pipeline/runtime/page.py). Bad input is a 4xx with classify's message and the server keeps serving: 400 not audio or a bad
query, 408 a body not received within --body-timeout-s, 413 too large a body or too long a recording (judged
from the header, before decoding: a small compressed body cannot expand into hours of samples), 415 another
content type, 422 audio that does not fit the bundle (another rate without --resample, NaN, samples outside
[-1, 1]). Decoding runs off the event loop; a client that disconnects mid-upload is one line on stderr. At most --concurrency inferences
run at once (one loaded runtime each; the rest wait). --max-batch N gathers the windows of concurrent requests
into one call of up to N where the artefact takes a batch dimension (pipeline/runtime/batching.py; answers equal
one-by-one); answers are cached by the window's content (LRU within --cache-mb, each for --cache-ttl-s; 0 MB: no
cache; a request with `Cache-Control: no-cache` skips it). SIGINT or SIGTERM stops accepting and finishes the
requests in flight. Prints `listening on http://HOST:PORT` once it accepts (--port 0: a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import socket
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.runtime.batching import AnswerCache, Batcher, takes_batch
from pipeline.runtime.classify import DEFAULT_HOP_MS, ClipError, classify
from pipeline.runtime.bundle import BundleError, open_bundle
from pipeline.runtime.stream import RESAMPLE_HINT, load_runner, require_raw_audio

WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")
RAW_TYPE = "application/octet-stream"
RAW_FORMATS = {"f32le": ("<f4", 1.0), "s16le": ("<i2", 1 / 32768)}
GRACEFUL_S = 30  # how long a shutdown waits for the requests in flight
BODY_TIMEOUT_S = 10.0  # a body not received in full by then is refused (a stalled upload holds no slot for ever)


class RequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _too_long(frames: int, rate: int, max_seconds: float) -> RequestError:
    return RequestError(413, f"recording: {frames / rate:,.1f} s; allowed: up to {max_seconds:g} s "
                             "(judged from its header, before decoding)")


def decode(body: bytes, content_type: str, query,
           max_seconds: float = float("inf")) -> tuple[np.ndarray, int, list[str]]:
    """(samples, rate, notes) of a request body, or a RequestError naming what was wrong and what is allowed.
    A recording longer than max_seconds is refused from its header, and no more than that is ever decoded
    (a header that understates its length cannot make the decoder read on)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in WAV_TYPES:
        import soundfile as sf

        try:
            info = sf.info(io.BytesIO(body))
            if info.frames / info.samplerate > max_seconds:
                raise _too_long(info.frames, info.samplerate, max_seconds)
            limit = int(max_seconds * info.samplerate) + 1 if max_seconds != float("inf") else -1
            samples, rate = sf.read(io.BytesIO(body), frames=limit, dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError, TypeError) as err:
            why = str(err).rsplit(": ", 1)[-1]  # libsndfile's reason, without the in-memory file's repr
            raise RequestError(400, f"not audio: the body is not a WAV file soundfile can decode ({why})") from None
        if len(samples) / rate > max_seconds:
            raise _too_long(len(samples), rate, max_seconds)
        notes = [] if info.subtype.startswith("FLOAT") else [f"the body holds {info.subtype} samples, decoded to float32"]
        return samples, rate, notes
    if kind == RAW_TYPE:
        fmt = query.get("format", "")
        if fmt not in RAW_FORMATS:
            raise RequestError(400, f"format: {fmt!r} is not a raw PCM format; allowed: {sorted(RAW_FORMATS)} "
                                    f"(query ?rate=16000&format=f32le)")
        try:
            rate, channels = int(query.get("rate", "")), int(query.get("channels", "1"))
        except ValueError:
            raise RequestError(400, "rate and channels: integers required in the query "
                                    "(for example ?rate=16000&format=f32le&channels=1)") from None
        if rate <= 0 or channels <= 0:
            raise RequestError(400, f"rate {rate} and channels {channels}: both must be positive")
        dtype, scale = RAW_FORMATS[fmt]
        width = np.dtype(dtype).itemsize * channels
        if len(body) % width:
            raise RequestError(400, f"not audio: {len(body)} bytes is not a whole number of {fmt} frames of "
                                    f"{channels} channel(s) ({width} bytes each)")
        if len(body) // width / rate > max_seconds:
            raise _too_long(len(body) // width, rate, max_seconds)
        samples = (np.frombuffer(body, dtype=dtype).astype(np.float32) * np.float32(scale))
        return (samples.reshape(-1, channels) if channels > 1 else samples), rate, []
    raise RequestError(415, f"Content-Type {content_type or '(none)'!r}: send a WAV ({WAV_TYPES[0]}) or raw PCM "
                            f"({RAW_TYPE} with ?rate=&format=)")


def create_app(folder: Path, concurrency: int = 2, max_body_bytes: int = 4 << 20, max_seconds: float = 60.0,
               resample: bool = False, hop_s: float = DEFAULT_HOP_MS / 1e3, body_timeout_s: float = BODY_TIMEOUT_S,
               max_batch: int = 1, max_wait_s: float = 0.002, cache_bytes: int = 16 << 20, cache_ttl_s: float = 300.0):
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    bundle = open_bundle(folder)
    require_raw_audio(bundle)
    loaded = [load_runner(bundle)[:2] for _ in range(concurrency)]  # one runtime per inference at once
    runs_bundle, window = loaded[0][1], int(bundle.meta["input"]["shape"][-1])
    batchable = takes_batch(loaded[0][0], window)
    batcher = Batcher([run for run, _ in loaded], max_batch, max_wait_s) if max_batch > 1 and batchable else None
    if max_batch > 1 and not batchable:
        print(f"serve: {runs_bundle.variant} takes one window per call (its input's batch dimension is fixed at 1): "
              f"--max-batch {max_batch} has no effect", file=sys.stderr, flush=True)
    runners: asyncio.Queue = asyncio.Queue()
    for runner in loaded:
        runners.put_nowait(runner)
    cache = AnswerCache(cache_bytes, cache_ttl_s) if cache_bytes > 0 else None

    def cached(run, request):
        if cache is None or "no-cache" in request.headers.get("cache-control", "").lower():
            return run
        return lambda x: cache.answer(x, run)

    async def infer(request, samples: np.ndarray, rate: int) -> dict:
        if batcher is not None:  # concurrent requests meet in the batcher, not in the runners' queue
            return await run_in_threadpool(classify, bundle, samples, rate, resample, hop_s,
                                           runner=(cached(batcher, request), runs_bundle))
        run, runs = await runners.get()
        try:
            return await run_in_threadpool(classify, bundle, samples, rate, resample, hop_s,
                                           runner=(cached(run, request), runs))
        finally:
            runners.put_nowait((run, runs))

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message, "status": status}, status_code=status)

    async def read_body(request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            raise RequestError(413, f"body: {int(declared)} bytes; allowed: up to {max_body_bytes} bytes")
        chunks, size = [], 0
        try:
            async with asyncio.timeout(body_timeout_s):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_body_bytes:
                        raise RequestError(413, f"body: more than {max_body_bytes} bytes; allowed: up to "
                                                f"{max_body_bytes}")
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestError(408, f"body: {size} bytes received in {body_timeout_s:g} s, not the whole body; "
                                    f"send it within {body_timeout_s:g} s") from None
        return b"".join(chunks)

    disconnects = [0]

    async def classify_route(request):
        t0 = time.perf_counter()
        try:
            body = await read_body(request)
            samples, rate, notes = await run_in_threadpool(decode, body, request.headers.get("content-type", ""),
                                                           request.query_params, max_seconds)
            result = await infer(request, samples, rate)
        except ClientDisconnect:  # nobody to answer: one line, counted, no traceback
            disconnects[0] += 1
            print(f"serve: a client disconnected during its upload ({disconnects[0]} so far)", file=sys.stderr,
                  flush=True)
            return Response(status_code=400)
        except RequestError as err:
            return error(err.status, err.message)
        except (BundleError, ClipError) as err:  # the audio does not fit the bundle: classify's message, in HTTP terms
            return error(422, str(err).replace(RESAMPLE_HINT, "(this server does not resample: send audio at the "
                                                              "bundle's rate, or start it with --resample)"))
        result["notes"] = [*notes, *result["notes"]]
        result["server_ms"] = round((time.perf_counter() - t0) * 1e3, 3)
        return JSONResponse(result)

    async def model_route(request):
        return JSONResponse(bundle.meta)

    async def health_route(request):
        return JSONResponse({"status": "ok", "variant": bundle.variant})

    async def stats_route(request):
        return JSONResponse({"variant": runs_bundle.variant, "concurrency": concurrency, "batching": {
            "max_batch": max_batch, "max_wait_ms": max_wait_s * 1e3, "takes_batch": batchable,
            **(batcher.stats() if batcher else {"active": False})},
            "cache": cache.stats() if cache else None})

    from pipeline.runtime.page import routes as page_routes

    return Starlette(routes=[Route("/v1/classify", classify_route, methods=["POST"]),
                             Route("/v1/model", model_route, methods=["GET"]),
                             Route("/healthz", health_route, methods=["GET"]),
                             Route("/v1/stats", stats_route, methods=["GET"]), *page_routes(bundle)])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline serve", description=__doc__.split("\n")[0])
    ap.add_argument("bundle", type=Path, help="an end-to-end bundle folder (models/variants/<level>/<variant>)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000, help="0: a free port")
    ap.add_argument("--concurrency", type=int, default=2, help="inferences at once (default 2)")
    ap.add_argument("--max-body-kb", type=int, default=4096)
    ap.add_argument("--max-seconds", type=float, default=60.0, help="longest recording accepted")
    ap.add_argument("--hop-ms", type=float, default=DEFAULT_HOP_MS)
    ap.add_argument("--resample", action="store_true", help="accept other rates, resampled with soxr")
    ap.add_argument("--body-timeout-s", type=float, default=BODY_TIMEOUT_S, help="time to receive a whole body")
    ap.add_argument("--max-batch", type=int, default=1, help="windows per call, gathered from concurrent requests")
    ap.add_argument("--max-wait-ms", type=float, default=2.0, help="longest wait for a batch to fill")
    ap.add_argument("--cache-mb", type=float, default=16.0, help="answer cache's memory bound (0: no cache)")
    ap.add_argument("--cache-ttl-s", type=float, default=300.0, help="how long a cached answer is kept")
    args = ap.parse_args(argv)
    if (args.concurrency < 1 or args.max_body_kb < 1 or args.max_batch < 1 or args.max_seconds <= 0
            or args.body_timeout_s <= 0 or args.max_wait_ms < 0 or args.cache_mb < 0 or args.cache_ttl_s <= 0):
        print("error: --concurrency, --max-body-kb and --max-batch must be at least 1, --max-seconds, "
              "--body-timeout-s and --cache-ttl-s above 0, --max-wait-ms and --cache-mb not negative", file=sys.stderr)
        return 2
    try:
        app = create_app(args.bundle, args.concurrency, args.max_body_kb * 1024, args.max_seconds, args.resample,
                         args.hop_ms / 1e3, args.body_timeout_s, args.max_batch, args.max_wait_ms / 1e3,
                         int(args.cache_mb * (1 << 20)), args.cache_ttl_s)
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a keep-alive connection's answer waited ~40 ms for the
    # client's delayed ACK (Nagle), 48 ms instead of 5 ms per request measured here.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACEFUL_S, lifespan="off")
    server = uvicorn.Server(config)
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    host, port = sock.getsockname()[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":  # `python -m pipeline serve` is the user's entry; the benchmark runs this module
    sys.exit(main(sys.argv[1:]))
