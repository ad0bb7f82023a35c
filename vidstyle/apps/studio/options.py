"""The options of ``vidstyle studio``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ...errors import OptionError

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


@dataclass
class StudioOptions:
    """Every option of ``vidstyle studio``."""

    clips: tuple[Path, ...] = ()  # videos on this machine (or folders of them) listed on the page
    host: str = "127.0.0.1"  # another address lets anyone who can reach it use the studio
    port: int = 8765  # 0: any free port
    open_browser: bool = True
    workdir: Path | None = None  # None: a temporary folder, removed when the studio stops
    max_upload_mb: float = 2048.0  # a clip or painting sent from the page, at most
    threads: int | None = None  # CPU threads for the page's frames (renders take every core)
    view_size: int = 640  # long side, in pixels, of the frame shown large on the page
    card_size: int = 320  # long side of each style card

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise OptionError(f"--port must be between 0 and 65535, got {self.port}")
        if self.max_upload_mb <= 0:
            raise OptionError(f"--max-upload must be a positive number of MB, got {self.max_upload_mb:g}")
        if self.threads is not None and self.threads < 1:
            raise OptionError(f"--threads must be at least 1, got {self.threads}")
        for clip in self.clips:
            if not clip.exists():
                raise OptionError(f"no such file or folder: {clip}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def loopback_only(self) -> bool:
        """Whether only this machine can reach the page."""
        if self.host in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def url(self, port: int | None = None) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port or self.port}/"
