"""Which web framework should `vidstyle studio` use? Measured, not guessed.

For each candidate -- gradio, nicegui, fastapi (+ uvicorn), starlette
(+ uvicorn) and stdlib (http.server.ThreadingHTTPServer) -- this script:

1. makes a fresh virtual environment under the work folder and
   `pip install -q`s the candidate's packages (latest from the index), then
   records the install size (du of site-packages minus that of an empty
   venv's, in MB) and how many packages were added (`pip list` before/after);
2. writes a minimal app for the framework that serves
   (a) a page at `/`,
   (b) a 640x360 JPEG (prepared once here, the same bytes for everyone)
       through the framework's natural way of calling a Python function that
       returns an image:
         gradio    -- a `gr.Image` output of a slider's `change` event, called
                      via POST /gradio_api/call/frame, the SSE result read from
                      GET /gradio_api/call/frame/<event_id>, then the image
                      fetched from the file URL in the result;
         nicegui   -- a plain `@app.get('/frame')` route on nicegui's FastAPI
                      app (the pattern nicegui's own webcam example uses to
                      feed `ui.interactive_image`), the page being `@ui.page`;
         fastapi / starlette -- a sync GET route (run in the threadpool);
         stdlib    -- a GET handled in the request's thread;
   (c) a progress stream of 20 events 50 ms apart:
         gradio    -- a generator function behind the queue, read as SSE from
                      /gradio_api/call/progress/<event_id> (`generating`
                      events);
         nicegui   -- a Server-Sent-Events `StreamingResponse` on its FastAPI
                      app (nicegui's own push channel is socket.io, which a
                      plain HTTP client cannot time; a studio would use SSE or
                      ui.timer for render progress);
         fastapi / starlette -- SSE via `StreamingResponse` of an async
                      generator;
         stdlib    -- SSE written and flushed by the handler thread;
3. `--repeats` times (median reported), with only one server running at a
   time:
     start-up      wall time from launching the server process to the first
                   200 answer on `/`;
     idle RSS      VmHWM of the server process (from /proc) one second after
                   start-up, before any frame was asked for;
     frame latency median and p90 of 30 sequential requests for the JPEG
                   (after 3 untimed warm-up requests), over one keep-alive
                   connection, paced 37 ms apart (a slider's rate, and so
                   that they hit every phase of the busy cycle), while a thread in the *server* process burns
                   CPU in a pure-Python loop half of the time (50 ms on,
                   50 ms off: a stand-in for the stylizer holding a core and
                   the GIL);
     streaming     with the busy thread still on: time from sending the
                   request to the first event, and the spread between the
                   first and last event received.  The stream counts as
                   incremental when all 20 events arrive and the spread is at
                   least 75 % of the 950 ms (19 x 50 ms) they were sent over;
                   a buffered stream arrives all at once (spread ~0).
   The client sends `Accept-Encoding: gzip` like a browser, and decodes it.

Candidates that cannot be installed or started get a row saying why.
Nothing phones home: gradio analytics/share are off, HF hub offline, nicegui
does not open a browser or go on air.

Run it with the project's venv (it uses Pillow here to make the JPEG, or pass
--frame FILE):

    .venv/bin/python benchmarks/studio_frameworks.py
    .venv/bin/python benchmarks/studio_frameworks.py --only stdlib fastapi --repeats 5
    .venv/bin/python benchmarks/studio_frameworks.py --workdir /tmp/sfw --keep --json sfw.json

With --workdir DIR --keep, a later run on the same DIR reuses the venvs it
already installed (and the sizes recorded then).
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

EVENTS = 20
EVENT_GAP_S = 0.05
FRAME_REQUESTS = 30
FRAME_PACING_S = 0.037  # pause between frame requests (a slider at ~25 Hz), prime to the busy cycle
WARMUP_REQUESTS = 3
START_TIMEOUT_S = 180.0
INSTALL_TIMEOUT_S = 900.0
FRAME_SIZE = (640, 360)


@dataclass
class Candidate:
    name: str
    packages: list[str]  # what pip installs
    shown: list[str]  # whose versions go in the table
    app: str  # source of app.py
    api: str = "plain"  # "plain": GET /frame and GET /progress; "gradio": its call API


# --------------------------------------------------------------------------
# The apps.  Each is started as `python app.py PORT` in its own folder, next
# to bench_common.py, with BENCH_FRAME and BENCH_BUSY_FLAG in its environment.

COMMON_PY = '''
"""Shared by every benchmark app: the frame, the page, the busy thread."""
import asyncio
import os
import sys
import threading
import time

PORT = int(sys.argv[1])
FRAME_PATH = os.environ["BENCH_FRAME"]
BUSY_FLAG = os.environ["BENCH_BUSY_FLAG"]
EVENTS = %(events)d
EVENT_GAP_S = %(gap)r

with open(FRAME_PATH, "rb") as f:
    FRAME = f.read()

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>studio</title></head>
<body><img id="frame" src="/frame?strength=0.5" width="640" height="360">
<input id="strength" type="range" min="0" max="1" step="0.01" value="0.5">
<script>
document.getElementById("strength").oninput = e =>
  document.getElementById("frame").src = "/frame?strength=" + e.target.value;
</script></body></html>
"""


