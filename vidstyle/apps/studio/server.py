"""The studio's HTTP layer: the page, a JSON API and a stream of render
progress (Server-Sent Events), on Starlette and uvicorn.

Every route reaches files through :class:`~.workspace.Workspace` by id,
never by a path from the request. Requests that change something must
carry the ``X-Studio`` header, which a page on another site cannot add
without this server's consent (which it never gives), and, while the
studio listens on the loopback address only, the ``Host`` header must name
this machine, so that a web page elsewhere cannot reach the studio through
its own domain name either."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import webbrowser
from pathlib import Path
from typing import Any, Awaitable, Callable

import cv2
import numpy as np

from ...errors import OptionError, VidstyleError
from ...media.images import resize_long_side
from ...stylize.styles import DEFAULT_MODEL, styles_for
from ...version import __version__
from ..run_options import RunOptions
from .options import LOOPBACK_NAMES, StudioOptions
from .painter import FramePainter, Kept, Look
from .renders import DONE, RenderQueue
from .workspace import NotFound, UploadRefused, UploadTooLarge, Workspace

try:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
except ImportError as exc:  # the studio extra is not installed
    raise OptionError("vidstyle studio needs its extra: pip install 'vidstyle[studio]'") from exc

log = logging.getLogger(__name__)

PAGE = Path(__file__).resolve().parent / "page"
JPEG_QUALITY = 88
EVENT_SECONDS = 0.5  # how often the render stream checks for news
PAINTING_VIEW_SIDE = 640
KEPT_FRAMES = 48  # decoded frames at the view's size (640x360: 33 MB)


class Studio:
    """The state behind the page: workspace, painter and render queue."""

    def __init__(self, options: StudioOptions):
        self.options = options
        self.workspace = Workspace(options.workdir, options.max_upload_bytes)
        try:
            for path in options.clips:
                self.workspace.add_local(path)
        except VidstyleError:
            self.workspace.close()
            raise
        self.painter = FramePainter(options.threads)
        self.renders = RenderQueue(self.workspace.renders_folder)
        self._frames = Kept(KEPT_FRAMES)
        self._frames_lock = threading.Lock()
        self._closing = threading.Event()
        # not a daemon: a thread inside an engine's compiler when the interpreter ends aborts it
        self._warming = threading.Thread(target=self._warm_up, name="studio-warm-up")
        self._warming.start()

    def _warm_up(self) -> None:
        clips = list(self.workspace.clips.values())
        frame = self.frame(clips[0].id, 0, self.options.view_size)[0] if clips else np.full((360, 640, 3), 128, np.uint8)
        try:
            self.painter.warm_up(self.styles(), frame, until=self._closing)
        except VidstyleError as exc:  # the page reports it when the style is asked for
            log.warning("could not load a style: %s", exc)

    def styles(self) -> list[str]:
        return [entry.name for entry in styles_for(DEFAULT_MODEL)]

    def state(self) -> dict:
        return {
            "version": __version__,
            "styles": self.styles(),
            "clips": [clip.to_dict() for clip in self.workspace.clips.values()],
            "paintings": [p.to_dict() for p in self.workspace.paintings.values()],
            "renders": self.renders.snapshot()[1],
            "max_upload_mb": self.options.max_upload_mb,
            "view_size": self.options.view_size,
            "card_size": self.options.card_size,
        }

    def network_style(self, style: str) -> str:
        """A style from the page as the network takes it: a style's name, or
        ``painting:ID`` for a picture sent to the studio (never a path)."""
        if style.startswith("painting:"):
            return str(self.workspace.painting(style.removeprefix("painting:")).path)
        if style not in self.styles():
            raise NotFound(f"unknown style {style!r}")
        return style

    def shown_style(self, style: str) -> str:
        """The style as the command a user types names it."""
        if style.startswith("painting:"):
            return self.workspace.painting(style.removeprefix("painting:")).name
        return style

    def look(self, query: dict[str, str]) -> Look:
        return Look(
            style=self.network_style(query.get("style", "mosaic")),
            strength=_number(query, "strength", 1.0),
            preserve_color=query.get("preserve_color", "0") in ("1", "true"),
            stroke_scale=_number(query, "stroke_scale", 1.0),
        )

    def frame(self, clip_id: str, index: int, side: int) -> tuple[np.ndarray, tuple]:
        """Frame ``index`` of a clip at ``side`` (0: its own size), and the key
        that names it; recent frames at the view's size are kept."""
        clip = self.workspace.clip(clip_id)
        index = min(max(index, 0), clip.frames - 1)
        key = (clip_id, index, side)
        if side != self.options.view_size:
            return resize_long_side(clip.frame(index), side), key
        with self._frames_lock:
            return self._frames.get_or_make(key, lambda: resize_long_side(clip.frame(index), side)), key

    def paint(self, clip_id: str, index: int, look: Look) -> np.ndarray:
        """A frame painted at the view's size; the cards are this, made smaller,
        so that choosing a card shows its picture at once."""
        frame, key = self.frame(clip_id, index, self.options.view_size)
        return self.painter.paint(frame, key, look)

    def submit(self, body: dict) -> dict:
        clip = self.workspace.clip(str(body.get("clip", "")))
        options = RunOptions(
            strength=_value(body, "strength", float, 1.0),
            preserve_color=_value(body, "preserve_color", bool, False),
            stroke_scale=_value(body, "stroke_scale", float, 1.0),
        )
        keyframe = body.get("keyframe")
        if keyframe:
            painting = self.workspace.painting(str(keyframe))
            if painting.clip != clip.id:
                raise OptionError(f"{painting.name} paints a frame of another clip")
            run = options.replace(keyframe=(f"{painting.frame}={painting.path}",))
            shown = options.replace(keyframe=(f"{painting.frame}={painting.name}",))
        else:
            style = str(body.get("style", "mosaic"))
            run = options.replace(style=self.network_style(style))
            shown = options.replace(style=self.shown_style(style))
        run.validate()
        return self.renders.submit(clip.id, clip.name, clip.path, run, shown).to_dict()

    def close(self) -> None:
        self._closing.set()
        self._warming.join()
        self.renders.close()
        self.workspace.close()


