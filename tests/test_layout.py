"""The package layout (README, Layout): imports go down the layers, never
sideways or up, and no chain of imports comes back to where it started.

Read from the source with ``ast``, so every import counts: at the top of a
module, inside a function, or under ``if TYPE_CHECKING``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "vidstyle"

# Each layer and the layers below it that it may import; a layer may also
# import its own modules. "top" is the package itself and the CLI.
BELOW = {
    "foundation": set(),
    "media": {"foundation"},
    "models": {"foundation"},
    "temporal": {"foundation", "media", "models"},
    "stylize": {"foundation", "media", "models"},
    "training": {"foundation", "media", "models", "temporal", "stylize"},
    "apps": {"foundation", "media", "models", "temporal", "stylize", "training"},
    "top": {"foundation", "media", "models", "temporal", "stylize", "training", "apps"},
}
FOUNDATION = {"errors", "config", "version"}
TOP = {"cli", "__main__"}


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["vidstyle", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in TOP:
        return "top"
    if parts[1] in FOUNDATION:
        return "foundation"
    assert parts[1] in BELOW, f"{module} is in no layer: add vidstyle/{parts[1]} to BELOW in {Path(__file__).name}"
    return parts[1]


def imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from PACKAGE import module` imports that module; any other name comes from PACKAGE
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import vidstyle.media.reader` names the module; drop attributes
                target = target.rpartition(".")[0]
            if target.startswith("vidstyle") and target != module:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_imports_go_down_the_layers_only():
    wrong = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer(target) != layer(module) and layer(target) not in BELOW[layer(module)]
    ]
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "modules that import each other, directly or round a chain:\n" + "\n".join(", ".join(c) for c in found)


def test_the_checks_see_what_they_should():
    graph = import_graph()
    assert "vidstyle.media.sequences" in graph["vidstyle.media.atomic"]
    assert "vidstyle.models" in graph["vidstyle.stylize.checkpoints"]  # `from ..models import TransformerNet`
    assert "vidstyle.apps.pipeline" in graph["vidstyle.apps.batch.runners"]  # imported inside a function
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
