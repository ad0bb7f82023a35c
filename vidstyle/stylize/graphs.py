"""Where each network's exported graph comes from: bundled, or cached.

Every bundled network ships as an ONNX graph beside its checkpoint
(``scripts/export_graphs.py`` writes them and ``styles/graphs.json``, which
names each checkpoint's graph, its architecture and the digest of the
checkpoint it was exported from), so the plain install runs them without
PyTorch. Any other checkpoint is exported once (torch_engine.py) into the
cache, ``$VIDSTYLE_HOME/onnx``, with an index from the checkpoint file's
bytes, and the code that turns a checkpoint into a graph, to its graph:
later runs find it without loading the file.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..config import vidstyle_home
from ..models.architecture import TransformerConfig
from ..version import __version__
from .styles import BUNDLED_DIR

log = logging.getLogger(__name__)

ONNX_OPSET = 17
GRAPH_VERSION = 2  # part of the cache keys: bump when the export changes how it exports
BUNDLED_MANIFEST = BUNDLED_DIR / "graphs.json"
ANY_IMAGE_DIR = BUNDLED_DIR / "any-image"

# The code that turns a checkpoint into its graph: a change to any of these
# files is a new index key, so an edited network is exported afresh.
_PACKAGE = Path(__file__).resolve().parent.parent
GRAPH_SOURCES = ("models/architecture.py", "models/transformer.py", "models/inference.py", "stylize/torch_engine.py")


@dataclass(frozen=True)
class IndexedGraph:
    """A checkpoint's graph file, the checkpoint's own name and its architecture."""

    graph: Path
    name: str
    architecture: TransformerConfig


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def onnx_cache_dir() -> Path:
    return vidstyle_home() / "onnx"


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` through a temporary file in the same folder, so that a
    reader never sees part of a file; an unwritable cache is skipped (logged)."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError as error:
        log.debug("not cached: %s (%s)", path, error)
        if temporary:
            Path(temporary).unlink(missing_ok=True)


@lru_cache(maxsize=1)
def bundled_manifest() -> dict:
    try:
        return json.loads(BUNDLED_MANIFEST.read_text())
    except (OSError, ValueError):
        return {}


def _bundled_graph(checkpoint: Path) -> IndexedGraph | None:
    try:
        key = checkpoint.resolve().relative_to(BUNDLED_DIR).as_posix()
    except ValueError:
        return None
    entry = bundled_manifest().get("networks", {}).get(key)
    if not entry:
        return None
    graph = BUNDLED_DIR / entry["graph"]
    if not graph.is_file() or file_digest(checkpoint) != entry["checkpoint_sha256"]:
        return None  # a checkpoint changed since its graph was exported: export it afresh
    return IndexedGraph(graph, entry["name"], TransformerConfig.from_dict(entry["architecture"]))


@lru_cache(maxsize=1)
def _code_key() -> str:
    """The versions and the source of the code a graph depends on."""
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "none"
    digest = hashlib.sha256(f"{GRAPH_VERSION}|{__version__}|{ONNX_OPSET}|{torch_version}".encode())
    for name in GRAPH_SOURCES:
        digest.update((_PACKAGE / name).read_bytes())
    return digest.hexdigest()


def _index_path(checkpoint: Path) -> Path:
    digest = hashlib.sha256(_code_key().encode())
    digest.update(checkpoint.read_bytes())
    return onnx_cache_dir() / "checkpoints" / f"{digest.hexdigest()[:32]}.json"


def graph_for_checkpoint(checkpoint: Path) -> IndexedGraph | None:
    """The graph of this checkpoint file: bundled, or exported before by this
    code; None when there is none (or its entry is missing or damaged)."""
    bundled = _bundled_graph(checkpoint)
    if bundled is not None:
        return bundled
    try:
        entry = json.loads(_index_path(checkpoint).read_text())
        graph = onnx_cache_dir() / Path(entry["graph"]).name
        if not graph.is_file():
            return None
        return IndexedGraph(graph, str(entry["name"]), TransformerConfig.from_dict(entry["architecture"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def index_graph(checkpoint: Path, graph: Path, name: str, architecture: TransformerConfig) -> None:
    """Note that ``graph`` (a file in the cache) is this checkpoint's graph."""
    try:
        path = _index_path(checkpoint)
    except OSError:
        return
    entry = {"graph": graph.name, "name": name, "architecture": architecture.to_dict(), "checkpoint": str(checkpoint)}
    write_atomically(path, json.dumps(entry, indent=1).encode())


def forget_graph(checkpoint: Path, graph: Path) -> None:
    """Drop a damaged cached graph and its index entry (a bundled graph stays)."""
    try:
        _index_path(checkpoint).unlink(missing_ok=True)
        if graph.parent == onnx_cache_dir():
            graph.unlink(missing_ok=True)
    except OSError:
        pass


def bundled_any_image_graph(kind: str, tap: str) -> Path | None:
    """The bundled graph of the any-image ``kind`` ("encoder" or "decoder")
    at ``tap`` (the default levels have one), or None."""
    bundled = ANY_IMAGE_DIR / f"{kind}-{tap}.onnx"
    return bundled if bundled.is_file() else None
