"""What a rule's output depends on in the nnqft package, as a digest that changes when that code does.

Snakemake reruns a rule when one of its params changes. Each rule carries, as its ``code`` param, the
digest of the source of every top-level definition of ``nnqft`` that its script can reach: the
functions it calls, the functions those call, the constants and classes they read, across modules,
transitively. Editing a helper therefore reruns exactly the rules whose outputs can depend on it.

The package is read with :mod:`ast`, never imported, so that parsing the Snakefile (done again by every
cluster job) does not import numba, scipy or matplotlib.

Resolution is by name and deliberately conservative (it may include too much, never too little):

- a name used in a definition that is a top-level name of the same module is a dependency;
- ``mod.attr``, where ``mod`` is an nnqft module imported anywhere in the module (``from . import mod``,
  ``from nnqft import mod``, ``import nnqft.mod``), depends on ``attr`` of that module, and a bare use
  of ``mod`` (passed around, ``getattr``) on the whole module;
- ``from .mod import name`` makes ``name`` a dependency on ``mod.name``;
- top-level statements that define nothing (``matplotlib.use("Agg")``, a loop filling a table) belong to
  every definition of their module; the module docstring belongs to none.

A dispatch by name (``globals()[name]``) is invisible to this: such a rule adds the target as an
explicit root (see the figure rules).
"""
from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "nnqft"
PACKAGE_DIR = Path(__file__).resolve().parent
#: Pseudo-name of a module's top-level statements that define no name.
MODULE_BODY = "<module>"
#: Pseudo-name standing for every definition of a module.
WHOLE_MODULE = "*"
INIT = "__init__"


@dataclass
class Module:
    """One parsed module: the source text of each top-level name, its dependencies, its nnqft imports."""

    name: str
    sources: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, list[ast.AST]] = field(default_factory=dict)
    module_aliases: dict[str, str] = field(default_factory=dict)  # local name -> nnqft module
    symbol_aliases: dict[str, tuple[str, str]] = field(default_factory=dict)  # local name -> (module, name)


def _defined_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    names = []
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.append(node.id)
    return names


def _segment(lines: list[str], stmt: ast.stmt) -> str:
    """The statement's source lines, decorators included."""
    start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    return "".join(lines[start - 1 : stmt.end_lineno])


def _resolve_from(module: str, level: int) -> str | None:
    """The nnqft module named by ``from <level dots><module> import ...``, or None if outside nnqft."""
    if level == 0:
        if module == PACKAGE:
            return INIT
        if module.startswith(PACKAGE + "."):
            return module[len(PACKAGE) + 1 :]
        return None
    if level == 1:
        return module or INIT
    return None


def parse_module(name: str, text: str, modules: set[str]) -> Module:
    """Parse one module's text; ``modules`` are the names of every module of the package."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    mod = Module(name)
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the module docstring
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        names = _defined_names(stmt) or [MODULE_BODY]
        for n in names:
            mod.sources[n] = mod.sources.get(n, "") + _segment(lines, stmt)
            mod.nodes.setdefault(n, []).append(stmt)
    for node in ast.walk(tree):  # imports anywhere, including inside functions
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    sub = alias.name[len(PACKAGE) + 1 :]
                    if alias.asname:
                        mod.module_aliases[alias.asname] = sub
                    else:  # `import nnqft.x`: used as nnqft.x.attr
                        mod.module_aliases[PACKAGE] = INIT
                elif alias.name == PACKAGE:
                    mod.module_aliases[alias.asname or PACKAGE] = INIT
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(node.module or "", node.level)
            if source is None:
                continue
            for alias in node.names:
                local = alias.asname or alias.name
                if source == INIT and alias.name in modules:  # from nnqft import exact
                    mod.module_aliases[local] = alias.name
                else:
                    mod.symbol_aliases[local] = (source, alias.name)
    return mod


def _references(mod: Module, nodes: list[ast.AST]) -> set[tuple[str, str]]:
    """The (module, name) pairs that ``nodes`` of ``mod`` refer to."""
    refs: set[tuple[str, str]] = set()
    attribute_bases: set[int] = set()
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                base = node.value.id
                if base in mod.module_aliases:
                    attribute_bases.add(id(node.value))
                    target = mod.module_aliases[base]
                    if target == INIT and base == PACKAGE:
                        # nnqft.x (a submodule) or nnqft.NAME (in __init__)
                        refs.add(("?", node.attr))
                    else:
                        refs.add((target, node.attr))
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Name) and id(node) not in attribute_bases:
                if node.id in mod.module_aliases:
                    refs.add((mod.module_aliases[node.id], WHOLE_MODULE))
                elif node.id in mod.symbol_aliases:
                    refs.add(mod.symbol_aliases[node.id])
                elif node.id in mod.sources:
                    refs.add((mod.name, node.id))
    return refs


class Package:
    """The parsed modules of the nnqft package in ``package_dir`` (default: this package)."""

    def __init__(self, package_dir: str | Path | None = None):
        self.dir = Path(package_dir) if package_dir is not None else PACKAGE_DIR
        files = {p.stem: p for p in sorted(self.dir.glob("*.py"))}
        self.modules = {name: parse_module(name, path.read_text(), set(files)) for name, path in files.items()}

    def _expand(self, module: str, name: str) -> list[tuple[str, str]]:
        """A reference made concrete: a name of a module, all of a module, or (for nnqft.X) either."""
        if module == "?":
            if name in self.modules:
                return self._expand(name, WHOLE_MODULE)
            return self._expand(INIT, name)
        mod = self.modules.get(module)
        if mod is None:
            return []
        if name == WHOLE_MODULE:
            return [(module, n) for n in mod.sources]
        if name in mod.sources:
            return [(module, name)]
        if name in mod.symbol_aliases:  # re-exported: `from .x import y` in module, used as module.y
            return self._expand(*mod.symbol_aliases[name])
        if name in mod.module_aliases:
            return self._expand(mod.module_aliases[name], WHOLE_MODULE)
        if name in self.modules and module == INIT:
            return self._expand(name, WHOLE_MODULE)
        return []

    def closure(self, roots) -> set[tuple[str, str]]:
        """Every (module, name) reachable from ``roots`` ("module.name" or "module" strings, or pairs)."""
        todo: list[tuple[str, str]] = []
        for root in roots:
            if isinstance(root, str):
                module, _, name = root.partition(".")
                root = (module, name or WHOLE_MODULE)
            todo.extend(self._expand(*root))
        seen: set[tuple[str, str]] = set()
        while todo:
            item = todo.pop()
            if item in seen:
                continue
            seen.add(item)
            module, name = item
            mod = self.modules[module]
            if name != MODULE_BODY and MODULE_BODY in mod.sources:
                todo.append((module, MODULE_BODY))
            for ref in _references(mod, mod.nodes[name]):
                todo.extend(self._expand(*ref))
        return seen

    def digest(self, roots) -> str:
        """sha256 (16 hex digits) of the source of everything reachable from ``roots``."""
        h = hashlib.sha256()
        for module, name in sorted(self.closure(roots)):
            h.update(f"{module}:{name}\n".encode())
            h.update(self.modules[module].sources[name].encode())
        return h.hexdigest()[:16]


    def script_roots(self, path: str | Path) -> set[tuple[str, str]]:
        """The nnqft names a rule script refers to (what it uses of the nnqft modules it imports)."""
        text = Path(path).read_text()
        tree = ast.parse(text)
        script = parse_module("<script>", text, set(self.modules))
        return {ref for ref in _references(script, [tree]) if ref[0] != "<script>"}

