"""The package's layout stays true: every import points down the stages of the data flow.

Layers, top to bottom: the CLIs (``detector/*.py`` entry points, ``train.py``, ``infer.py``,
``bench/``); ``train``; ``infer``; ``synth``; ``model`` and ``events``; ``io``. A module may import
its own folder and folders on lower layers only, so nothing in the inference path pulls in the
training engine and the events step needs nothing from inference.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "detector"
LAYER = {"io": 0, "model": 1, "events": 1, "synth": 2, "infer": 3, "train": 4}
CLI_LAYER = 5  # modules directly under detector/: entry points such as ``python -m detector.info``


def room_of(module: str) -> str | None:
    """The folder ("io", "model", ...) of a dotted ``detector.`` module name; None for the package root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYER else None


def imported_modules(path: Path, package_root: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import of the package in the file at ``path``, relative imports resolved."""
    package = list(path.relative_to(package_root.parent).parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                # "from . import x" may name a module of that package
                names = [target + "." + a.name for a in node.names] if not node.module else [target]
            else:
                names = [node.module or ""]
            found += [(node.lineno, n) for n in names if n.split(".")[0] == package_root.name]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == package_root.name]
    return found


def upward_imports(package_root: Path) -> list[str]:
    """Every import in the package that points to another folder on the same or a higher layer."""
    problems = []
    for path in sorted(package_root.rglob("*.py")):
        rel = path.relative_to(package_root)
        own_room = rel.parts[0] if len(rel.parts) > 1 else None
        own_layer = LAYER[own_room] if own_room else CLI_LAYER
        for line, module in imported_modules(path, package_root):
            room = room_of(module)
            if room is None or room == own_room:
                continue
            if LAYER[room] >= own_layer:
                problems.append(f"{rel}:{line} imports {module} ({room}, layer {LAYER[room]}) from layer {own_layer}")
    return problems


def test_every_import_points_down_a_layer():
    assert upward_imports(PACKAGE) == []


def test_every_module_lives_in_a_stage_folder():
    """Only entry points sit at the top; everything else is in a folder with a stated purpose."""
    loose = {p.name for p in PACKAGE.glob("*.py")} - {"__init__.py", "info.py"}
    assert loose == set()
    for room in LAYER:
        init = PACKAGE / room / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 20, f"{init} needs a paragraph on what the stage takes in and gives out"


@pytest.mark.parametrize("importer, line, allowed", [
    ("events/estimate.py", "from ..infer.outputs import format_table\n", False),  # events may not use inference
    ("model/network.py", "from ..events.hulls import class_for_length\n", False),  # same layer, another folder
    ("infer/pipeline.py", "from ..train.engine import pick_device\n", False),  # the case that led to model/device.py
    ("synth/series.py", "from ..events.hulls import class_for_length\n", True),
    ("train/engine.py", "from detector.infer.predict import PredictConfig\n", True),
    ("info.py", "from .infer.info import main\n", True),
])
def test_the_check_finds_an_upward_import(tmp_path, importer, line, allowed):
    """A planted import: the check must flag upward and sideways ones and let downward ones pass."""
    root = tmp_path / "detector"
    for room in LAYER:
        (root / room).mkdir(parents=True)
        (root / room / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / importer).write_text(line)
    assert (upward_imports(root) == []) == allowed