def render_frame(strength=0.5):
    """Stands in for the stylizer: returns the frame as JPEG bytes."""
    return FRAME


def event_text(i):
    return "step %%d/%%d" %% (i, EVENTS)


def sse_lines():
    """Blocking generator of SSE messages, EVENTS of them EVENT_GAP_S apart."""
    for i in range(1, EVENTS + 1):
        if i > 1:
            time.sleep(EVENT_GAP_S)
        yield "data: %%s\\n\\n" %% event_text(i)


async def sse_lines_async():
    for i in range(1, EVENTS + 1):
        if i > 1:
            await asyncio.sleep(EVENT_GAP_S)
        yield "data: %%s\\n\\n" %% event_text(i)


def _burn():
    """While BUSY_FLAG exists: 50 ms of pure-Python spinning, 50 ms asleep."""
    while True:
        if not os.path.exists(BUSY_FLAG):
            time.sleep(0.05)
            continue
        end = time.perf_counter() + 0.05
        n = 0
        while time.perf_counter() < end:
            n += 1
        time.sleep(0.05)


def start_busy_thread():
    threading.Thread(target=_burn, name="busy", daemon=True).start()
''' % {"events": EVENTS, "gap": EVENT_GAP_S}

GRADIO_APP = '''
import os
import time

import bench_common as c
import gradio as gr

c.start_busy_thread()


def frame(strength):
    # A filepath is what a stylizer that writes JPEGs would hand back.
    return c.FRAME_PATH


def progress():
    for i in range(1, c.EVENTS + 1):
        if i > 1:
            time.sleep(c.EVENT_GAP_S)
        yield c.event_text(i)


with gr.Blocks(analytics_enabled=False, title="studio") as demo:
    strength = gr.Slider(0, 1, value=0.5, label="strength")
    image = gr.Image(type="filepath", label="frame")
    status = gr.Textbox(label="progress")
    render = gr.Button("render")
    strength.change(frame, strength, image, api_name="frame")
    render.click(progress, None, status, api_name="progress")

demo.queue().launch(
    server_name="127.0.0.1",
    server_port=c.PORT,
    share=False,
    ssr_mode=False,
    quiet=True,
    show_error=True,
    allowed_paths=[os.path.dirname(c.FRAME_PATH)],
)
'''

NICEGUI_APP = '''
import bench_common as c
from fastapi.responses import Response, StreamingResponse
from nicegui import app, ui

c.start_busy_thread()


@app.get("/frame")
def frame(strength: float = 0.5):
    return Response(c.render_frame(strength), media_type="image/jpeg")


@app.get("/progress")
async def progress():
    return StreamingResponse(c.sse_lines_async(), media_type="text/event-stream")


@ui.page("/")
def index():
    ui.slider(min=0, max=1, step=0.01, value=0.5)
    ui.interactive_image("/frame?strength=0.5")


if __name__ in {"__main__", "__mp_main__"}:
    ui.run(host="127.0.0.1", port=c.PORT, reload=False, show=False,
           show_welcome_message=False, title="studio")
'''

FASTAPI_APP = '''
import bench_common as c
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response, StreamingResponse

c.start_busy_thread()
app = FastAPI()


@app.get("/", response_class=HTMLResponse)
def index():
    return c.PAGE


@app.get("/frame")
def frame(strength: float = 0.5):
    return Response(c.render_frame(strength), media_type="image/jpeg")


@app.get("/progress")
async def progress():
    return StreamingResponse(c.sse_lines_async(), media_type="text/event-stream")


