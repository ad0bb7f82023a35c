"""Export every bundled network to the ONNX graph the CPU engines run, so
that the plain install needs no PyTorch: ``styles/**/NAME.onnx`` beside each
checkpoint, the any-image encoder and decoder levels as
``styles/any-image/{encoder,decoder}-TAP.onnx``, and ``styles/graphs.json``
naming each checkpoint's graph, architecture and digest.

    python scripts/export_graphs.py

Run it after bundling or refitting a style; tests/test_engines.py fails
while a bundled graph and its checkpoint disagree.
"""

from __future__ import annotations

import argparse
import json

from vidstyle.models.feature_transforms import PIXEL_LEVEL
from vidstyle.stylize.graphs import ANY_IMAGE_DIR, BUNDLED_MANIFEST, file_digest
from vidstyle.stylize.options import AnyImageOptions
from vidstyle.stylize.styles import BUNDLED_DIR, MODELS, available_styles
from vidstyle.stylize.torch_engine import any_image_module, export_onnx, inference_network, load_checkpoint


def main() -> None:
    networks = {}
    for model in MODELS:
        for entry in available_styles(model):
            if entry.origin != "bundled":
                continue
            checkpoint = load_checkpoint(entry.path)
            graph = entry.path.with_suffix(".onnx")
            graph.write_bytes(export_onnx(inference_network(checkpoint.build_model())))
            key = entry.path.relative_to(BUNDLED_DIR).as_posix()
            networks[key] = {
                "graph": graph.relative_to(BUNDLED_DIR).as_posix(),
                "name": checkpoint.name,
                "architecture": checkpoint.architecture.to_dict(),
                "checkpoint_sha256": file_digest(entry.path),
            }
            print(f"{key} -> {networks[key]['graph']} ({graph.stat().st_size / 1e6:.1f} MB)")
    for tap in AnyImageOptions().levels:
        if tap == PIXEL_LEVEL:
            continue
        for kind in ("encoder", "decoder"):
            module, example = any_image_module(kind, tap)
            graph = ANY_IMAGE_DIR / f"{kind}-{tap}.onnx"
            graph.write_bytes(export_onnx(module, example))
            print(f"any-image {kind} {tap} -> {graph.relative_to(BUNDLED_DIR)} ({graph.stat().st_size / 1e6:.1f} MB)")
    BUNDLED_MANIFEST.write_text(json.dumps({"networks": networks}, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help
    main()