def _number(query: dict[str, str], key: str, default: float) -> float:
    try:
        return float(query.get(key, default))
    except ValueError:
        raise OptionError(f"{key} must be a number, got {query[key]!r}") from None


def _value(body: dict, key: str, kind: type, default: Any) -> Any:
    value = body.get(key, default)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind):
        return value
    raise OptionError(f"{key} must be {'a number' if kind is float else 'true or false'}")


def _picture(rgb: np.ndarray, lossless: bool = False) -> Response:
    """A frame for the page: JPEG, or PNG where it is to be painted on."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if lossless:
        _, data = cv2.imencode(".png", bgr)
        return Response(data.tobytes(), media_type="image/png", headers={"Cache-Control": "no-store"})
    _, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return Response(data.tobytes(), media_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _declared_size(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value and value.isdigit() else None


def build_app(studio: Studio) -> Starlette:
    """The routes, each a thin call into :class:`Studio`."""

    def api(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Errors a user can cause as JSON with one line, never a traceback."""

        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except NotFound as exc:
                return JSONResponse({"error": str(exc)}, status_code=404)
            except UploadTooLarge as exc:
                return JSONResponse({"error": str(exc)}, status_code=413)
            except UploadRefused as exc:
                return JSONResponse({"error": str(exc)}, status_code=415)
            except VidstyleError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)

        return wrapped

    async def page(request: Request) -> Response:
        return FileResponse(PAGE / "index.html", headers={"Cache-Control": "no-store"})

    async def state(request: Request) -> Response:
        return JSONResponse(studio.state())

    async def upload_clip(request: Request) -> Response:
        upload, name = studio.workspace.start_clip_upload(request.query_params.get("name", ""), _declared_size(request))
        await _receive(request, upload)
        clip = await asyncio.to_thread(studio.workspace.finish_clip_upload, upload, name)
        return JSONResponse(clip.to_dict())

    async def upload_painting(request: Request) -> Response:
        query = request.query_params
        clip = studio.workspace.clip(query["clip"]) if query.get("clip") else None
        frame = int(query.get("frame", "0")) if query.get("frame", "0").isdigit() else 0
        upload, name = studio.workspace.start_painting_upload(query.get("name", ""), _declared_size(request))
        await _receive(request, upload)
        painting = await asyncio.to_thread(studio.workspace.finish_painting_upload, upload, name, clip, frame)
        return JSONResponse(painting.to_dict())

    async def painting_image(request: Request) -> Response:
        pixels = await asyncio.to_thread(studio.workspace.painting_pixels, request.path_params["painting"], PAINTING_VIEW_SIDE)
        return _picture(pixels)

    async def input_frame(request: Request) -> Response:
        side = _side(request, studio.options.view_size)
        frame, _ = await asyncio.to_thread(studio.frame, request.path_params["clip"], request.path_params["index"], side)
        return _picture(frame, lossless=side == 0)

    async def painted_frame(request: Request) -> Response:
        side = _side(request, studio.options.view_size)
        look = studio.look(dict(request.query_params))
        painted = await asyncio.to_thread(studio.paint, request.path_params["clip"], request.path_params["index"], look)
        return _picture(resize_long_side(painted, side))

    async def submit(request: Request) -> Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            raise OptionError("the render request is not JSON") from None
        if not isinstance(body, dict):
            raise OptionError("the render request must be a JSON object")
        return JSONResponse(await asyncio.to_thread(studio.submit, body))

    async def cancel(request: Request) -> Response:
        render = studio.renders.cancel(request.path_params["render"])
        if render is None:
            raise NotFound("no such render")
        return JSONResponse(render.to_dict())

    async def download(request: Request) -> Response:
        render = studio.renders.renders.get(request.path_params["render"])
        if render is None or render.status != DONE or not render.output.is_file():
            raise NotFound("no such finished render")
        return FileResponse(render.output, filename=render.output.name, media_type="video/mp4")

    async def events(request: Request) -> Response:
        async def stream():
            seen = -1
            while not await request.is_disconnected():
                version, renders = studio.renders.snapshot()
                running = any(r["status"] == "running" for r in renders)
                if version != seen or running:  # a running render's estimate moves with the clock
                    seen = version
                    yield f"data: {json.dumps(renders)}\n\n"
                await asyncio.sleep(EVENT_SECONDS)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    routes = [
        Route("/", page),
        Route("/api/state", api(state)),
        Route("/api/clips", api(upload_clip), methods=["POST"]),
        Route("/api/clips/{clip}/frames/{index:int}", api(input_frame)),
        Route("/api/clips/{clip}/frames/{index:int}/painted", api(painted_frame)),
        Route("/api/paintings", api(upload_painting), methods=["POST"]),
        Route("/api/paintings/{painting}", api(painting_image)),
        Route("/api/renders", api(submit), methods=["POST"]),
        Route("/api/renders/{render}/cancel", api(cancel), methods=["POST"]),
        Route("/api/renders/{render}/file", api(download)),
        Route("/api/events", events),
        Mount("/static", StaticFiles(directory=PAGE), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(_Guard, loopback_only=studio.options.loopback_only)
    return app


def _side(request: Request, default: int) -> int:
    """The long side asked for: ``size=N`` (32-1920), ``size=full`` (0: the
    clip's own), else ``default``."""
    value = request.query_params.get("size", "")
    if value == "full":
        return 0
    return min(max(int(value), 32), 1920) if value.isdigit() else default


async def _receive(request: Request, upload) -> None:
    try:
        async for chunk in request.stream():
            upload.write(chunk)
    except BaseException:
        upload.abort()
        raise


class _Guard:
    """Refuses cross-site writes and, on loopback, requests for other host
    names (DNS rebinding); adds headers that keep the page to itself."""

    def __init__(self, app, loopback_only: bool):
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").rsplit(":", 1)[0].strip("[]")
        refusal = None
        if self.loopback_only and host not in LOOPBACK_NAMES:
            refusal = f"this studio answers only to 127.0.0.1 and localhost, not {host!r}"
        elif scope["method"] not in ("GET", "HEAD") and headers.get("x-studio") != "1":
            refusal = "a change must come from the studio's own page"
        if refusal:
            return await JSONResponse({"error": refusal}, status_code=403)(scope, receive, send)

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def serve(options: StudioOptions, ready: Callable[[str], None] | None = None) -> None:
    """Run the studio until interrupted. ``ready`` gets the URL once the
    port is bound (before that, nothing is printed or opened)."""
    options.validate()
    listener = _bind(options.host, options.port)
    studio = Studio(options)
    try:
        url = options.url(listener.getsockname()[1])
        if ready:
            ready(url)
        if options.open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        config = uvicorn.Config(build_app(studio), log_level="warning", timeout_graceful_shutdown=1, lifespan="off")
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        studio.close()
        listener.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise OptionError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    listener.listen(64)
    listener.set_inheritable(True)
    return listener