uvicorn.run(app, host="127.0.0.1", port=c.PORT, log_level="warning")
'''

STARLETTE_APP = '''
import bench_common as c
import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

c.start_busy_thread()


def index(request):
    return HTMLResponse(c.PAGE)


def frame(request):  # sync: starlette runs it in its threadpool
    strength = float(request.query_params.get("strength", 0.5))
    return Response(c.render_frame(strength), media_type="image/jpeg")


async def progress(request):
    return StreamingResponse(c.sse_lines_async(), media_type="text/event-stream")


app = Starlette(routes=[Route("/", index), Route("/frame", frame), Route("/progress", progress)])
uvicorn.run(app, host="127.0.0.1", port=c.PORT, log_level="warning")
'''

STDLIB_APP = '''
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import bench_common as c

c.start_busy_thread()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a browser expects
    # Headers and body go out in two writes; with Nagle on, a keep-alive
    # client then waits ~40 ms for the delayed ACK on every response.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def send_body(self, content_type, body):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/":
            self.send_body("text/html; charset=utf-8", c.PAGE.encode())
        elif url.path == "/frame":
            strength = float(parse_qs(url.query).get("strength", ["0.5"])[0])
            self.send_body("image/jpeg", c.render_frame(strength))
        elif url.path == "/progress":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for message in c.sse_lines():
                self.wfile.write(message.encode())
                self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)


