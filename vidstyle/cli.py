"""The ``vidstyle`` command line: a thin layer over the library API.

Errors a user can cause print one line on stderr and exit with status 2;
``--debug`` anywhere on the command line shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
import os
import re
import signal
import sys
import threading
import types
import typing
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import typer

from . import __version__
from .errors import VidstyleError, out_of_space

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Fast, temporally stable neural style transfer for video.",
)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # a terminating signal exits with 128 + its number (SIGTERM: 143, SIGHUP: 129)
# SIGTERM: what `kill`, schedulers and containers send; SIGHUP: a closed terminal or SSH session
TERMINATING_SIGNALS = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])


class Terminated(KeyboardInterrupt):
    """A terminating signal (SIGTERM, SIGHUP), raised in the main thread so
    that it unwinds like Ctrl-C: temporary files are removed."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process it ended."""
        return 128 + self.signum

    @property
    def label(self) -> str:
        """What the closing line says: "terminated", "terminated by SIGHUP"."""
        return "terminated" if self.signum == signal.SIGTERM else f"terminated by {signal.Signals(self.signum).name}"


def _raise_terminated(signum, frame) -> None:  # noqa: ARG001
    raise Terminated(signum)


class _Command(typer.core.TyperCommand):
    """Typer writes a required argument as ``{INPUT}`` in the usage line,
    which reads like a Python set: plain ``INPUT`` instead."""

    def collect_usage_pieces(self, ctx: typer._click.Context) -> list[str]:
        return [re.sub(r"^\{([^{}]*)\}", r"\1", piece) for piece in super().collect_usage_pieces(ctx)]


@app.callback()
def _options(
    debug: bool = typer.Option(
        False, "--debug",
        help="Show the full traceback of an error instead of one line; works anywhere on the command line (or VIDSTYLE_DEBUG=1).",
    ),
) -> None:
    # main() takes --debug out of the arguments wherever it stands; this
    # option only puts it in the help.
    pass


STYLE_IMAGE_HELP = "Any picture as the style (FILE or FILE:WEIGHT); with --style, mixed with it (half each unless weighted)."
JSON_HELP = "Print one JSON object on stdout (and nothing else there)."


def shown_default(field: dataclasses.Field) -> str | None:
    """The default a field's flag shows in the help and the docs, from the
    field itself."""
    meta = field.metadata
    if meta.get("default_text"):
        return meta["default_text"]
    value = field.default
    if value is None or value == ():
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _flag_type(field: dataclasses.Field, hint: object) -> object:
    """What the command line parses for a field: ``int | None`` -> int,
    ``tuple[str, ...]`` -> a repeatable str."""
    if field.metadata.get("cli_type"):
        return field.metadata["cli_type"]
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is tuple:
        return List[args[0]]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return args[0]
    return hint


@functools.lru_cache(maxsize=1)
def _run_options_hints() -> dict[str, object]:
    """RunOptions' annotations, resolved once for all its flags."""
    from .apps.run_options import RunOptions

    return typing.get_type_hints(RunOptions)


def _run_options_fields() -> dict[str, dataclasses.Field]:
    from .apps.run_options import RunOptions

    return RunOptions.__dataclass_fields__


def _run_option(name: str, help_suffix: str = "") -> tuple[object, typer.models.OptionInfo]:
    """The flag of run option ``name`` as RunOptions defines it: its type and
    its typer option, with no default of its own (None: the option's
    default, a config file's value or the command's own applies). Other
    commands that take the same option take it from here."""
    field = _run_options_fields()[name]
    meta = field.metadata
    flag_type = _flag_type(field, _run_options_hints()[name])
    long = "--" + name.replace("_", "-")
    if flag_type is bool and not meta["switch"]:
        long = f"{long}/--no-{long[2:]}"
    default = shown_default(field)
    text = meta["help"] + help_suffix + (f" [default: {default}]" if default and not meta["switch"] else "")
    short = [flag for flag in meta["flags"] if not flag.startswith("--")]
    aliases = [flag for flag in meta["flags"] if flag.startswith("--")]
    info = typer.Option(None, *short, long, *aliases, help=text, metavar=meta["metavar"], show_default=False)
    return Optional[flag_type], info


