"""The package's layers import one way only: each module imports its own layer or those below.

Bottom up: the contest's facts, errors, artifacts and file readers; tokenizer; data; model (with
the stand-in of the contest environment); evaluate; package; the command line. Imports inside
functions count too (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "mathlora"
LAYERS = [
    {"mathlora", "mathlora.errors", "mathlora.contest", "mathlora.prompts", "mathlora.artifacts",
     "mathlora.jsonl", "mathlora.settings"},
    {"mathlora.tokenizer"},
    {"mathlora.data"},
    {"mathlora.model", "mathlora.standin"},
    {"mathlora.evaluate"},
    {"mathlora.package"},
    {"mathlora.cli"},
]


def layer_of(module: str) -> int:
    """The layer of a module: that of its longest listed prefix."""
    best, level = -1, None
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, level = len(name), index
    assert level is not None, module
    return level


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("mathlora")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mathlora"):
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        for target in imports(path):
            # "from mathlora.model import network" names the module network of mathlora.model
            if layer_of(target) > layer_of(name):
                upward.append(f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})")
    assert not upward, "\n".join(upward)


def test_every_module_belongs_to_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_the_command_line_lives_in_mathlora_cli_only():
    """argparse, configure() and main() belong to mathlora.cli: the library never sees a Namespace."""
    misplaced = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if module_name(path).startswith("mathlora.cli"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if "argparse" in {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                          for alias in node.names}:
            misplaced.append(f"{module_name(path)} imports argparse")
        misplaced += [f"{module_name(path)}.{node.name}()" for node in tree.body
                      if isinstance(node, ast.FunctionDef) and node.name in ("configure", "main")]
    assert not misplaced, misplaced