ThreadingHTTPServer(("127.0.0.1", c.PORT), Handler).serve_forever()
'''

CANDIDATES = {
    c.name: c
    for c in [
        Candidate("gradio", ["gradio"], ["gradio"], GRADIO_APP, api="gradio"),
        Candidate("nicegui", ["nicegui"], ["nicegui", "fastapi", "uvicorn"], NICEGUI_APP),
        Candidate("fastapi", ["fastapi", "uvicorn"], ["fastapi", "starlette", "uvicorn"], FASTAPI_APP),
        Candidate("starlette", ["starlette", "uvicorn"], ["starlette", "uvicorn"], STARLETTE_APP),
        Candidate("stdlib", [], [], STDLIB_APP),
    ]
}

# Nothing may phone home; the machine may have no internet at all.
QUIET_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_SHARE": "False",
    "GRADIO_SSR_MODE": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "PYTHONUNBUFFERED": "1",
}


# --------------------------------------------------------------------------
# Server processes: started in their own process group, always cleaned up.

RUNNING: list[subprocess.Popen] = []


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
    else:  # the leader is gone; its group may not be
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if proc in RUNNING:
        RUNNING.remove(proc)


def stop_all() -> None:
    for proc in list(RUNNING):
        stop(proc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# Installing.


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def disk_usage(folder: Path) -> int:
    """Bytes allocated on disk, like `du`: st_blocks, each inode counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def make_venv(python: str, venv: Path) -> None:
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)


def pip_list(venv: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(venv_python(venv)), "-m", "pip", "list", "--format=json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}


def install(cand: Candidate, venv: Path, python: str, empty_bytes: int) -> dict:
    """Fresh venv + pip install; returns size, package count and versions."""
    marker = venv / "bench-install.json"
    if marker.exists():
        print(f"  reusing {venv}", flush=True)
        return json.loads(marker.read_text())
    if venv.exists():
        shutil.rmtree(venv)
    make_venv(python, venv)
    before = pip_list(venv)
    started = time.perf_counter()
    if cand.packages:
        proc = subprocess.run(
            [str(venv_python(venv)), "-m", "pip", "install", "-q", *cand.packages],
            capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
        )
        if proc.returncode != 0:
            errors = [l for l in proc.stderr.splitlines() if l.strip() and not l.startswith("WARNING: Location")]
            raise RuntimeError("pip install failed: " + (errors[-1] if errors else f"exit {proc.returncode}"))
    seconds = time.perf_counter() - started
    after = pip_list(venv)
    added = sorted(set(after) - set(before))
    info = {
        "install_mb": (disk_usage(site_packages(venv)) - empty_bytes) / 1e6,
        "packages": len(added),
        "added": {name: after[name] for name in added},
        "install_s": seconds,
        "versions": {name: after.get(name, "?") for name in cand.shown},
    }
    if not cand.shown:
        info["versions"] = {"python": subprocess.run(
            [str(venv_python(venv)), "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, check=True).stdout.strip()}
    marker.write_text(json.dumps(info, indent=1))
    return info


# --------------------------------------------------------------------------
# The client side: stdlib http.client, browser-like gzip acceptance.

BROWSER_HEADERS = {"Accept-Encoding": "gzip, deflate", "User-Agent": "studio-bench"}


def connect(port: int, timeout: float = 30.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def request(conn, method: str, path: str, body: bytes | None = None, headers=None) -> tuple[int, bytes]:
    hdrs = dict(BROWSER_HEADERS, **(headers or {}))
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    encoding = (resp.getheader("Content-Encoding") or "").lower()
    if encoding == "gzip":
        data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        data = zlib.decompress(data)
    return resp.status, data


def sse(conn, method: str, path: str, body: bytes | None = None, headers=None):
    """Yield (event, data, time received) for each SSE message, as it arrives."""
    hdrs = dict(BROWSER_HEADERS, Accept="text/event-stream", **(headers or {}))
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"{path}: HTTP {resp.status} {resp.read()[:200]!r}")
    encoding = (resp.getheader("Content-Encoding") or "").lower()
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    pending = b""
    event, data = "message", []
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            return
        now = time.perf_counter()
        pending += decoder.decompress(chunk) if decoder else chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode().rstrip("\r")
            if not line:
                if data:
                    yield event, "\n".join(data), now
                event, data = "message", []
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())


def wait_until_up(proc: subprocess.Popen, port: int, started: float) -> float:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        if time.perf_counter() - started > START_TIMEOUT_S:
            raise RuntimeError(f"no 200 on / within {START_TIMEOUT_S:.0f} s")
        conn = connect(port, timeout=5)
        try:
            status, _ = request(conn, "GET", "/")
            if status == 200:
                return time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.05)


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def gradio_call(port: int, conn, api_name: str, data: list):
    """POST /gradio_api/call/<api_name>, then yield its SSE messages."""
    status, body = request(conn, "POST", f"/gradio_api/call/{api_name}",
                           json.dumps({"data": data}).encode(), {"Content-Type": "application/json"})
    if status != 200:
        raise RuntimeError(f"gradio call {api_name}: HTTP {status} {body[:200]!r}")
    event_id = json.loads(body)["event_id"]
    stream = connect(port)
    try:
        yield from sse(stream, "GET", f"/gradio_api/call/{api_name}/{event_id}")
    finally:
        stream.close()


def fetch_frame(cand: Candidate, port: int, conn) -> bytes:
    if cand.api == "gradio":
        url = None
        for event, data, _ in gradio_call(port, conn, "frame", [0.5]):
            if event == "error":
                raise RuntimeError(f"gradio frame call failed: {data[:200]}")
            if event == "complete":
                url = json.loads(data)[0]["url"]
                break
        if not url:
            raise RuntimeError("gradio frame call ended without a result")
        parts = urlsplit(url)
        status, image = request(conn, "GET", parts.path + (f"?{parts.query}" if parts.query else ""))
    else:
        status, image = request(conn, "GET", "/frame?strength=0.5")
    if status != 200 or not image.startswith(b"\xff\xd8"):
        raise RuntimeError(f"frame: HTTP {status}, {len(image)} bytes, not a JPEG")
    return image


def timed_frames(cand: Candidate, port: int, count: int) -> list[float]:
    """`count` sequential frame fetches over a keep-alive connection, in ms.

    Requests are paced FRAME_PACING_S apart, so that they fall at every phase
    of the busy thread's 100 ms on/off cycle instead of all in one idle gap.
    """
    times = []
    conn = connect(port)
    try:
        for i in range(count):
            if i:
                time.sleep(FRAME_PACING_S)
            t0 = time.perf_counter()
            try:
                fetch_frame(cand, port, conn)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()  # the server closed the keep-alive connection: reconnect, as a browser would
                conn = connect(port)
                fetch_frame(cand, port, conn)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        conn.close()
    return times


def measure_stream(cand: Candidate, port: int) -> dict:
    step = re.compile(r"step (\d+)/")
    arrived: dict[int, float] = {}
    conn = connect(port)
    try:
        t0 = time.perf_counter()
        if cand.api == "gradio":
            messages = gradio_call(port, conn, "progress", [])
        else:
            messages = sse(conn, "GET", "/progress")
        for event, data, when in messages:
            if event == "error":
                raise RuntimeError(f"stream error event: {data[:200]}")
            match = step.search(data)
            if match:
                arrived.setdefault(int(match.group(1)), when)
            if event == "complete" or (len(arrived) == EVENTS and cand.api != "gradio"):
                break
    finally:
        conn.close()
    if not arrived:
        raise RuntimeError("stream delivered no events")
    first, last = min(arrived.values()), max(arrived.values())
    spread = (last - first) * 1000
    expected = (EVENTS - 1) * EVENT_GAP_S * 1000
    return {
        "first_event_ms": (first - t0) * 1000,
        "spread_ms": spread,
        "events": len(arrived),
        "incremental": len(arrived) == EVENTS and spread >= 0.75 * expected,
    }


def one_run(cand: Candidate, python: Path, appdir: Path, frame: Path, busy_flag: Path, log: Path) -> dict:
    """Start the server once, measure everything, stop it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(QUIET_ENV, BENCH_FRAME=str(frame), BENCH_BUSY_FLAG=str(busy_flag),
               GRADIO_TEMP_DIR=str(appdir / "gradio-tmp"))
    busy_flag.unlink(missing_ok=True)
    with open(log, "ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen([str(python), "app.py", str(port)], cwd=appdir, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    RUNNING.append(proc)
    try:
        startup = wait_until_up(proc, port, started)
        time.sleep(1.0)
        rss_mb = proc_status_kb(proc.pid, "VmHWM") / 1024
        timed_frames(cand, port, WARMUP_REQUESTS)
        busy_flag.touch()
        try:
            frames = sorted(timed_frames(cand, port, FRAME_REQUESTS))
            stream = measure_stream(cand, port)
        finally:
            busy_flag.unlink(missing_ok=True)
    finally:
        stop(proc)
    return {
        "startup_s": startup,
        "idle_rss_mb": rss_mb,
        "frame_median_ms": statistics.median(frames),
        "frame_p90_ms": frames[math.ceil(0.9 * len(frames)) - 1],
        "frames_ms": frames,
        **stream,
    }


# --------------------------------------------------------------------------


def make_frame(path: Path, given: str | None) -> None:
    if given:
        shutil.copyfile(given, path)
        return
    try:
        from PIL import Image
    except ImportError:
        sys.exit("Pillow is not importable here: run with the project's venv, or pass --frame FILE.jpg")
    width, height = FRAME_SIZE
    horizontal = Image.linear_gradient("L").rotate(90).resize(FRAME_SIZE)
    vertical = Image.linear_gradient("L").resize(FRAME_SIZE)
    noise = Image.effect_noise(FRAME_SIZE, 48)  # texture, so the JPEG is frame-sized, not tiny
    buf = io.BytesIO()
    Image.merge("RGB", (horizontal, vertical, noise)).save(buf, "JPEG", quality=85)
    path.write_bytes(buf.getvalue())


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def bench(cand: Candidate, work: Path, args, empty_bytes: int, frame: Path) -> dict:
    print(f"== {cand.name}", flush=True)
    venv = work / "venvs" / cand.name
    result: dict = {"name": cand.name}
    try:
        if cand.packages:
            result.update(install(cand, venv, args.python, empty_bytes))
        else:
            venv = work / "venvs" / "_empty"
            result.update(install_mb=0.0, packages=0, added={}, install_s=0.0,
                          versions={"python": ".".join(map(str, sys.version_info[:3]))})
        print(f"  installed: {result['install_mb']:.1f} MB, {result['packages']} packages", flush=True)
    except Exception as exc:  # noqa: BLE001 -- the row says why
        result["error"] = f"install: {exc}"
        print(f"  {result['error']}", flush=True)
        return result
    appdir = work / "apps" / cand.name
    appdir.mkdir(parents=True, exist_ok=True)
    (appdir / "bench_common.py").write_text(COMMON_PY)
    (appdir / "app.py").write_text(textwrap.dedent(cand.app))
    log = work / "logs" / f"{cand.name}.log"
    log.parent.mkdir(exist_ok=True)
    runs = []
    for i in range(args.repeats):
        try:
            run = one_run(cand, venv_python(venv), appdir, frame, work / "busy.flag", log)
        except Exception as exc:  # noqa: BLE001 -- the row says why
            tail = [l for l in log.read_text(errors="replace").splitlines() if l.strip()][-3:] if log.exists() else []
            result["error"] = f"run {i + 1}: {exc}" + (f" | log: {' / '.join(tail)}"[:400] if tail else "")
            print(f"  {result['error']}", flush=True)
            break
        print(f"  run {i + 1}: start {run['startup_s']:.2f} s, frame {run['frame_median_ms']:.1f}/"
              f"{run['frame_p90_ms']:.1f} ms, first event {run['first_event_ms']:.0f} ms, "
              f"spread {run['spread_ms']:.0f} ms ({run['events']} events), RSS {run['idle_rss_mb']:.0f} MB",
              flush=True)
        runs.append(run)
    result["runs"] = runs
    if runs and "error" not in result:
        for key in ("startup_s", "idle_rss_mb", "frame_median_ms", "frame_p90_ms", "first_event_ms", "spread_ms"):
            result[key] = median_of(runs, key)
        result["incremental_runs"] = sum(r["incremental"] for r in runs)
    return result


def table(results: list[dict]) -> str:
    head = ["candidate", "install MB", "packages", "start-up s", "frame median ms", "frame p90 ms",
            "first event ms", "streams incrementally (spread)", "idle RSS MB", "versions"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in results:
        versions = ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items())
        if "error" in r:
            size = f"{r['install_mb']:.0f}" if "install_mb" in r else "-"
            pkgs = str(r.get("packages", "-"))
            cells = [r["name"], size, pkgs, f"failed: {r['error']}".replace("|", "/"), "", "", "", "", "", versions]
        else:
            ok = r["incremental_runs"]
            streams = "yes" if ok == len(r["runs"]) else ("no" if ok == 0 else f"{ok}/{len(r['runs'])} runs")
            cells = [
                r["name"], f"{r['install_mb']:.0f}", str(r["packages"]), f"{r['startup_s']:.2f}",
                f"{r['frame_median_ms']:.1f}", f"{r['frame_p90_ms']:.1f}", f"{r['first_event_ms']:.0f}",
                f"{streams} ({r['spread_ms']:.0f} ms)", f"{r['idle_rss_mb']:.0f}", versions,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="where venvs, apps and logs go (default: a temp dir); "
                        "removed at the end unless --keep or it existed before")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (and reuse its venvs next time)")
    parser.add_argument("--only", nargs="+", choices=list(CANDIDATES), metavar="NAME",
                        help=f"candidates to run, of: {' '.join(CANDIDATES)}")
    parser.add_argument("--repeats", type=int, default=3, help="server launches per candidate (default 3)")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers here")
    parser.add_argument("--frame", metavar="FILE.jpg", help="serve this JPEG instead of a synthetic 640x360 one")
    parser.add_argument("--python", default=sys.executable, help="interpreter that makes the venvs (default: this one)")
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="studio-frameworks-")).resolve()
    ours = not args.workdir or not work.exists()  # never delete a folder the user already had
    work.mkdir(parents=True, exist_ok=True)
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that finally/atexit run
    try:
        frame = work / "frame.jpg"
        make_frame(frame, args.frame)
        print(f"work folder {work}; frame {frame.stat().st_size / 1000:.1f} kB; "
              f"{os.cpu_count()} CPUs; {args.repeats} repeats", flush=True)
        empty = work / "venvs" / "_empty"
        if not venv_python(empty).exists():
            make_venv(args.python, empty)
        empty_bytes = disk_usage(site_packages(empty))
        names = args.only or list(CANDIDATES)
        results = [bench(CANDIDATES[n], work, args, empty_bytes, frame) for n in names]
        print()
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.repeats} repeats (medians); "
              f"frame {frame.stat().st_size / 1000:.1f} kB JPEG {FRAME_SIZE[0]}x{FRAME_SIZE[1]}, "
              f"{FRAME_REQUESTS} requests with a 50 %-busy thread in the server; "
              f"stream {EVENTS} events {EVENT_GAP_S * 1000:.0f} ms apart (ideal spread "
              f"{(EVENTS - 1) * EVENT_GAP_S * 1000:.0f} ms).")
        print()
        print(table(results))
        if args.json:
            Path(args.json).write_text(json.dumps({"results": results, "repeats": args.repeats,
                                                   "cpus": os.cpu_count()}, indent=1))
    finally:
        stop_all()
        if ours and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\nkept {work}")


if __name__ == "__main__":
    main()