def _run_options_parameters() -> list[inspect.Parameter]:
    """Every RunOptions field as a keyword parameter that typer turns into a
    flag, in the dataclass's order."""
    parameters = []
    for name in _run_options_fields():
        annotation, info = _run_option(name)
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation))
    return parameters


def _flag(name: str, help_suffix: str = "") -> typer.models.OptionInfo:
    """Run option ``name``'s flag for another command that takes it."""
    return _run_option(name, help_suffix)[1]


def _fail(message: str, code: int = EXIT_USER_ERROR) -> None:
    typer.echo(f"vidstyle: error: {message}", err=True)
    raise typer.Exit(code)


def _say_on_the_way_out(line: str) -> None:
    """Print a last line on stderr, which may be gone (a closed terminal's
    SIGHUP): the exit status still says what happened."""
    with contextlib.suppress(OSError, ValueError):
        typer.echo(line, err=True)


def _print_json(report: dict) -> None:
    import json

    typer.echo(json.dumps(report, default=str))


def _check_json_output(as_json: bool, output: Optional[Path]) -> None:
    if as_json and output is not None and str(output) == "-":
        _fail("--json prints the report on stdout, so the output cannot be '-': give a file name")


def _refuse_still_image(input: Path) -> None:
    """``vidstyle run photo.jpg`` would write a one-frame video: point to ``image``."""
    from .media.images import IMAGE_EXTENSIONS
    from .media.sequences import is_image_sequence

    if input.suffix.lower() in IMAGE_EXTENSIONS and not is_image_sequence(input) and input.is_file():
        _fail(f"{input} is a still image; run stylizes video: use vidstyle image {input} -o OUT.png")


@contextlib.contextmanager
def _on_interrupt(message: Callable[[], str]) -> Iterator[None]:
    """Turn Ctrl-C into exit status 130 (a terminating signal into 128 + its
    number) with a line saying what was kept."""
    try:
        yield
    except Terminated as exc:
        _say_on_the_way_out(f"vidstyle: {exc.label}; {message().removeprefix('interrupted; ')}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo(f"vidstyle: {message()}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def run(**given: object) -> None:
    """Stylize a video, keeping its size, frame timing and audio."""
    from .apps.pipeline import stylize_video
    from .apps.run_options import RunOptions
    from .stylize.style_mix import with_style_image

    input, output, config, as_json = given.pop("input"), given.pop("output"), given.pop("config"), given.pop("as_json")
    _check_json_output(as_json, output)
    _refuse_still_image(input)
    given["style"] = with_style_image(given["style"], given.pop("style_image"))
    for name, value in given.items():
        if isinstance(value, list):
            given[name] = tuple(value) or None
    switches = {name for name, field in RunOptions.__dataclass_fields__.items() if field.metadata["switch"]}
    for name in switches:  # a switch not given is False: leave the config's value
        given[name] = given[name] or None
    options = RunOptions.load(config, **given)
    with _on_interrupt(lambda: "interrupted; no output was left behind"):
        result = stylize_video(input, output, options=options)
    for message in result.warnings:
        typer.echo(f"warning: {message}", err=True)
    if options.fp16 and not result.device.startswith("cuda"):
        typer.echo("warning: --fp16 applies on CUDA only; ignored on the CPU", err=True)
    if as_json:
        _print_json(result.to_dict())
    elif not options.quiet:
        typer.echo(f"wrote {result.output} ({result.frames} frames, {result.fps:.1f} fps on {result.device}, {result.engine})", err=True)


def _run_parameters() -> list[inspect.Parameter]:
    """run's flags: the input, output, config and report beside every RunOptions field."""
    def keyword(name: str, annotation: object, info: object) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)

    options = _run_options_parameters()
    after_style = [i for i, p in enumerate(options) if p.name == "style"][0] + 1
    options.insert(after_style, keyword("style_image", Optional[str], typer.Option(None, "--style-image", help=STYLE_IMAGE_HELP)))
    return [
        keyword("input", Path, typer.Argument(..., metavar="INPUT", help="Video to stylize (anything FFmpeg reads).")),
        keyword("output", Optional[Path], typer.Option(None, "-o", "--output", help="Output file [default: INPUT_STYLE.ext beside the input].")),
        *options,
        keyword("config", Optional[Path], typer.Option(None, "--config", help="TOML file of defaults, any run option by its name (see configs/run.toml).")),
        keyword("as_json", bool, typer.Option(False, "--json", help=JSON_HELP)),
    ]


