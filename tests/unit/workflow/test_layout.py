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


def compiled(node) -> bool:
    """A numba-compiled function (``@njit(...)``): it takes arrays and the model's fields, as compiled code must."""
    return any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "njit" or getattr(d, "id", "") == "njit"
               for d in node.decorator_list)


def public_functions(tree):
    """(name, positional parameters) of every public function and method (``self``/``cls`` not counted), but the
    compiled building blocks of the kernels (:func:`compiled`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                    n = len(item.args.posonlyargs) + len(item.args.args)
                    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in item.decorator_list)
                    yield f"{node.name}.{item.name}", n - (0 if static else 1)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and not compiled(node):
            yield node.name, len(node.args.posonlyargs) + len(node.args.args)


def test_no_public_function_takes_more_than_five_positional_parameters():
    """A model is one value (nnqft.model.Model), not its parts repeated through every layer: beyond five, the
    parameters are keyword-only. (numba's compiled functions take the model's fields: they are exempt.)"""
    crowded = [f"{relative(path)}: {name} ({n})" for path in MODULES
               for name, n in public_functions(ast.parse(path.read_text())) if n > MAX_POSITIONAL]
    assert crowded == []


def test_the_activations_are_defined_in_one_table():
    defined = [relative(path) for path in MODULES
               if re.search(r"^ACTIVATIONS\s*=", path.read_text(), flags=re.M)]
    assert defined == ["model.py"]
    kernel = (PACKAGE / "sampling" / "blocks.py").read_text()
    assert ('GAUSS, RELU, ERF, LINEAR = ACTIVATIONS["gauss"], ACTIVATIONS["relu"], ACTIVATIONS["erf"], '
            'ACTIVATIONS["linear"]') in kernel


def test_no_test_module_imports_another():
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.startswith(("test_", "conftest"))], (path.name, names)


def imports_of(package: Path) -> dict[str, set[str]]:
    """Module -> the nnqft modules it imports anywhere in its body (in functions too), as the code digests read them
    (nnqft.workflow.codedeps: a package's ``__init__`` by the package's dotted name, nnqft's own as ``__init__``)."""
    from nnqft.workflow import codedeps

    pkg = codedeps.Package(package)
    graph = {}
    for name, mod in pkg.modules.items():
        found = set(mod.module_aliases.values()) | {module for module, _ in mod.symbol_aliases.values()}
        # a package's __init__ exporting its submodules' entry points (imported on first use) is no dependency
        inside = (lambda m, name=name: name == codedeps.INIT or m.startswith(name + "."))
        is_init = name == codedeps.INIT or any(other.startswith(name + ".") for other in pkg.modules)
        graph[name] = {m for m in found if m in pkg.modules and m != name and not (is_init and inside(m))}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of a graph (one path per circle found by depth-first search)."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from the science (sampling/, theory/, analysis/ and the top-level model, combos) into workflow/ or
    bench/: the layers above it."""
    science = ("sampling", "theory", "analysis", "model", "combos")
    return sorted((m, t) for m, targets in graph.items() if m.startswith(science)
                  for t in targets if t.startswith(("workflow", "bench")))


def test_the_package_has_no_import_circle_and_no_upward_import():
    graph = imports_of(PACKAGE)
    assert {"analysis.claims", "analysis.depth", "theory.exact", "sampling.blocks"} <= set(graph)
    assert "analysis.verdicts" in graph["analysis.claims"] and "analysis.depth" in graph["analysis.claims"]
    assert cycles(graph) == []
    assert upward(graph) == []


def test_a_circle_or_an_upward_import_put_back_is_found(tmp_path):
    """The protections, removed: the claims ↔ depth circle of the first layout (claims imported depth_claims inside a
    function, depth imported claims' verdicts), and analysis reaching up into the workflow layer to write a file."""
    import shutil

    copy = tmp_path / "nnqft"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    depth = copy / "analysis" / "depth.py"
    depth.write_text(depth.read_text() + "\n\ndef _late():\n    from .claims import claims_table  # noqa\n")
    stats = copy / "analysis" / "stats.py"
    stats.write_text(stats.read_text() + "\n\ndef _write():\n    from ..workflow.tables import atomic_write  # noqa\n")
    graph = imports_of(copy)
    assert any({"analysis.claims", "analysis.depth"} <= set(c) for c in cycles(graph))
    assert ("analysis.stats", "workflow.tables") in upward(graph)


def test_a_test_that_runs_snakemake_without_the_workflow_marker_fails():
    """The guard of conftest.py, in this very test (it has no workflow marker): starting snakemake raises."""
    import subprocess
    import sys

    with pytest.raises(AssertionError, match="mark it with pytest.mark.workflow"):
        subprocess.run([sys.executable, "-m", "snakemake", "--version"], capture_output=True)
    assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0  # anything else runs
