"""``vidstyle studio`` over HTTP, as the page uses it: frames painted with
the page's controls, renders that are exactly the command they show,
cancelling, the render queue, and what the studio refuses (oversized or
wrong uploads, cross-site writes, other host names, paths from the page).
The page itself, in a real browser, is tested in test_studio_browser.py."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import FLOWER, RunningStudio
from vidstyle.apps.studio.workspace import UploadRefused, Workspace
from vidstyle.media.reader import VideoReader, probe
from vidstyle.media.synthetic import ClipSpec, write_clip

CHANGE = {"X-Studio": "1"}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("studio-clips")
    return {
        "short": write_clip(folder / "flower.mp4", ClipSpec(width=640, height=360, frames=24, photo=str(FLOWER), audio=True)),
        "long": write_clip(folder / "long.mp4", ClipSpec(width=640, height=360, frames=240)),
    }


@pytest.fixture(scope="module")
def studio(tmp_path_factory, clips):
    running = RunningStudio(tmp_path_factory.mktemp("studio-work"), clips["short"], clips["long"], "--max-upload", "1")
    yield running
    assert running.stop() == 0


def clip_id(studio: RunningStudio, name: str) -> str:
    _, state = studio.json("/api/state")
    return next(clip["id"] for clip in state["clips"] if clip["name"] == name)


def picture(studio: RunningStudio, path: str) -> np.ndarray:
    status, headers, data = studio.request(path)
    assert status == 200, data
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32)


def wait_for(studio: RunningStudio, render_id: str, statuses: set[str], seconds: float = 120) -> dict:
    deadline = time.time() + seconds
    while time.time() < deadline:
        _, state = studio.json("/api/state")
        render = next(r for r in state["renders"] if r["id"] == render_id)
        if render["status"] in statuses:
            return render
        time.sleep(0.2)
    raise AssertionError(f"render {render_id} still {render['status']} after {seconds} s")


def submit(studio: RunningStudio, **body) -> dict:
    status, render = studio.json("/api/renders", json.dumps(body).encode(), headers=CHANGE)
    assert status == 200, render
    return render


def test_frames_follow_the_controls(studio):
    clip = clip_id(studio, "flower.mp4")
    _, state = studio.json("/api/state")
    assert state["styles"] == ["candy", "mosaic", "scream", "starry-night", "udnie", "wave"]
    base = f"/api/clips/{clip}/frames/5"
    before = picture(studio, base)
    assert before.shape == (360, 640, 3)
    painted = picture(studio, f"{base}/painted?style=mosaic")
    assert np.abs(painted - before).mean() > 20
    # strength 0 is the frame itself; strength 0.5 lies between
    assert np.abs(picture(studio, f"{base}/painted?style=mosaic&strength=0") - before).mean() < 2
    half = picture(studio, f"{base}/painted?style=mosaic&strength=0.5")
    assert np.abs(half - before).mean() < np.abs(painted - before).mean() - 5
    # colour preservation keeps the frame's chroma
    kept = picture(studio, f"{base}/painted?style=mosaic&preserve_color=1")
    chroma = lambda rgb: cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2YCrCb)[..., 1:].astype(np.float32)  # noqa: E731
    assert np.abs(chroma(kept) - chroma(before)).mean() < 0.5 * np.abs(chroma(painted) - chroma(before)).mean()
    # larger strokes, other styles and other frames are other pictures
    assert np.abs(picture(studio, f"{base}/painted?style=mosaic&stroke_scale=2") - painted).mean() > 10
    assert np.abs(picture(studio, f"{base}/painted?style=candy") - painted).mean() > 10
    assert picture(studio, f"/api/clips/{clip}/frames/0?size=320").shape == (180, 320, 3)
    # the frame to paint on comes whole and lossless, as the clip has it
    status, headers, data = studio.request(f"{base}?size=full")
    assert headers["content-type"] == "image/png"
    with VideoReader(studio_clip_path(studio, "flower.mp4")) as reader:
        sixth = [f.rgb for _, f in zip(range(6), reader)][-1]
    png = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(png, sixth)


def studio_clip_path(studio: RunningStudio, name: str) -> Path:
    return next(arg for arg in map(Path, studio.process.args) if arg.name == name)


def test_a_render_is_the_command_it_shows(studio, cli, tmp_path):
    clip = clip_id(studio, "flower.mp4")
    render = submit(studio, clip=clip, style="candy", strength=0.6, preserve_color=False, stroke_scale=1.5)
    assert render["command"] == "vidstyle run flower.mp4 --style candy --strength 0.6 --stroke-scale 1.5 -o flower_candy.mp4"
    done = wait_for(studio, render["id"], {"done", "failed"})
    assert done["status"] == "done", done
    assert done["done"] == done["total"] == 24
    status, headers, data = studio.request(f"/api/renders/{render['id']}/file")
    assert status == 200 and 'filename="flower_candy.mp4"' in headers["content-disposition"]
    downloaded = tmp_path / "downloaded.mp4"
    downloaded.write_bytes(data)
    info = probe(downloaded)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (640, 360, 24, True)
    # the command, typed by a user, makes the same video
    typed = tmp_path / "typed.mp4"
    command = done["command"].split()[2:]
    command[0], command[-1] = str(studio_clip_path(studio, "flower.mp4")), str(typed)
    assert cli("run", *command, "-q").code == 0
    with VideoReader(downloaded) as a, VideoReader(typed) as b:
        differences = [np.abs(x.rgb.astype(np.float32) - y.rgb).mean() for x, y in zip(a, b)]
    assert len(differences) == 24 and max(differences) < 0.5


def test_renders_queue_and_cancel_without_leftovers(studio):
    long_clip = clip_id(studio, "long.mp4")
    first = submit(studio, clip=long_clip, style="mosaic", stroke_scale=0.5)
    second = submit(studio, clip=long_clip, style="wave")
    running = wait_for(studio, first["id"], {"running"})
    _, state = studio.json("/api/state")
    assert next(r for r in state["renders"] if r["id"] == second["id"])["status"] == "queued"
    deadline = time.time() + 60
    while running["done"] < 8 and time.time() < deadline:  # cancel mid-way, with frames written
        time.sleep(0.2)
        running = wait_for(studio, first["id"], {"running", "done"})
    assert running["status"] == "running" and running["seconds_left"] is not None
    status, _ = studio.json(f"/api/renders/{first['id']}/cancel", b"", headers=CHANGE)
    assert status == 200
    assert wait_for(studio, first["id"], {"cancelled", "done", "failed"}, 30)["status"] == "cancelled"
    wait_for(studio, second["id"], {"running", "done"})
    studio.json(f"/api/renders/{second['id']}/cancel", b"", headers=CHANGE)
    assert wait_for(studio, second["id"], {"cancelled", "done", "failed"}, 30)["status"] == "cancelled"
    for render in (first, second):
        assert list((studio.workdir / "renders" / render["id"]).iterdir()) == []
        assert studio.request(f"/api/renders/{render['id']}/file")[0] == 404


def test_uploads_are_checked_and_stored_by_the_studio(studio, clips):
    # oversized: refused from its declared length, before a byte of it is read
    status, body = declare_upload(studio, "/api/clips?name=big.mp4", 2 * 2**20)
    assert status == 413 and body["error"] == "the clip (2 MB) is larger than the studio's limit of 1 MB (--max-upload)"
    status, body = studio.json("/api/clips?name=notes.txt", b"hello", headers=CHANGE)
    assert status == 415 and "is not a video this studio takes" in body["error"]
    status, body = studio.json("/api/clips?name=broken.mp4", b"\x00\x01" * 5000, headers=CHANGE)
    assert status == 415 and body["error"].startswith("broken.mp4 cannot be read as a video")
    status, body = studio.json("/api/paintings?name=fake.png", b"not a picture", headers=CHANGE)
    assert status == 415
    # a name with a path in it: only its last part is shown, the file gets a name of the studio's
    status, body = studio.json("/api/clips?name=..%2F..%2Fevil.mp4", clips["short"].read_bytes(), headers=CHANGE)
    assert status == 200 and body["name"] == "evil.mp4" and body["frames"] == 24
    stored = sorted(p.name for p in (studio.workdir / "clips").iterdir())
    assert len(stored) == 1 and stored[0].endswith(".mp4") and len(stored[0]) == 16
    assert not list(studio.workdir.parent.glob("evil.mp4"))
    # a painting becomes a style the page can use by id, never by path
    status, painting = studio.json("/api/paintings?name=flower.jpg", FLOWER.read_bytes(), headers=CHANGE)
    assert status == 200 and painting["style"] == f"painting:{painting['id']}"
    frame = picture(studio, f"/api/clips/{body['id']}/frames/3/painted?style=painting:{painting['id']}&size=320")
    assert frame.shape == (180, 320, 3)


def declare_upload(studio: RunningStudio, path: str, size: int) -> tuple[int, dict]:
    """Send only the headers of an upload of ``size`` bytes, as a browser
    starts one, and read the answer."""
    import http.client
    from urllib.parse import urlparse

    address = urlparse(studio.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.putrequest("POST", path)
    connection.putheader("Content-Length", str(size))
    connection.putheader("X-Studio", "1")
    connection.endheaders()
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def test_an_upload_stops_at_the_limit_whatever_it_declares(tmp_path):
    workspace = Workspace(tmp_path, max_upload_bytes=1000)
    upload, _ = workspace.start_clip_upload("clip.mp4", declared_size=None)
    upload.write(b"x" * 600)
    with pytest.raises(UploadRefused, match="larger than the studio's limit"):
        upload.write(b"x" * 600)
    assert list((tmp_path / "clips").iterdir()) == []


def test_refusals(studio):
    clip = clip_id(studio, "flower.mp4")
    # writes need the page's header; other host names are refused (DNS rebinding)
    status, body = studio.json("/api/renders", json.dumps({"clip": clip}).encode())
    assert status == 403 and body["error"] == "a change must come from the studio's own page"
    status, body = studio.json("/api/state", headers={"Host": "attacker.example:80"})
    assert status == 403 and "answers only to 127.0.0.1 and localhost" in body["error"]
    # styles are names or paintings sent to the studio, never paths
    for style in ("/etc/passwd", "../../x.pth", "nosuch", "painting:../../x"):
        status, body = studio.json(f"/api/clips/{clip}/frames/0/painted?style={style}")
        assert status == 404, (style, body)
    status, body = studio.json(f"/api/clips/{clip}/frames/0/painted?style=mosaic&strength=7")
    assert status == 400 and "strength" in body["error"]
    status, body = studio.json("/api/renders", json.dumps({"clip": clip, "style": "mosaic", "stroke_scale": 9}).encode(), headers=CHANGE)
    assert status == 400 and "--stroke-scale must be between 0.25 and 4" in body["error"]
    assert studio.json("/api/clips/0123456789ab/frames/0")[0] == 404
    assert studio.request("/static/..%2F..%2F__init__.py")[0] == 404
    _, headers, _ = studio.request("/")
    assert headers["x-frame-options"] == "DENY" and "default-src 'self'" in headers["content-security-policy"]


def test_a_temporary_workspace_goes_when_the_studio_stops(tmp_path):
    workspace = Workspace(None, 2**20)
    upload, name = workspace.start_painting_upload("flower.jpg", None)
    upload.write(FLOWER.read_bytes())
    workspace.finish_painting_upload(upload, name)
    assert len(list((workspace.root / "paintings").iterdir())) == 1
    workspace.close()
    assert not workspace.root.exists()


def test_listening_beyond_this_machine_warns(tmp_path):
    studio = RunningStudio(tmp_path, "--host", "0.0.0.0")
    try:
        assert studio.url.startswith("http://127.0.0.1:")
        assert studio.request("/api/state")[0] == 200
    finally:
        assert studio.stop() == 0
    assert "anyone who can reach this address can use the studio" in studio.process.stderr.read()


def test_bad_command_lines(cli, tmp_path):
    result = cli("studio", str(tmp_path / "missing.mp4"), "--no-browser")
    assert result.code == 2 and result.err.strip() == f"vidstyle: error: no such file or folder: {tmp_path / 'missing.mp4'}"
    result = cli("studio", str(tmp_path), "--no-browser")
    assert result.code == 2 and result.err.startswith(f"vidstyle: error: no videos in {tmp_path}")
    (tmp_path / "notes.mp4").write_text("not a video")
    result = cli("studio", str(tmp_path / "notes.mp4"), "--no-browser", "--workdir", str(tmp_path / "work"))
    assert result.code == 2 and result.err.startswith("vidstyle: error: notes.mp4 cannot be read as a video")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("studio", "--no-browser", "--port", str(port), "--workdir", str(tmp_path / "work"))
    assert result.code == 2 and result.err.strip().startswith(f"vidstyle: error: cannot listen on 127.0.0.1:{port}")


def test_the_command_a_render_shows_uses_run_s_own_flags():
    """Every run option, set away from its default, becomes a flag that
    `vidstyle run` has, under the option's own name."""
    import typer

    from vidstyle.apps.run_options import RunOptions
    from vidstyle.cli import app

    run = typer.main.get_command(app).commands["run"]
    flags = {flag for param in run.params if param.param_type_name == "option" for flag in param.opts + param.secondary_opts}
    changed = RunOptions(
        style="candy", strength=0.5, preserve_color=True, model="full", batch_size=2, device="cpu", engine="onnxruntime",
        precision="f32", fp16=True, stroke_scale=2.0, max_size=720, threads=1, memory_budget=1.0, codec="ffv1", crf=20,
        preset="fast", pixel_format="yuv444p", audio=False, frames=5, frame_rate="25", hdr="sdr", fields="keep",
        keyframe=("0=a.png",), keyframe_mask=("0=m.png",), keyframe_carry=0.5, save_look="look", temporal="none", temporal_strength=0.5,
        flow_preset="fast", quiet=True, overwrite=True,
    )
    given = [arg for arg in changed.arguments() if arg.startswith("--")]
    assert len(given) == len(RunOptions.__dataclass_fields__)
    assert set(given) <= flags, set(given) - flags