run.__signature__ = inspect.Signature(_run_parameters())
app.command(cls=_Command, short_help="Stylize a video, keeping its size, timing and audio.")(run)


@app.command(cls=_Command, short_help="List the available styles.")
def styles(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the available styles, one per line: name, origin, models, file."""
    from .stylize.styles import available_styles, style_dirs

    entries = available_styles()
    fast = {e.name for e in available_styles("fast")}
    balanced = {e.name for e in available_styles("balanced")}
    if as_json:
        _print_json({
            "styles": [
                {"name": e.name, "origin": e.origin, "path": str(e.path), "balanced": e.name in balanced, "fast": e.name in fast}
                for e in entries
            ],
            "folders": {origin: str(folder) for origin, folder in style_dirs()},
        })
        return
    if not entries:
        folders = ", ".join(str(folder) for _, folder in style_dirs())
        typer.echo(f"no styles found (looked in {folders})", err=True)
        return
    width = max(len(e.name) for e in entries)
    for entry in entries:
        models = "+".join(["full"] + [kind for kind, names in (("balanced", balanced), ("fast", fast)) if entry.name in names])
        typer.echo(f"{entry.name:<{width}}  {entry.origin:<7}  {models:<18}  {entry.path}")


@app.command(cls=_Command, short_help="Stylize one still image.")
def image(
    input: Path = typer.Argument(..., metavar="INPUT", help="Image to stylize, or a video with --frame or --shots."),
    output: Path = typer.Option(..., "-o", "--output", help="Output image (.png, .jpg...); with --shots a pattern such as shots/f%04d.png."),
    frame: Optional[int] = typer.Option(
        None, "--frame", metavar="N",
        help="With a video as INPUT: its frame N, counting from 0 as run --keyframe does (with --strength 0, untouched, to paint).",
    ),
    shots: bool = typer.Option(
        False, "--shots",
        help="With a video as INPUT: the first frame of each shot, numbered by frame in the -o pattern: the frames to paint for run --keyframe.",
    ),
    style: Optional[str] = _flag("style", " The fast method only."),
    style_image: Optional[str] = typer.Option(None, "--style-image", help=STYLE_IMAGE_HELP + " Required by the optimize method."),
    method: str = typer.Option("fast", "--method", help="fast: the style network (or the style image's feature transform); optimize: Gatys et al. optimisation."),
    strength: Optional[float] = _flag("strength"),
    preserve_color: Optional[bool] = _flag("preserve_color"),
    steps: Optional[int] = typer.Option(None, "--steps", help="Adam steps at full size (optimize) [default: 200]."),
    size: Optional[int] = typer.Option(None, "--size", help="Long side of the output, larger or smaller than the input; the look stays the same [default: the input's]."),
    stroke_scale: Optional[float] = _flag("stroke_scale"),
    style_weight: Optional[float] = typer.Option(None, "--style-weight", help="Style weight (optimize)."),
    device: Optional[str] = _flag("device"),
    engine: Optional[str] = _flag("engine"),
    precision: Optional[str] = _flag("precision"),
    quiet: Optional[bool] = _flag("quiet"),
    overwrite: Optional[bool] = _flag("overwrite"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Stylize one still image, with the fast network or by optimisation."""
    import time

    import numpy as np

    from .config import merge
    from .media.atomic import atomic_sequence_output, check_overwrite
    from .media.images import IMAGE_EXTENSIONS, read_image, scale_long_side, write_image
    from .media.reader import read_frames
    from .media.sequences import is_image_sequence, printf_pattern
    from .stylize.options import StylizerOptions

    _check_json_output(as_json, output)
    if shots and frame is not None:
        _fail("--shots and --frame both choose the frames: give one")
    if shots != is_image_sequence(output):
        _fail(
            f"--shots writes a picture per shot: give -o a pattern such as shots/f%04d.png, got {output}" if shots
            else f"{output} is a pattern of frames: give one file, or --shots"
        )
    check_overwrite(output, bool(overwrite))
    if method not in ("fast", "optimize"):
        _fail(f"unknown method {method!r}: use fast or optimize")
    # A still takes well under a second with the full network: no reason to trade its look for speed.
    look = merge(
        StylizerOptions(model="full"), device=device, engine=engine, precision=precision,
        strength=strength, preserve_color=preserve_color, stroke_scale=stroke_scale,
    )
    look.validate()
    strength, preserve_color, stroke_scale, device = look.strength, look.preserve_color, look.stroke_scale, look.device
    if size is not None and not 16 <= size <= 16384:
        _fail(f"--size must be between 16 and 16384, got {size}")
    if frame is not None and frame < 0:
        _fail(f"--frame counts from 0, got {frame}")
    started = time.perf_counter()  # the network's loading counts, as a user waits for it
    if method == "fast":
        from .stylize.style_mix import with_style_image
        from .stylize.stylizer import Stylizer

        stylizer = Stylizer.from_style(with_style_image(style, style_image) or "mosaic", look)
        paint = stylizer
        style_name, device_used, engine_used = stylizer.name, stylizer.device, stylizer.engine.label()
    else:
        if style_image is None:
            _fail("--method optimize needs --style-image")
        if style is not None:
            _fail("--method optimize takes only --style-image, not --style")
        from .stylize.controls import apply_controls
        from .stylize.torch_support import require_torch

        require_torch("--method optimize")
        from .stylize.devices import resolve_device
        from .training.gatys import OptimizeConfig, optimize_image

        from .stylize.frames import to_frame_size, to_pixels

        # Gatys paints at its own working size (512 px at stroke scale 1), up
        # or down from the photo's, and the result comes back to the photo's
        # size as the networks' results do.
        config = merge(OptimizeConfig(size=round(OptimizeConfig.size / stroke_scale), device=device), steps=steps)
        if style_weight is not None:
            config = config.with_style_weight(style_weight)
        painting = read_image(style_image)

        def paint(content: np.ndarray) -> np.ndarray:
            painted = optimize_image(content, painting, config, progress=not (quiet or as_json))
            painted = to_pixels(to_frame_size(painted.astype(np.float32), *content.shape[:2]), np.uint8)
            return apply_controls(content, painted, strength, preserve_color)

        style_name, device_used, engine_used = str(style_image), str(resolve_device(device)), "torch"

    def sized(content: np.ndarray) -> np.ndarray:
        return scale_long_side(content, size) if size is not None else content

    found: list[list[int]] = []
    if shots:
        from .apps.keyframes import shot_openings

        with atomic_sequence_output(output) as temporary:
            for first, last, picture in shot_openings(input, quiet=bool(quiet or as_json)):
                result = paint(sized(picture))
                write_image(result, printf_pattern(temporary) % first)
                found.append([first, last])
    else:
        if frame is not None:
            content = read_frames(input, {frame})[frame].rgb
        else:
            try:
                content = read_image(input)
            except VidstyleError as error:
                if input.suffix.lower() in IMAGE_EXTENSIONS:
                    raise
                raise VidstyleError(f"{error} (for a frame of a video, give --frame N or --shots)") from None
        result = paint(sized(content))
        write_image(result, output)
    seconds = time.perf_counter() - started
    frames = len(found) if shots else 1
    if as_json:
        _print_json({
            "input": str(input),
            "output": str(output),
            "size": {"width": result.shape[1], "height": result.shape[0]},
            "frames": frames,
            "fps": round(frames / max(seconds, 1e-9), 3),
            "seconds": round(seconds, 3),
            "device": device_used,
            "engine": engine_used,
            "style": style_name,
            "frame": frame,
            **({"shots": found} if shots else {}),
            "options": {"method": method, "strength": strength, "preserve_color": preserve_color, "size": size, "stroke_scale": stroke_scale},
        })
    elif shots and not quiet:
        typer.echo(f"wrote {len(found)} shot(s) to {output}, frames {', '.join(str(first) for first, _ in found)}", err=True)
    elif not quiet:
        typer.echo(f"wrote {output}", err=True)


@app.command(cls=_Command, short_help="Stylize a camera, stream or file live in a window.")
def preview(
    source: str = typer.Option("0", "--source", help="Camera index (0, 1...), /dev/videoN, video file or stream URL."),
    style: Optional[str] = _flag("style", " n/p switch to the others."),
    style_image: Optional[str] = typer.Option(None, "--style-image", help=STYLE_IMAGE_HELP),
    size: Optional[str] = typer.Option(None, "--size", help="Resize frames to WxH, e.g. 320x240 [default: the source's size, long side at most 640]."),
    model: Optional[str] = _flag("model"),
    device: Optional[str] = _flag("device"),
    engine: Optional[str] = _flag("engine"),
    precision: Optional[str] = _flag("precision"),
    strength: Optional[float] = _flag("strength", " +/- change it by 0.1."),
    preserve_color: Optional[bool] = _flag("preserve_color"),
    stroke_scale: Optional[float] = _flag("stroke_scale"),
    temporal: Optional[str] = _flag("temporal", " t toggles it."),
    headless: bool = typer.Option(False, "--headless", help="No window; print one summary line on stdout."),
    frames: Optional[int] = typer.Option(None, "--frames", help="Stop after N frames [default: at q, Esc or the end of the source]."),
    record: Optional[Path] = typer.Option(None, "--record", help="Record the stylized video to FILE (.mp4, .mkv...) from the start."),
    overwrite: bool = typer.Option(False, "-y", "--overwrite", help="Replace a --record FILE that exists; without it, that is an error."),
    keys: Optional[str] = typer.Option(None, "--keys", help="Scripted key presses FRAME:KEY,..., e.g. 10:n,20:+,30:space,40:q."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Stylize a camera (or stream, or file) live in a window; keys: n/p style, +/- strength,
    s side by side, t stabiliser, space snapshot, r record, q quit."""
    from .apps.preview.session import PreviewOptions, parse_keys, parse_size, run_preview
    from .config import merge
    from .stylize.style_mix import with_style_image

    options = merge(
        PreviewOptions(source=source, size=parse_size(size) if size else None, headless=headless, frames=frames, record=record, overwrite=overwrite),
        style=with_style_image(style, style_image), model=model, device=device, engine=engine, precision=precision,
        strength=strength, preserve_color=preserve_color, stroke_scale=stroke_scale, temporal=temporal,
    )
    with _on_interrupt(lambda: "interrupted; recordings and snapshots made so far are kept"):
        stats = run_preview(options, parse_keys(keys) if keys else None)
    if as_json:
        _print_json(stats.to_dict())
        return
    for path in stats.recordings + stats.snapshots:
        typer.echo(f"wrote {path}", err=True)
    typer.echo(stats.summary())


@app.command(cls=_Command, short_help="Tune a look on your own clip in a browser page and render it.")
def studio(
    clips: Optional[List[Path]] = typer.Argument(None, metavar="CLIP", show_default=False, help="Videos (or folders of them) on this machine to list on the page; more can be sent from the page."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; any other than this machine's lets anyone who can reach it use the studio [default: 127.0.0.1].", show_default=False),
    port: int = typer.Option(8765, "--port", help="Port to listen on; 0 takes any free one [default: 8765].", show_default=False),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the page's address without opening a browser."),
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="Keep uploads and renders in this folder [default: a temporary folder, removed when the studio stops]."),
    max_upload: float = typer.Option(2048, "--max-upload", help="Largest clip or picture the page may send, in MB [default: 2048].", show_default=False),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for the page's frames [default: all]."),
) -> None:
    """Open a local page to scrub a clip, see a frame in every style and in
    any painting, tune strength, colour and stroke size, and render the
    clip with a progress bar; each render shows the `vidstyle run` command
    that makes the same file. Needs the studio extra: pip install 'vidstyle[studio]'."""
    from .apps.studio.options import StudioOptions

    options = StudioOptions(
        clips=tuple(clips or ()), host=host, port=port, open_browser=not no_browser,
        workdir=workdir, max_upload_mb=max_upload, threads=threads,
    )
    options.validate()
    from .apps.studio.server import serve

    if not options.loopback_only:
        typer.echo(f"vidstyle: warning: listening on {host}: anyone who can reach this address can use the studio, "
                   "see its clips and render on this machine", err=True)

    def ready(url: str) -> None:
        typer.echo(f"vidstyle studio: {url}  (Ctrl-C stops it)", err=False)
        if workdir is None:
            typer.echo("uploads and renders are kept until the studio stops; --workdir DIR keeps them after", err=True)

    try:
        serve(options, ready)
    except Terminated:
        raise
    except KeyboardInterrupt:  # Ctrl-C is how a studio is closed: not an error
        typer.echo("vidstyle studio: stopped", err=True)


@app.command(cls=_Command, short_help="Render one picture in every available style.")
def sheet(
    input: Path = typer.Argument(..., metavar="INPUT", help="Picture to show in every style."),
    output: Path = typer.Option(Path("sheet.png"), "-o", "--output", help="Sheet image to write."),
    tile: int = typer.Option(320, "--tile", help="Long side of each tile, in pixels."),
    columns: Optional[int] = typer.Option(None, "--columns", help="Tiles per row [default: a square-ish grid]."),
    styles: Optional[list[str]] = typer.Option(None, "--style", metavar="STYLE", help="Only these styles (repeatable) [default: all]."),
    style_images: Optional[list[str]] = typer.Option(None, "--style-image", metavar="FILE", help="Also these pictures as styles (repeatable)."),
    stroke_scale: Optional[float] = _flag("stroke_scale"),
    device: Optional[str] = _flag("device"),
    overwrite: Optional[bool] = _flag("overwrite"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Render one picture in every available style, labelled with the flag that gives each look."""
    import time

    from .apps.sheet import render_sheet
    from .config import merge
    from .media.atomic import check_overwrite
    from .media.images import read_image, write_image
    from .stylize.options import StylizerOptions
    from .stylize.style_mix import check_style_image

    _check_json_output(as_json, output)
    check_overwrite(output, bool(overwrite))
    if columns is not None and columns < 1:
        _fail(f"--columns must be at least 1, got {columns}")
    started = time.perf_counter()
    for picture in style_images or []:
        check_style_image(picture)
    result = render_sheet(read_image(input), styles, tile, columns, merge(StylizerOptions(), device=device, stroke_scale=stroke_scale), style_images or [])
    write_image(result.image, output)
    if as_json:
        _print_json({
            "input": str(input),
            "output": str(output),
            "size": {"width": result.image.shape[1], "height": result.image.shape[0]},
            "seconds": round(time.perf_counter() - started, 3),
            "device": result.device,
            "engine": result.engine,
            "tile": {"width": result.tile_size[0], "height": result.tile_size[1]},
            "columns": result.columns,
            "labels": result.labels,
        })
    else:
        typer.echo(f"wrote {output} ({len(result.labels) - 1} styles)", err=True)


@app.command(cls=_Command, short_help="Render many clips in many styles from a job file.")
def batch(
    job: Path = typer.Argument(..., metavar="JOB", help="Job file (TOML): output_dir, [defaults], [[items]] with input and styles."),
    workers: int = typer.Option(1, "--workers", help="Tasks at a time on this machine."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run tasks on a Ray cluster: its address, or auto."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the tasks and whether each is up to date; render nothing."),
    force: bool = typer.Option(False, "--force", help="Render every task, even those already up to date."),
    chunk_seconds: Optional[float] = typer.Option(None, "--chunk-seconds", help="Split clips longer than this into parts rendered in parallel, cut at keyframes (0: off) [default: 60 on Ray, off locally]."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar; only the summary."),
) -> None:
    """Render many clips in many styles; resumable (the job file: docs/batch.md)."""
    from .apps.batch.job import load_job, plan, run_batch

    loaded = load_job(job)
    if dry_run:
        todo, up_to_date = plan(loaded, force)
        fresh = {t.key for t in up_to_date}
        for task in loaded.tasks:
            state = "up to date" if task.key in fresh else "to render"
            typer.echo(f"{state:<10}  {task.describe()}  ->  {task.output}")
        typer.echo(f"{len(todo)} to render, {len(up_to_date)} up to date")
        return
    report = run_batch(loaded, workers=workers, ray_address=ray, force=force, progress=not quiet, chunk_seconds=chunk_seconds)
    typer.echo(report.summary())
    if report.interrupted:
        typer.echo(f"vidstyle: interrupted; finished tasks are kept, run the job again to resume ({loaded.manifest_path})", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    if not report.ok:
        raise typer.Exit(1)


@app.command(cls=_Command, short_help="Train a fast style network from a style image.")
def train(
    style_image: Optional[Path] = typer.Argument(None, metavar="STYLE_IMAGE", help="Style image to learn (or set style_image in --config)."),
    name: Optional[str] = typer.Option(None, "--name", help="Style name [default: the image's file name]."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Distil this style network (name or checkpoint) into a smaller one instead of learning from an image."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Checkpoint to write [default: NAME.pth in the user style folder, where --style NAME finds it]."),
    content: Optional[list[Path]] = typer.Option(None, "--content", metavar="PATH", help="Content image folder or video; repeatable."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Optimiser steps [default: 20000, or the config's; the progress bar shows the time left]."),
    image_size: Optional[int] = typer.Option(None, "--image-size", help="Side of the square training crops [default: 128]."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Crops per step [default: 4]."),
    style_weight: Optional[float] = typer.Option(None, "--style-weight", help="Weight of the style loss: more paints more of the style image's textures and colours [default: the recipe's, configs/train/]."),
    content_weight: Optional[float] = typer.Option(None, "--content-weight", help="Weight of the content loss: more keeps more of the photo's shapes [default: the recipe's]."),
    tv_weight: Optional[float] = typer.Option(None, "--tv-weight", help="Weight of the smoothness (total variation) loss: more gives fewer pixel-level speckles [default: the recipe's]."),
    temporal_weight: Optional[float] = typer.Option(None, "--temporal-weight", help="Weight of the temporal stability loss (0: off)."),
    learning_rate: Optional[float] = typer.Option(None, "--learning-rate", "--lr", help="Adam's learning rate [default: 1e-3]."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Training checkpoint to continue from."),
    init_weights: Optional[str] = typer.Option(None, "--init-weights", help="Start from this network's weights (a style name or checkpoint), with a new optimiser: a cheap refit after a recipe change."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the crops' order and the network's start: the same seed repeats a run [default: 0]."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda [default: auto: CUDA when PyTorch sees a GPU, else the CPU]."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML training config (see configs/train/)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Checkpoint and stop after this long; --resume continues."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    """Train a fast style network from a style image (Johnson et al.)."""
    from .stylize.torch_support import require_torch

    require_torch("training")
    from .training.trainer import TrainConfig, Trainer

    train_config = TrainConfig.load(
        config,
        style_image=str(style_image) if style_image else None,
        name=name,
        teacher=teacher,
        output=str(output) if output else None,
        content=[str(c) for c in content] if content else None,
        steps=steps,
        image_size=image_size,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        device=device,
        max_minutes=max_minutes,
        temporal_weight=temporal_weight,
        init_weights=init_weights,
        style_weight=style_weight,
        content_weight=content_weight,
        tv_weight=tv_weight,
    )
    trainer = Trainer(train_config, resume=resume)
    path = train_config.output_path
    with _on_interrupt(lambda: f"interrupted at step {trainer.step}; saved {path} (continue with --resume {path})"):
        result = trainer.run(progress=not quiet)
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items())
    typer.echo(f"wrote {result.path} after {result.step} steps ({result.seconds / 60:.1f} min; {losses})", err=True)
    from .stylize.styles import user_style_dir

    found = result.path.parent.resolve() == user_style_dir().resolve()
    typer.echo(f"use it with --style {train_config.name if found else result.path}", err=True)


@app.command(name="eval", cls=_Command, short_help="Print JSON scores: flicker and style strength.")
def evaluate(
    input: Path = typer.Argument(..., metavar="INPUT", help="The original video."),
    stylized: Path = typer.Argument(..., metavar="STYLIZED", help="Its stylized version."),
    style_image: Optional[Path] = typer.Option(None, "--style-image", help="Also report the Gram style loss against this image."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="Only the first N frames."),
) -> None:
    """Print JSON scores: warping error (flicker) and style strength."""
    import json

    from .stylize.torch_support import require_torch

    require_torch("eval")
    from .temporal.metrics import evaluate_video

    scores = evaluate_video(input, stylized, style_image, max_frames)
    typer.echo(json.dumps({"input": str(input), "stylized": str(stylized), **scores.to_dict()}))


@app.command(cls=_Command, short_help="Versions, devices, style folders and encoders.")
def info(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Versions, the device `auto` picks, style folders and available encoders."""
    from .apps.info import format_info, system_info

    report = system_info()
    if as_json:
        _print_json(report)
    else:
        typer.echo(format_info(report))


@app.command(cls=_Command, short_help="Print vidstyle's version.")
def version() -> None:
    """Print vidstyle's version (`vidstyle info` tells more)."""
    typer.echo(f"vidstyle {__version__}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the command and turns user errors into one line."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("VIDSTYLE_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s: %(message)s")
    command = typer.main.get_command(app)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_handlers = {number: signal.signal(number, _raise_terminated) for number in TERMINATING_SIGNALS} if in_main_thread else {}
    try:
        result = command.main(args=args, prog_name="vidstyle", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except VidstyleError as exc:
        if debug:
            raise
        typer.echo(f"vidstyle: error: {exc}", err=True)
        return EXIT_USER_ERROR
    except Terminated as exc:
        _say_on_the_way_out(f"vidstyle: {exc.label}")
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("vidstyle: interrupted", err=True)
        return EXIT_INTERRUPTED
    except typer._click.exceptions.ClickException as exc:  # usage errors
        if debug:
            raise
        typer.echo(f"vidstyle: error: {exc.format_message()} (see vidstyle --help)", err=True)
        return exc.exit_code
    except Exception as exc:
        if debug:
            raise
        full = out_of_space(exc)  # a full disk outside an output's own writing (a cache, a manifest)
        if full is not None:
            typer.echo(f"vidstyle: error: {full}", err=True)
            return EXIT_USER_ERROR
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        typer.echo(f"vidstyle: internal error: {type(exc).__name__}: {detail} (run with --debug for details)", err=True)
        return 1
    finally:
        for number, handler in previous_handlers.items():
            signal.signal(number, handler)
    return code


if __name__ == "__main__":
    sys.exit(main())
