"""The front door and the manual: the CLI reference is current, and every
local link in the README and the manual points at a file that exists."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from cli_reference import PAGE, reference  # noqa: E402

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_cli_reference_is_current():
    assert PAGE.read_text() == reference(), "docs/cli.md is stale: run python scripts/cli_reference.py"


def test_every_local_link_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    commands = [line for line in lines[:8] if line.startswith((".venv/", "python3 -m venv"))]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/vidstyle run samples/landscape.mp4 --style mosaic",
        ".venv/bin/python -m pytest",
    ]


def test_the_readme_s_option_table_matches_the_options():
    """Every flag in the README's table is a flag of `vidstyle run`, and a
    row about one run option shows that option's default."""
    import dataclasses

    from vidstyle.apps.run_options import RunOptions
    from vidstyle.cli import shown_default

    fields = {"--" + f.name.replace("_", "-"): f for f in dataclasses.fields(RunOptions)}
    rows = [line.split(" | ") for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `-")]
    assert len(rows) >= 8
    run_help = PAGE.read_text().split("## vidstyle run", 1)[1].split("## vidstyle ", 1)[0]
    for cells in rows:
        flags = re.findall(r"--[a-z][a-z-]*", cells[0])
        assert flags and all(flag in run_help for flag in flags), cells[0]
        if len(flags) == 1 and flags[0] in fields:
            assert cells[1].strip("` ") == shown_default(fields[flags[0]]), cells
