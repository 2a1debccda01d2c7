"""What a rule's output depends on in the nnqft package, as a digest that changes when that code does.

Snakemake reruns a rule when one of its params changes. Each rule carries, as its ``code`` param, the
digest of the source of every top-level definition of ``nnqft`` that its script can reach: the
functions it calls, the functions those call, the constants and classes they read, across modules,
transitively. Editing a helper therefore reruns exactly the rules whose outputs can depend on it.

The package is read with :mod:`ast`, never imported, so that parsing the Snakefile (done again by every
cluster job) does not import numba, scipy or matplotlib.

Modules are found recursively (``nnqft/sampling/kernel.py`` is the module ``sampling.kernel``, a package's
``__init__`` is named by the package, nnqft's own by ``__init__``). Resolution is by name and deliberately
conservative (it may include too much, never too little):

- a name used in a definition that is a top-level name of the same module is a dependency;
- ``mod.attr``, where ``mod`` is an nnqft module or package imported anywhere in the module (``from . import
  mod``, ``from .. import mod``, ``from nnqft.pkg import mod``, ``import nnqft.pkg.mod``), depends on ``attr`` of
  that module; an attribute chain follows the submodules it names (``pkg.mod.attr``, ``nnqft.pkg.mod.attr``);
  a bare use of a module (passed around, ``getattr``) depends on the whole module;
- ``from .mod import name`` (or ``..pkg.mod``, at any level) makes ``name`` a dependency on ``mod.name``, and a
  name a package's ``__init__`` imports from a submodule is followed there;
- top-level statements that define nothing (``matplotlib.use("Agg")``, a loop filling a table) belong to
  every definition of their module; the module docstring belongs to none.

A dispatch by name (``globals()[name]``) is invisible to this: such a rule adds the target as an
explicit root (see the figure rules).
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "nnqft"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
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


def _join(package: str, name: str) -> str:
    """The dotted name of ``name`` inside ``package`` ("" is nnqft itself)."""
    return f"{package}.{name}" if package else name


def _module_of(package: str) -> str:
    """The module name of a package's ``__init__``: the package's dotted name, or INIT for nnqft itself."""
    return package or INIT


def _package_path(module: str) -> str:
    """The dotted package name that a module name stands for as a package ("" for nnqft's INIT)."""
    return "" if module == INIT else module


def _resolve_from(module: str, level: int, package: str) -> str | None:
    """The nnqft package or module path named by ``from <level dots><module> import ...`` in a module of package
    ``package`` ("" is nnqft); None if outside nnqft."""
    if level == 0:
        if module == PACKAGE:
            return ""
        if module.startswith(PACKAGE + "."):
            return module[len(PACKAGE) + 1 :]
        return None
    base = package
    for _ in range(level - 1):
        if not base:
            return None  # above nnqft
        base = base.rpartition(".")[0]
    return _join(base, module) if module else base


def parse_module(name: str, text: str, modules: set[str], package: str = "") -> Module:
    """Parse one module's text; ``modules`` are the names of every module of the package (dotted, a package's
    ``__init__`` by the package's name, nnqft's own as INIT), ``package`` the dotted package the module is in."""
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
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    if alias.asname:  # import nnqft.a.b as x: x is nnqft.a.b
                        mod.module_aliases[alias.asname] = _module_of(alias.name[len(PACKAGE) + 1 :])
                    else:  # import nnqft.a.b: used as nnqft.a.b.attr
                        mod.module_aliases[PACKAGE] = INIT
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(node.module or "", node.level, package)
            if source is None:
                continue
            for alias in node.names:
                local = alias.asname or alias.name
                if _join(source, alias.name) in modules:  # from nnqft import exact, from .. import theory
                    mod.module_aliases[local] = _join(source, alias.name)
                else:
                    mod.symbol_aliases[local] = (_module_of(source), alias.name)
    return mod


def _chain(node: ast.Attribute) -> tuple[ast.Name, list[str]] | None:
    """The base name and the attributes of ``a.b.c`` (None unless the chain starts at a name)."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    return (node, attrs[::-1]) if isinstance(node, ast.Name) else None


def _references(mod: Module, nodes: list[ast.AST], modules: set[str]) -> set[tuple[str, str]]:
    """The (module, name) pairs that ``nodes`` of ``mod`` refer to; ``modules`` as for :func:`parse_module`. An
    attribute chain on an imported module (``sampling.kernel.CHUNK``) follows the submodules it names down to the
    first attribute that is not one."""
    refs: set[tuple[str, str]] = set()
    handled: set[int] = set()
    for root in nodes:
        for node in ast.walk(root):
            if not isinstance(node, ast.Attribute) or id(node) in handled:
                continue
            chain = _chain(node)
            if chain is None or chain[0].id not in mod.module_aliases:
                continue
            base, attrs = chain
            inner = node
            while isinstance(inner, ast.Attribute):  # the shorter chains inside this one are this one
                handled.add(id(inner))
                inner = inner.value
            handled.add(id(base))
            path = _package_path(mod.module_aliases[base.id])
            for attr in attrs:
                if _join(path, attr) in modules:
                    path = _join(path, attr)
                    continue
                refs.add((_module_of(path), attr))
                break
            else:  # the chain names a module, used bare
                refs.add((_module_of(path), WHOLE_MODULE))
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Name) and id(node) not in handled:
                if node.id in mod.module_aliases:
                    refs.add((mod.module_aliases[node.id], WHOLE_MODULE))
                elif node.id in mod.symbol_aliases:
                    refs.add(mod.symbol_aliases[node.id])
                elif node.id in mod.sources:
                    refs.add((mod.name, node.id))
    return refs


def module_files(package_dir: Path) -> dict[str, tuple[Path, str]]:
    """The package's modules: dotted module name -> (path, the package it is in), in path order."""
    files = {}
    for path in sorted(Path(package_dir).rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if any(not part.isidentifier() for part in parts):
            continue  # not importable (e.g. a cache folder)
        if parts[-1] == INIT:
            package = ".".join(parts[:-1])
            files[_module_of(package)] = (path, package)
        else:
            files[".".join(parts)] = (path, ".".join(parts[:-1]))
    return files


class Package:
    """The parsed modules of the nnqft package in ``package_dir`` (default: this package)."""

    def __init__(self, package_dir: str | Path | None = None):
        self.dir = Path(package_dir) if package_dir is not None else PACKAGE_DIR
        files = module_files(self.dir)
        self.names = set(files)
        self.modules = {name: parse_module(name, path.read_text(), self.names, package)
                        for name, (path, package) in files.items()}
        self._refs: dict[tuple[str, str], set[tuple[str, str]]] = {}  # what each definition refers to, found once

    def references(self, module: str, name: str) -> set[tuple[str, str]]:
        """What the definition ``name`` of ``module`` refers to (:func:`_references`), computed once per Package:
        the Snakefile asks for a digest per rule, and their closures share most definitions."""
        key = (module, name)
        if key not in self._refs:
            mod = self.modules[module]
            self._refs[key] = _references(mod, mod.nodes[name], self.names)
        return self._refs[key]

    def _expand(self, module: str, name: str) -> list[tuple[str, str]]:
        """A reference made concrete: a name of a module, or all of a module."""
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
        if _join(_package_path(module), name) in self.modules:  # a package's submodule, as package.sub
            return self._expand(_join(_package_path(module), name), WHOLE_MODULE)
        if name.startswith("__"):  # a module's own attribute (__file__, __name__): no code
            return []
        raise LookupError(f"codedeps: {PACKAGE}.{module} has no top-level name {name!r} (a reference it cannot "
                          f"resolve would leave code out of a digest)")

    def closure(self, roots) -> set[tuple[str, str]]:
        """Every (module, name) reachable from ``roots`` ("module.name" or "module" strings, or pairs)."""
        todo: list[tuple[str, str]] = []
        for root in roots:
            if isinstance(root, str):  # "pkg.module.name", or a module's dotted name for all of it
                module, _, name = root.rpartition(".")
                root = (root, WHOLE_MODULE) if root in self.modules else (module or INIT, name)
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
            for ref in self.references(module, name):
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
        script = parse_module("<script>", text, self.names)
        return {ref for ref in _references(script, [tree], self.names) if ref[0] != "<script>"}


class CachedDigests:
    """The code params of the rules (:meth:`Package.digest` of what a rule script reaches, plus roots it reaches by
    name), remembered across Snakemake invocations in ``nnqft/__pycache__/code-digests.json`` beside the package.

    A digest is a function of the package's sources, the script's text and the roots, so it is stored under the sha256
    of all three and is never stale: an edit anywhere in the package changes the key of every digest. The package is
    parsed (0.5 s of the 2 s of a dry run of the quick config, and of every cluster job's parse of the Snakefile) only
    when a digest is missing. A cache that cannot be read or written is ignored."""

    def __init__(self, package_dir: str | Path | None = None, cache: str | Path | None = None):
        self.dir = Path(package_dir) if package_dir is not None else PACKAGE_DIR
        self.cache = Path(cache) if cache is not None else self.dir / "__pycache__" / "code-digests.json"
        h = hashlib.sha256()
        for name, (path, _) in module_files(self.dir).items():
            h.update(f"{name}\n".encode())
            h.update(path.read_bytes())
        self.sources = h.hexdigest()
        self._package: Package | None = None
        try:
            stored = json.loads(self.cache.read_text())
            self._digests = stored["digests"] if stored.get("sources") == self.sources else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self._digests = {}

    def package(self) -> Package:
        """The parsed package, parsed on first use."""
        if self._package is None:
            self._package = Package(self.dir)
        return self._package

    def digest(self, script: str | Path, roots=()) -> str:
        """The digest of everything the rule script at ``script`` reaches, and ``roots`` ("module.name")."""
        key = hashlib.sha256(Path(script).read_bytes()).hexdigest() + " " + " ".join(roots)
        if key not in self._digests:
            package = self.package()
            self._digests[key] = package.digest([*package.script_roots(script), *roots])
            self._store()
        return self._digests[key]

    def _store(self) -> None:
        partial = self.cache.with_name(f"{self.cache.name}.{os.getpid()}.partial")
        try:
            self.cache.parent.mkdir(exist_ok=True)
            partial.write_text(json.dumps({"sources": self.sources, "digests": self._digests}))
            os.replace(partial, self.cache)  # atomic: runs side by side read a whole file or none
        except OSError:
            pass
