"""Write docs/cli.md, the command-line reference, from the commands
themselves (each command's --help) and the run options' table from their
one definition (vidstyle/apps/run_options.py), so that neither can drift
from the code. tests/test_docs.py fails when the page is stale.

    python scripts/cli_reference.py
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import click
import typer

from vidstyle.apps.run_options import RunOptions
from vidstyle.cli import app, shown_default

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cli.md"
WIDTH = 100


def help_text(command: click.Command, name: str, parent: click.Context | None = None) -> str:
    context = click.Context(command, info_name=name, parent=parent, max_content_width=WIDTH, terminal_width=WIDTH)
    return command.get_help(context)


def run_options_table() -> list[str]:
    """One row per run option: the key a config or job file uses, the flag
    and the default, each made from the RunOptions field."""
    rows = [
        "## Run options in config and job files",
        "",
        "Every `vidstyle run` flag is also a key of a `--config` file and of a",
        "batch job's `[defaults]` and `[[items]]`, under the same name with",
        "underscores: `--stroke-scale 2` is `stroke_scale = 2`. A job file takes",
        "every key but `overwrite`: a batch renders what its manifest finds",
        "missing or stale (`vidstyle batch --force`: everything).",
        "",
        "| key | flag | default |",
        "| --- | --- | --- |",
    ]
    for field in dataclasses.fields(RunOptions):
        flag = "--" + field.name.replace("_", "-")
        rows.append(f"| `{field.name}` | `{flag}` | {shown_default(field) or ''} |")
    return rows


def reference() -> str:
    group = typer.main.get_command(app)
    top = click.Context(group, info_name="vidstyle", max_content_width=WIDTH, terminal_width=WIDTH)
    parts = [
        "# Command-line reference",
        "",
        "Every command's `--help`, as the installed version prints it",
        "(written by `python scripts/cli_reference.py`).",
        "",
        "```text",
        help_text(group, "vidstyle"),
        "```",
    ]
    for name in group.list_commands(top):
        parts += ["", f"## vidstyle {name}", "", "```text", help_text(group.get_command(top, name), name, top), "```"]
        if name == "run":
            parts += ["", *run_options_table()]
    return "\n".join(parts) + "\n"


def main() -> None:
    PAGE.write_text(reference())
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help
    main()
