"""The studio's working folder: the clips it can show, the paintings sent to
it and the renders it made.

This is the only part of the studio that touches the file system, and it
never takes a path from the page: clips named on the command line are read
where they are, and everything sent from the page is stored in the working
folder under a random name, with only its extension kept from the name it
came with (and that only from a short list). Sizes are checked as the bytes
arrive, so an oversized upload stops at the limit, not at the end."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import OptionError, VidstyleError
from ...media.images import IMAGE_EXTENSIONS
from ...media.reader import FrameSeeker, VideoInfo
from ...stylize.style_images import decode_style_image

VIDEO_EXTENSIONS = {
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv", ".gif",
}
PAINTING_MAX_SIDE = 1024  # a painting is checked at this size; the networks use less
_ID = re.compile(r"[0-9a-f]{12}")


class UploadRefused(VidstyleError):
    """An upload of the wrong kind or size: the page shows the message."""


class UploadTooLarge(UploadRefused):
    """An upload over the studio's size limit."""


class NotFound(VidstyleError):
    """An id the workspace does not hold."""


def display_name(name: str, fallback: str) -> str:
    """A file name as sent by a browser, safe to show and to offer back as a
    download name: its last path part, printable characters only."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = re.sub(r"[^\w.\- ()]+", "_", name).strip(" .")
    return name[:120] or fallback


def new_id() -> str:
    return secrets.token_hex(6)


def _look_up(table: dict, item_id: str, what: str):
    """``table[item_id]``; an id of the wrong form or not held is NotFound."""
    item = table.get(item_id) if _ID.fullmatch(item_id or "") else None
    if item is None:
        raise NotFound(f"no such {what}: {item_id}")
    return item


@dataclass
class Clip:
    """A video the page can scrub and render."""

    id: str
    name: str  # as shown, and the stem of its renders' names
    path: Path
    info: VideoInfo
    frames: int
    uploaded: bool
    seeker: FrameSeeker = field(repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as 8-bit RGB, turned as players show it."""
        with self.lock:
            rgb = self.seeker.frame(index)
        turns = (self.info.rotation // 90) % 4
        return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb

    def to_dict(self) -> dict:
        info = self.info
        turned = (info.rotation // 90) % 2 == 1
        return {
            "id": self.id,
            "name": self.name,
            "frames": self.frames,
            "width": info.height if turned else info.width,
            "height": info.width if turned else info.height,
            "fps": float(info.frame_rate) if info.frame_rate else None,
            "duration": info.duration,
            "audio": info.has_audio,
            "uploaded": self.uploaded,
        }


@dataclass
class Painting:
    """A picture sent from the page: a style (any picture as a style) or a
    painted keyframe of one clip's frame."""

    id: str
    name: str
    path: Path
    clip: str | None = None  # for a keyframe: the clip and frame it paints
    frame: int | None = None

    @property
    def style(self) -> str:
        return f"painting:{self.id}"

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "style": self.style, "clip": self.clip, "frame": self.frame}


class Upload:
    """Bytes arriving from the page, written to a hidden file in the working
    folder and counted against the limit as they come; ``finish`` checks
    what arrived and hands the file over, ``abort`` removes it."""

    def __init__(self, folder: Path, suffix: str, limit: int, what: str):
        self.id = new_id()
        self.limit = limit
        self.what = what
        self.size = 0
        self.path = folder / f"{self.id}{suffix}"
        self.partial = folder / f".{self.id}{suffix}.part"
        self._file = self.partial.open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise UploadTooLarge(f"the {self.what} is larger than the studio's limit of {_megabytes(self.limit)} (--max-upload)")
        self._file.write(chunk)

    def finish(self) -> Path:
        self._file.close()
        if not self.size:
            self.abort()
            raise UploadRefused(f"the {self.what} arrived empty")
        self.partial.replace(self.path)
        return self.path

    def abort(self) -> None:
        self._file.close()
        self.partial.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


def _megabytes(count: int) -> str:
    return f"{count / 2**20:g} MB"


class Workspace:
    """Clips, paintings and renders, in one folder."""

    def __init__(self, root: Path | None, max_upload_bytes: int):
        self.temporary = root is None
        self.root = Path(tempfile.mkdtemp(prefix="vidstyle-studio-")) if root is None else Path(root)
        self.max_upload_bytes = max_upload_bytes
        self.clips: dict[str, Clip] = {}
        self.paintings: dict[str, Painting] = {}
        self._lock = threading.Lock()
        for sub in ("clips", "paintings", "renders"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for partial in self.root.glob("*/.*.part"):  # left by a studio that was killed mid-upload
            partial.unlink(missing_ok=True)

    @property
    def renders_folder(self) -> Path:
        return self.root / "renders"

    # ------------------------------------------------------------ clips

    def add_local(self, path: Path) -> list[Clip]:
        """A video on this machine (named on the command line), read where it
        is; a folder adds the videos in it."""
        path = Path(path).expanduser().resolve()
        if path.is_dir():
            found = [p for p in sorted(path.iterdir()) if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()]
            if not found:
                raise OptionError(f"no videos in {path} (looked for {' '.join(sorted(VIDEO_EXTENSIONS))})")
            return [self._register(p, p.name, uploaded=False) for p in found]
        return [self._register(path, path.name, uploaded=False)]

    def start_clip_upload(self, name: str, declared_size: int | None) -> tuple[Upload, str]:
        suffix = Path(display_name(name, "clip")).suffix.lower()
        if suffix not in VIDEO_EXTENSIONS:
            raise UploadRefused(f"{display_name(name, 'that file')} is not a video this studio takes: send one of {' '.join(sorted(VIDEO_EXTENSIONS))}")
        return self._start(self.root / "clips", suffix, declared_size, "clip"), display_name(name, f"clip{suffix}")

    def finish_clip_upload(self, upload: Upload, name: str) -> Clip:
        path = upload.finish()
        try:
            return self._register(path, name, uploaded=True)
        except VidstyleError:
            path.unlink(missing_ok=True)
            raise

    def _register(self, path: Path, name: str, uploaded: bool) -> Clip:
        try:
            seeker = FrameSeeker(path)
        except VidstyleError as exc:
            raise UploadRefused(f"{name} cannot be read as a video: {exc}") from exc
        clip = Clip(new_id(), name, path, seeker.info, len(seeker), uploaded, seeker)
        with self._lock:
            self.clips[clip.id] = clip
        return clip

    def clip(self, clip_id: str) -> Clip:
        return _look_up(self.clips, clip_id, "clip")

    # ------------------------------------------------------------ paintings

    def start_painting_upload(self, name: str, declared_size: int | None) -> tuple[Upload, str]:
        suffix = Path(display_name(name, "painting")).suffix.lower()
        if suffix not in IMAGE_EXTENSIONS:
            raise UploadRefused(f"{display_name(name, 'that file')} is not a picture this studio takes: send one of {' '.join(sorted(IMAGE_EXTENSIONS))}")
        return self._start(self.root / "paintings", suffix, declared_size, "picture"), display_name(name, f"painting{suffix}")

    def finish_painting_upload(self, upload: Upload, name: str, clip: Clip | None = None, frame: int | None = None) -> Painting:
        """A picture that arrived: checked by decoding it (within the picture
        limits of any style image), then kept as a style or, with ``clip``
        and ``frame``, as that frame painted."""
        path = upload.finish()
        try:
            decode_style_image(path.read_bytes(), name, max_side=PAINTING_MAX_SIDE)
        except VidstyleError as exc:
            path.unlink(missing_ok=True)
            raise UploadRefused(str(exc)) from exc
        if clip is not None:
            frame = min(max(int(frame or 0), 0), clip.frames - 1)
        painting = Painting(upload.id, name, path, clip.id if clip else None, frame if clip else None)
        with self._lock:
            self.paintings[painting.id] = painting
        return painting

    def painting(self, painting_id: str) -> Painting:
        return _look_up(self.paintings, painting_id, "painting")

    def painting_pixels(self, painting_id: str, max_side: int) -> np.ndarray:
        """The painting as RGB, at most ``max_side`` on its long side."""
        painting = self.painting(painting_id)
        return decode_style_image(painting.path.read_bytes(), painting.name, max_side=max_side)

    # ------------------------------------------------------------ common

    def _start(self, folder: Path, suffix: str, declared_size: int | None, what: str) -> Upload:
        if declared_size is not None and declared_size > self.max_upload_bytes:
            raise UploadTooLarge(f"the {what} ({_megabytes(declared_size)}) is larger than the studio's limit of {_megabytes(self.max_upload_bytes)} (--max-upload)")
        return Upload(folder, suffix, self.max_upload_bytes, what)

    def close(self) -> None:
        for clip in self.clips.values():
            clip.seeker.close()
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)
