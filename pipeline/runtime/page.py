"""The page to try a bundle, served by `python -m pipeline serve BUNDLE` at GET /: pick a WAV or record from the
microphone, see the overall label and the timeline the server answers; where the bundle is ONNX the page also
runs it in the browser with onnxruntime-web and shows both answers and times. Self-contained: the page, the
consumer code and onnxruntime-web come from this server (no CDN), the model from GET /v1/model/file."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.bench.child_env import apps_modules
from pipeline.runtime.bundle import Bundle

PAGE = Path(__file__).with_name("page.html")
# the WAV decoder the app targets test (pipeline/targets/app.py's onnxruntime consumers share it)
CONSUMER = Path(__file__).parents[1] / "targets" / "app_js" / "onnx_consumer.js"
ORT_FILE = re.compile(r"^ort[\w.-]*\.(m?js|wasm)$")  # onnxruntime-web's builds and their WebAssembly
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}


def routes(bundle: Bundle) -> list:
    from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    async def page(request):
        return HTMLResponse(PAGE.read_text())

    async def model_file(request):
        return FileResponse(bundle.artefact, media_type="application/octet-stream")

    async def consumer(request):
        return FileResponse(CONSUMER, media_type="text/javascript")

    async def ort_file(request):
        name = request.path_params["name"]
        path = apps_modules() / "onnxruntime-web" / "dist" / name
        if not ORT_FILE.match(name) or not path.is_file():
            return PlainTextResponse(f"{name}: not served (onnxruntime-web's files, provisioned by `make setup`)",
                                     status_code=404)
        return FileResponse(path, media_type=TYPES[path.suffix])

    return [Route("/", page, methods=["GET"]), Route("/v1/model/file", model_file, methods=["GET"]),
            Route("/static/onnx_consumer.js", consumer, methods=["GET"]),
            Route("/ort/{name}", ort_file, methods=["GET"])]
