"""Write docs/cli.md, the command-line reference, from the commands
themselves (each command's --help), so that it cannot drift from the code.
tests/test_docs.py fails when the page is stale.

    python scripts/cli_reference.py
"""

from __future__ import annotations

from pathlib import Path

import click
import typer

from vidstyle.cli import app

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cli.md"
WIDTH = 100


def help_text(command: click.Command, name: str, parent: click.Context | None = None) -> str:
    context = click.Context(command, info_name=name, parent=parent, max_content_width=WIDTH, terminal_width=WIDTH)
    return command.get_help(context)


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
    return "\n".join(parts) + "\n"


def main() -> None:
    PAGE.write_text(reference())
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
