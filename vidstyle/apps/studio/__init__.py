"""``vidstyle studio``: a local page for choosing and tuning a look on one's
own clip, then rendering it.

The parts, from the files up: :mod:`.workspace` holds the clips, paintings
and renders in one working folder and is the only part that touches the
file system; :mod:`.painter` paints single frames for the page, keeping each
network's output so that strength and colour moves cost no network call;
:mod:`.renders` runs whole-clip renders one at a time as ``vidstyle run``
processes; :mod:`.server` is the HTTP layer over them (Starlette on
uvicorn, the ``studio`` extra) and serves the page in ``page/``."""

from .options import StudioOptions  # noqa: F401
