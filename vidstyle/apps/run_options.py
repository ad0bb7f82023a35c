"""The options of ``vidstyle run``, defined once.

Each field of :class:`RunOptions` is a flag of ``vidstyle run`` (its name
with dashes), a key of a config or batch job file (its name), and a line of
the command-line reference, all made from the field. The module loads
nothing heavy, so that the CLI can build its flags from it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import build, merge, option, read_toml
from ..errors import OptionError
from ..media.sequences import DEFAULT_SEQUENCE_RATE, parse_frame_rate
from ..stylize.styles import DEFAULT_MODEL

if TYPE_CHECKING:
    from ..media.writer import EncoderSettings
    from ..stylize.options import StylizerOptions
    from ..temporal.consistency import TemporalOptions

FIELD_MODES = ("deinterlace", "keep")
HDR_MODES = ("keep", "sdr")


@dataclass
class RunOptions:
    """Every option of ``vidstyle run``, each defined once: its field is the
    flag (``--name-with-dashes``), the key in a config or job file, and the
    line in the docs."""

    style: str = option("mosaic", metavar="STYLE", help="Style name (see `vidstyle styles`), checkpoint file, or a mix such as mosaic:0.7,candy:0.3.", flags=("-s",))
    strength: float = option(1.0, "Amount of style, from 0 (the input) to 1 (the full style).")
    preserve_color: bool = option(False, "Keep the input's colours; take only light and shade from the style.")
    model: str = option(DEFAULT_MODEL, metavar="balanced|full|fast", help="balanced: half the full network's CPU time, nearly its look (full where a style has none); full: the style's largest network; fast: real time.")
    batch_size: int | None = option(None, "Frames per network call.", default_text="4 on CPU, 8 on CUDA")
    device: str = option("auto", "auto: CUDA when PyTorch sees a GPU, else the CPU.", metavar="auto|cpu|cuda")
    engine: str = option("auto", metavar="auto|openvino|onnxruntime|torch", help="auto: OpenVINO on the CPU when installed, else ONNX Runtime; PyTorch on CUDA. openvino, onnxruntime or torch forces one.")
    precision: str = option("auto", metavar="auto|bf16|f32", help="OpenVINO's precision: auto is bf16 where the CPU computes it natively, else f32; bf16 or f32 forces one.")
    fp16: bool = option(False, "Half precision on CUDA (ignored, with a warning, on the CPU).")
    stroke_scale: float = option(1.0, "Stroke size relative to the frame, 0.25-4: 2 paints strokes twice as large. The look is the same at every frame size.")
    max_size: int | None = option(None, "Cap the long side the network works at (480 / --stroke-scale) for speed or memory; strokes grow where it applies. The output keeps the input size.")
    threads: int | None = option(None, "CPU threads for the network.", default_text="all")
    memory_budget: float | None = option(None, "GiB the stylizer may use: frames over it go one at a time, then through the network in exact bands; a frame too large even alone is refused.", default_text="2.5 on CPU, most of a GPU's free memory")
    codec: str | None = option(None, metavar="ENCODER", help="Video encoder: libx264, libx265, prores_ks, ffv1, libvpx-vp9...", default_text="libx264, or what the output's container needs")
    crf: int | None = option(18, "Constant rate factor for x264/x265/VP9: lower is better and larger.")
    preset: str | None = option(None, "Encoder preset: x264/x265 ultrafast...veryslow, SVT-AV1 0-13.", default_text="faster for x264, the codec's own otherwise")
    pixel_format: str | None = option(None, "Output pixel format.", flags=("--pix-fmt",), default_text="fits codec and size")
    audio: bool = option(True, "Carry the input's audio.")
    frames: int | None = option(None, "Only the first N frames (a quick preview); audio is cut to match.", default_text="all")
    frame_rate: float | str = option(int(DEFAULT_SEQUENCE_RATE), "Frame rate of an image-sequence input: 24, 23.976 or 24000/1001.", cli_type=str)
    hdr: str = option("keep", metavar="keep|sdr", help="HDR input: keep (paint its code values, keep depth, tags and mastering data) or sdr (tone-map to SDR BT.709 first).")
    fields: str = option("deinterlace", metavar="deinterlace|keep", help="Interlaced input: deinterlace (bwdif, one frame per frame) or keep (encode interlaced; libx264 or ffv1).")
    keyframe: tuple[str, ...] = option((), "FRAME=FILE: paint the clip in the look of this painted frame (repeatable; FRAME counts from 0; a PNG's alpha limits where it paints). Instead of --style.", metavar="FRAME=FILE")
    keyframe_mask: tuple[str, ...] = option((), "Where keyframe FRAME's painting applies (white or opaque paints; the rest keeps the input), in place of its alpha.", metavar="FRAME=FILE")
    keyframe_carry: float = option(1.0, "How much of a painted keyframe is carried along the motion to the frames after it, where it is still in view and its input unchanged, from 0 (the learnt look alone) to 1 (the painting itself).")
    save_look: str | None = option(None, "Keep the keyframes' look as a style of this name, for --style NAME on other clips and in the preview.", metavar="NAME")
    temporal: str = option("flow", metavar="flow|none", help="flow: optical-flow stabilisation against flicker; none (or off): plain per-frame.")
    temporal_strength: float = option(0.7, "Weight of the motion-compensated previous frame, in [0, 1).")
    flow_preset: str = option("medium", metavar="ultrafast|fast|medium", help="DIS optical flow preset: ultrafast, fast, medium.")
    quiet: bool = option(False, "No progress bar.", flags=("-q",), switch=True)
    overwrite: bool = option(False, "Replace an output that exists (for frames: any frame of the pattern); without it, an existing output is an error.", flags=("-y",), switch=True)

    def __post_init__(self) -> None:
        if self.temporal == "off":  # a synonym of "none", as a user might type it
            self.temporal = "none"

    def validate(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise OptionError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.frames is not None and self.frames < 1:
            raise OptionError(f"--frames must be at least 1, got {self.frames}")
        if self.threads is not None and self.threads < 1:
            raise OptionError(f"--threads must be at least 1, got {self.threads}")
        parse_frame_rate(self.frame_rate)
        if self.hdr not in HDR_MODES:
            raise OptionError(f"--hdr must be one of {', '.join(HDR_MODES)}, got {self.hdr!r}")
        if self.fields not in FIELD_MODES:
            raise OptionError(f"--fields must be one of {', '.join(FIELD_MODES)}, got {self.fields!r}")
        self.encoder().validate()
        self.stylizer().validate()
        self.temporal_options().validate()

    def encoder(self) -> EncoderSettings:
        from ..media.writer import EncoderSettings

        return EncoderSettings(codec=self.codec, crf=self.crf, preset=self.preset, pixel_format=self.pixel_format)

    def temporal_options(self) -> TemporalOptions:
        from ..temporal.consistency import TemporalOptions

        return TemporalOptions(
            mode=self.temporal, strength=self.temporal_strength, preset=self.flow_preset, keyframe_carry=self.keyframe_carry
        )

    def stylizer(self) -> StylizerOptions:
        from ..stylize.options import StylizerOptions
        from .keyframes import KEYFRAME_MAX_SIDE

        if not self.keyframe:
            return StylizerOptions.taken_from(self)
        # a keyframe look is painted at the frame's size, as it was painted
        return StylizerOptions.taken_from(self, native_size=True, max_size=min(self.max_size or KEYFRAME_MAX_SIDE, KEYFRAME_MAX_SIDE))

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: Any) -> "RunOptions":
        """Defaults, then the TOML file (its ``[run]`` table or top level), then overrides."""
        base = cls()
        if config:
            values = read_toml(config)
            base = build(cls, values.get("run", values), where=str(config))
        return base.replace(**overrides)

    def arguments(self) -> list[str]:
        """The ``vidstyle run`` flags that give these options: one per field
        that differs from its default, named after the field."""
        defaults = RunOptions()
        flags: list[str] = []
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value == getattr(defaults, name):
                continue
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                flags.append(flag if value else f"--no-{flag[2:]}")
            elif isinstance(value, (tuple, list)):
                for item in value:
                    flags += [flag, str(item)]
            elif value is not None:
                flags += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        return flags

    def replace(self, **overrides: Any) -> "RunOptions":
        """A copy with every override that is not None applied."""
        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            raise OptionError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return merge(self, **overrides)
