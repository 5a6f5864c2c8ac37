"""The HTML report (pipeline/report/html.py) opened in a real headless Chromium, offline.

A report page is rendered by the real renderer from made-up benchmark results, written to a
temporary folder and loaded from file:// in Debian's Chromium with every network load forced
to fail (a dead proxy and a resolver that resolves nothing), so a CDN reference would show up
as a failed request. The browser is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: standard library only, no websocket, no port), which gives, from one
load: console errors, uncaught exceptions, failed and non-local requests, the live DOM, layout
boxes and a screenshot.

Asserted: the page loads; no console error, exception, log error or request leaving the file;
the tables hold the expected rows; every plot is an inline <svg> with a real size on screen;
the screenshot (1200x2000) is not blank (a fair share of non-white pixels, many colours, the
plots' blue visible). A control page with a CDN script and a console.error checks that the
harness does see such errors.

Chromium comes from `make setup` (scripts/install_browser.sh). Without it the tests skip,
unless CI is set, then they fail. About 5 s.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import queue
import select
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.report import html, tables
from pipeline.report.decision import decide_all
from pipeline.report.model import build as build_report
from pipeline.report.target_context import ReportContext
from pipeline.report.ship import ship_section
from pipeline.targets import qemu, qemu_report
from pipeline.targets.kinds import TARGET_KINDS

WIDTH, HEIGHT = 1200, 2000
LOAD_TIMEOUT = 20.0
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:", "chrome:", "devtools:")


def find_chromium() -> str | None:
    # (not chromium-browser: on Ubuntu that is a snap stub)
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("google-chrome")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        msg = "headless Chromium not found (/usr/bin/chromium): run `make setup` or `bash scripts/install_browser.sh`"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


# --------------------------------------------------------------------------- DevTools over a pipe


class DevTools:
    """A minimal DevTools-protocol client on Chromium's --remote-debugging-pipe (fd 3 in, fd 4 out).

    Messages are JSON, each terminated by a NUL byte. Events of the attached page are kept in
    `events`; `call` waits for the answer to one command.
    """

    def __init__(self, binary: str, profile: Path):
        cmd_r0, self._cmd_w = os.pipe()
        self._resp_r, resp_w0 = os.pipe()
        args = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
            f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
            # offline: anything that is not a local file goes to a dead proxy, and no name resolves
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe", "about:blank",
        ]

        # Chromium talks on fds 3 and 4; bash puts our pipe ends there (moved above 9 first, so
        # that neither redirection can clobber the other) and execs the browser in its place.
        cmd_r, resp_w = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r0, resp_w0))
        os.close(cmd_r0)
        os.close(resp_w0)
        wrapper = ["bash", "-c", f'exec "$0" "$@" 3<&{cmd_r} 4>&{resp_w} {cmd_r}<&- {resp_w}>&-', *args]
        self.stderr_path = profile.parent / "chromium.stderr"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(wrapper, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         pass_fds=(cmd_r, resp_w))
        os.close(cmd_r)
        os.close(resp_w)
        self._next_id = 0
        self._answers: dict[int, dict] = {}
        self._inbox: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        self.session: str | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._resp_r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self._inbox.put(None)
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for m in messages:
                self._inbox.put(json.loads(m))

    def _pump(self, deadline: float) -> None:
        """Move one message from the reader into answers/events, or raise on time-out/exit."""
        try:
            msg = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("no answer from Chromium in time" + self._stderr_tail()) from None
        if msg is None:
            raise RuntimeError(f"Chromium closed the DevTools pipe (exit {self.proc.poll()})" + self._stderr_tail())
        if "id" in msg:
            self._answers[msg["id"]] = msg
        else:
            self.events.append(msg)

    def _stderr_tail(self) -> str:
        try:
            return "\n--- chromium stderr ---\n" + self.stderr_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def call(self, method: str, params: dict | None = None, session: bool = True, timeout: float = LOAD_TIMEOUT):
        self._next_id += 1
        msg: dict = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        _, ready, _ = select.select([], [self._cmd_w], [], timeout)
        if not ready:
            raise TimeoutError(f"cannot send {method} to Chromium")
        os.write(self._cmd_w, data)
        deadline = time.monotonic() + timeout
        while self._next_id not in self._answers:
            self._pump(deadline)
        answer = self._answers.pop(self._next_id)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def wait_event(self, method: str, since: int = 0, timeout: float = LOAD_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events[since:]:
                if ev.get("method") == method:
                    return ev
            self._pump(deadline)

    def open_page(self) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})

    def close(self) -> None:
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._resp_r)  # the reader thread then sees an error and ends


PAGE_PROBE = """JSON.stringify({
  title: document.title,
  h1: [...document.querySelectorAll('h1')].map(e => e.textContent),
  h2: [...document.querySelectorAll('h2')].map(e => e.textContent.trim()),
  tables: [...document.querySelectorAll('table')].map(t =>
      [...t.querySelectorAll('tr')].map(r => [...r.cells].map(c => c.textContent.trim()))),
  svgs: [...document.querySelectorAll('svg')].map(s => {
      const b = s.getBoundingClientRect();
      return {w: b.width, h: b.height, top: b.top + window.scrollY, shapes: s.querySelectorAll('path,rect,use').length};
  }),
  scripts: document.scripts.length,
  external: [...document.querySelectorAll('[src],[href]')].map(e => e.getAttribute('src') || e.getAttribute('href'))
      .filter(u => /^(https?:)?\\/\\//.test(u)),
  scrollWidth: document.documentElement.scrollWidth,
  scrollHeight: document.documentElement.scrollHeight,
  widestTable: Math.max(0, ...[...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right)),
})"""


def load(binary: str, page: Path, workdir: Path) -> dict:
    """Load `page` from file:// in a fresh headless Chromium; return what was seen."""
    profile = workdir / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    tools = DevTools(binary, profile)
    try:
        tools.open_page()
        mark = len(tools.events)
        nav = tools.call("Page.navigate", {"url": page.resolve().as_uri()})
        loaded = "errorText" not in nav
        if loaded:
            tools.wait_event("Page.loadEventFired", since=mark)
            time.sleep(0.3)  # let late console messages and failed loads arrive
            tools.call("Runtime.evaluate", {"expression": "1"})  # and be read
        probe = json.loads(tools.call("Runtime.evaluate", {"expression": PAGE_PROBE, "returnByValue": True})
                           ["result"]["value"])
        dom = tools.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                               "returnByValue": True})["result"]["value"]
        shot = base64.b64decode(tools.call("Page.captureScreenshot", {"format": "png"})["data"])
        events = list(tools.events)
    finally:
        tools.close()

    problems: list[str] = []
    requests: list[str] = []
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            problems.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            problems.append(f"uncaught: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            problems.append(f"log ({e.get('source')}): {e.get('text')} {e.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            requests.append(p["request"]["url"])
        elif method == "Network.loadingFailed":
            problems.append(f"failed load: {p.get('errorText')} (request {p.get('requestId')})")
    external = [u for u in requests if not u.startswith(LOCAL_SCHEMES)]
    problems += [f"request leaving the page: {u}" for u in external]
    return {"loaded": loaded, "nav": nav, "problems": problems, "requests": requests, "probe": probe,
            "dom": dom, "png": shot}


# --------------------------------------------------------------------------- the report page


def _host(acc: float, p50: float, preds: list[int]) -> dict:
    return {"accuracy": acc, "agreement": 1.0 if acc > 0.85 else 0.97, "status": "ok",
            "per_class_accuracy": {"speech": acc, "rock": acc},
            "record": {"latency_p50_us": p50, "latency_p90_us": p50 * 1.1, "latency_p99_us": p50 * 1.4,
                       "latency_mean_us": p50 * 1.02, "latency_std_us": 1.5, "load_ms": 3.0, "peak_rss_mb": 80.0,
                       "predictions": preds}}


def _arm(instr: int, preds: list[int]) -> dict:
    return {"status": "ok", "instructions_per_inference": instr,
            "record": {"latency_p50_us": instr / 50.0, "predictions": preds}}


PREDS = [0, 1, 2, 3, 4, 0, 1, 2]
# (model, format, level) -> (size in bytes, accuracy, host p50 µs, a53 instructions)
BUILT = {
    ("keras", "onnx", "fp32"): (180_000, 0.91, 210.0, 9_000_000),
    ("keras", "onnx", "fp16"): (95_000, 0.91, 260.0, 9_400_000),
    ("keras", "onnx", "int8"): (52_000, 0.89, 120.0, 4_100_000),
    ("keras", "tflite", "fp32"): (176_000, 0.91, 150.0, 7_500_000),
    ("keras", "tflite", "int8"): (50_000, 0.895, 80.0, 3_000_000),
    ("logreg", "onnx", "fp32"): (3_500, 0.78, 9.0, 60_000),
    ("random_forest", "onnx", "fp32"): (410_000, 0.84, 35.0, 400_000),
}
NOT_APPLICABLE = {("random_forest", "onnx", "int8"): "TreeEnsembleClassifier has no int8 kernel in onnxruntime",
                  ("logreg", "tflite", "fp32"): "scikit-learn models are exported to ONNX only"}
SKIPPED_TARGET_REASON = "cortex-a72: qemu-aarch64 is not installed (make arm)"


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> tuple[Path, list[dict], dict]:
    indexes: dict[str, dict] = {}
    bench: dict[str, dict] = {"host": {}, "cortex-a53": {}, "cortex-a72": {}}
    for (model, fmt, level), (size, acc, p50, instr) in BUILT.items():
        vid = f"{model}.{fmt}.{level}"
        indexes.setdefault(level, {})[vid] = {"status": "ok", "size_bytes": size}
        bench["host"].setdefault(level, {})[vid] = _host(acc, p50, PREDS)
        bench["cortex-a53"].setdefault(level, {})[vid] = _arm(instr, PREDS if level != "int8" else PREDS[::-1])
        bench["cortex-a72"].setdefault(level, {})[vid] = {"status": "skipped", "reason": SKIPPED_TARGET_REASON}
    for (model, fmt, level), reason in NOT_APPLICABLE.items():
        indexes.setdefault(level, {})[f"{model}.{fmt}.{level}"] = {"status": "not_applicable", "reason": reason}
    kinds = {"host": TARGET_KINDS["host"], "cortex-a53": TARGET_KINDS["qemu"], "cortex-a72": TARGET_KINDS["qemu"]}
    metrics = tables.build_metrics(indexes, bench, "host", {t: k.report.entry for t, k in kinds.items()})
    cores = {t: (qemu.Target(cpu=t, runs=5, agreement_clips=8, required=False),
                 qemu.Device(board=f"a board with a {t}", clock_mhz=1200, cpi=1.25)) for t in ("cortex-a53", "cortex-a72")}
    for t, (target, device) in cores.items():
        qemu_report.complete(metrics, t, target, device)
    host = tables.host_rows(metrics, "host")
    ctx = ReportContext(metrics, kinds, 1.0, 20.0)
    na = tables.not_applicable_rows(metrics)
    history = {"keras": [{"epoch": str(e), "accuracy": f"{0.5 + 0.08 * e:.3f}", "val_accuracy": f"{0.45 + 0.07 * e:.3f}"}
               for e in range(6)]}
    limits = {"max_latency_ms": 20.0, "max_size_kb": 100.0, "max_accuracy_loss": 0.05, "raw_audio": False,
              "reduction": {"min_size_reduction": 0.5, "min_cost_ratio": 1.5, "baseline": None}}
    ship = {"host": limits, "cortex-a53": {**limits, "raw_audio": True}, "cortex-a72": limits}
    ctx.decisions.update(decide_all(metrics, ship, {t: (k.report.COST_LABEL, lambda m, t=t: ctx.cost_us(m, t))
                                                    for t, k in kinds.items()}))
    page = tmp_path_factory.mktemp("report_browser") / "report.html"
    page.write_text(html.render(build_report(host, na, 1, history=history, lead=ship_section(ctx),
                                             targets=tuple(qemu_report.sections(ctx, cores)))), encoding="utf-8")
    return page, host, metrics


@pytest.fixture(scope="module")
def loaded(chromium, report_page, tmp_path_factory) -> dict:
    page, _, _ = report_page
    result = load(chromium, page, tmp_path_factory.mktemp("chromium"))
    (page.parent / "report.png").write_bytes(result["png"])  # kept for a look: pytest's tmp folder
    return result


def test_page_loads_offline_without_errors(loaded):
    assert loaded["loaded"], f"navigation failed: {loaded['nav']}"
    probe = loaded["probe"]
    assert probe["title"] == "Deployment report" and probe["h1"] == ["Deployment report"]
    assert loaded["problems"] == [], "\n".join(loaded["problems"])
    assert probe["external"] == [], f"the report references remote resources: {probe['external']}"
    assert all(u.startswith("file:") for u in loaded["requests"]), loaded["requests"]


def test_dom_has_the_tables_and_rows(loaded, report_page):
    _, host, metrics = report_page
    probe, dom = loaded["probe"], loaded["dom"]
    assert [h for h in probe["h2"] if not h.startswith("Training")] == [
        "What to ship", "Host", "cortex-a53 emulated", "cortex-a72 emulated", "Not applicable"], probe["h2"]

    ship_table, host_table, arm_table, na_table = probe["tables"]
    # the report leads with the answer: one row per target
    ship = {row[0]: row for row in ship_table[1:]}
    assert ship_table[0][:3] == ["Target", "Ship", "Accuracy"] and set(ship) == {"host", "cortex-a53", "cortex-a72"}
    # keras fp32 is over the 100 KB limit and the ONNX fp16 (91%) misses the reduction against its fp32 twin:
    # the reduction targets constrain the pick, so the int8 TFLite file (89.5%, 48.8 KB) ships
    assert ship_table[0][3] == "95% interval" and ship["host"][3] == "55.0–98.3%"  # 8 test clips resolve little
    assert ship["host"][1] == "keras.tflite.int8" and ship["host"][4] == "0.080 ms (measured)"
    assert "met by keras.tflite.int8" in ship["host"][7] and "the most accurate of 2 variant(s)" in ship["host"][8]
    assert ship["cortex-a53"][1] == "nothing fits" and "raw_audio (it takes MFCC features)" in ship["cortex-a53"][6]
    assert ship["cortex-a72"][1] == "nothing fits" and "no variant was measured on cortex-a72" in ship["cortex-a72"][8]
    assert host_table[0][:4] == ["Variant", "Size (KB)", "Size vs fp32", "Accuracy"]
    body = {row[0]: row for row in host_table[1:]}
    assert set(body) == {f"{m}.{f}.{q}" for m, f, q in BUILT} == {r["variant"] for r in host}
    assert body["keras.tflite.int8"][1:4] == ["48.8", "0.28×", "89.5%"]
    assert body["keras.onnx.int8"][-2] == "1.75×"  # speed-up vs the onnx fp32 of the same model
    assert body["keras.onnx.fp32"][2] == "1.00×"

    assert arm_table[0][0] == "Variant" and len(arm_table) == 1 + len(BUILT)
    arm = {row[0]: row for row in arm_table[1:]}
    assert arm["keras.onnx.fp32"][1] == "9,000,000" and arm["keras.onnx.int8"][2] == "0.46×"
    assert arm["keras.onnx.int8"][-1] == "25.0%"  # reversed predictions: 2 of 8 still agree

    assert {tuple(r) for r in na_table[1:]} == {(f"{m}.{f}.{q}", why) for (m, f, q), why in NOT_APPLICABLE.items()}
    assert na_table[0] == ["Variants", "Why they cannot be built"]
    assert f"Skipped: {SKIPPED_TARGET_REASON}" in dom
    # the int8 variants answer with reversed predictions on cortex-a53: 6 of 8 clips differ
    assert "Outputs differing from the host: keras.onnx.int8 (6 clips), keras.tflite.int8 (6 clips)" in dom
    assert sum(1 for m in metrics.values() if m["status"] == "ok") == len(BUILT)


def test_plots_are_inline_svg_with_a_size(loaded):
    probe, dom = loaded["probe"], loaded["dom"]
    # Pareto plots of host and cortex-a53 (a72 was skipped), size vs accuracy, host latency bars, cortex-a53
    # instruction bars, training history
    assert dom.count("<svg") == 6 and len(probe["svgs"]) == 6, probe["svgs"]
    for svg in probe["svgs"]:
        assert svg["w"] > 300 and svg["h"] > 100, f"a plot is not laid out with a real size: {svg}"
        assert svg["shapes"] > 5, f"an empty plot: {svg}"
    assert probe["scripts"] == 0
    assert probe["widestTable"] <= WIDTH, f"a table runs off a {WIDTH}px window: {probe['widestTable']}px"


def test_screenshot_is_not_blank(loaded):
    from PIL import Image

    img = Image.open(io.BytesIO(loaded["png"])).convert("RGB")
    assert img.size == (WIDTH, HEIGHT)
    px = np.asarray(img, dtype=np.int16).reshape(-1, 3)
    non_white = float(np.mean(px.min(axis=1) < 235))
    assert non_white > 0.03, f"only {non_white:.1%} of the screenshot is not white"
    colours = len(np.unique((px[:, 0].astype(np.int32) << 16) | (px[:, 1] << 8) | px[:, 2]))
    assert colours >= 50, f"{colours} distinct colours: a blank or unstyled page?"
    # matplotlib's first colour (#1f77b4): the bars and points of the plots are on screen
    blue = int(np.sum(np.all(np.abs(px - (0x1F, 0x77, 0xB4)) < 40, axis=1)))
    assert blue > 500, f"{blue} pixels of the plots' blue: are the SVG plots drawn?"


def test_the_harness_sees_console_errors_and_blocked_network(chromium, tmp_path):
    """The control: a page that logs an error and pulls a script from a CDN must not pass."""
    page = tmp_path / "bad.html"
    page.write_text("<!doctype html><title>bad</title>"
                    "<script src='https://cdn.jsdelivr.net/npm/plotly.js/dist/plotly.min.js'></script>"
                    "<script>console.error('boom from the page')</script><p>x</p>")
    result = load(chromium, page, tmp_path)
    assert result["loaded"]
    text = "\n".join(result["problems"])
    assert "boom from the page" in text, text
    assert "request leaving the page: https://cdn.jsdelivr.net/" in text, text
    assert "failed load" in text, text  # the dead proxy / resolver: nothing was fetched
