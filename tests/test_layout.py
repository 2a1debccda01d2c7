"""The package's shape: folders that show its layers and list every module, modules of a readable size, public
functions that take a model instead of its parts, one table of activations, test modules that share only helpers."""
import ast
import re
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = ROOT / "scripts" / "nnqft"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
MAX_LINES = 450
MAX_POSITIONAL = 5


def relative(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def test_every_module_is_listed_in_the_package_docstring_and_the_readme_layout():
    """nnqft/__init__.py's docstring names each module under its folder (``- ``sampling/```` then ``- ``kernel``````),
    the README's layout section each file under its folder (``sampling/`` then ``kernel.py``)."""
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text()))
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    for path in MODULES:
        if path.name == "__init__.py":
            continue
        folder = relative(path.parent)
        in_doc = re.search(rf"``{path.stem}``", doc.split(f"``{folder}/``", 1)[1] if folder != "." else doc)
        assert in_doc, f"{relative(path)} is not in nnqft/__init__.py's docstring"
        part = layout.split(f"  {folder}/", 1)[1] if folder != "." else layout
        assert re.search(rf"\b{re.escape(path.name)}\b", part), f"{relative(path)} is not in the README's layout"
    for sub in {p.parent for p in MODULES if p.parent != PACKAGE}:
        sub_doc = ast.get_docstring(ast.parse((sub / "__init__.py").read_text()))
        for path in sub.glob("*.py"):
            if path.name != "__init__.py":
                assert f"``{path.stem}``" in sub_doc, f"{relative(path)} is not in {relative(sub)}/__init__.py"


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_no_module_is_longer_than_a_reader_takes_in(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def public_functions(tree):
    """(name, positional parameters) of every public function and method (``self``/``cls`` not counted)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                    n = len(item.args.posonlyargs) + len(item.args.args)
                    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in item.decorator_list)
                    yield f"{node.name}.{item.name}", n - (0 if static else 1)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            yield node.name, len(node.args.posonlyargs) + len(node.args.args)


def test_no_public_function_takes_more_than_five_positional_parameters():
    """A model is one value (nnqft.model.Model), not its parts repeated through every layer: beyond five, the
    parameters are keyword-only. (numba's compiled functions, which take the model's fields, are private.)"""
    crowded = [f"{relative(path)}: {name} ({n})" for path in MODULES
               for name, n in public_functions(ast.parse(path.read_text())) if n > MAX_POSITIONAL]
    assert crowded == []


def test_the_activations_are_defined_in_one_table():
    defined = [relative(path) for path in MODULES
               if re.search(r"^ACTIVATIONS\s*=", path.read_text(), flags=re.M)]
    assert defined == ["model.py"]
    kernel = (PACKAGE / "sampling" / "kernel.py").read_text()
    assert ('GAUSS, RELU, ERF, LINEAR = ACTIVATIONS["gauss"], ACTIVATIONS["relu"], ACTIVATIONS["erf"], '
            'ACTIVATIONS["linear"]') in kernel


def test_no_test_module_imports_another():
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.startswith(("test_", "conftest"))], (path.name, names)
