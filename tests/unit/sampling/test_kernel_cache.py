"""numba's cache of the kernels, named by the digest of their sources (nnqft.sampling.kernel_cache): an edit of a
block that a cached kernel inlines reaches the kernel, where numba alone, which checks a function against its own
file only, kept running the old machine code."""
from __future__ import annotations

import ast
import importlib
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from nnqft.sampling import kernel_cache

PACKAGE = kernel_cache.PACKAGE
SAMPLING = PACKAGE / "sampling"
COMPILING = sorted(p for p in SAMPLING.glob("*.py") if "cache=True" in p.read_text() and p.stem != "kernel_cache")


def test_the_compiling_modules_are_the_ones_the_digest_covers_and_each_names_the_folder_first():
    """Each module that compiles with cache=True imports kernel_cache at module level (before its decorators run),
    and every module of the package it imports at module level, whose constants its compiled code may freeze, is
    among the digest's SOURCES."""
    assert len(COMPILING) >= 9, COMPILING
    covered = {p for pattern in kernel_cache.SOURCES for p in PACKAGE.glob(pattern)}
    for path in COMPILING:
        tree = ast.parse(path.read_text())
        imported = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level:
                base = (SAMPLING if node.level == 1 else PACKAGE).joinpath(*(node.module or "").split("."))
                for alias in node.names:
                    module = base / f"{alias.name}.py"
                    imported.add(module if module.exists() else base.with_suffix(".py") if node.module
                                 else base / "__init__.py")
        assert SAMPLING / "kernel_cache.py" in imported, f"{path.name} does not import kernel_cache"
        assert imported <= covered, f"{path.name} imports {sorted(map(str, imported - covered))}, not in SOURCES"


def test_every_cached_function_of_the_package_keeps_its_code_in_the_digest_folder():
    folder = kernel_cache.FOLDER
    assert folder == kernel_cache.folder() and folder.name.endswith(kernel_cache.source_digest())
    dispatchers = 0
    for path in COMPILING:
        module = importlib.import_module(f"nnqft.sampling.{path.stem}")
        for value in vars(module).values():
            cache = getattr(value, "_cache", None)
            if isinstance(value, numba.core.registry.CPUDispatcher) and hasattr(cache, "_cache_path"):
                assert Path(cache._cache_path).is_relative_to(folder), (path.stem, value, cache._cache_path)
                dispatchers += 1
    assert dispatchers > 50


def test_no_sampling_rule_s_code_digest_reaches_the_cache_folder():
    """Where the machine code is cached changes no number: an edit of kernel_cache (or a statement calling it at a
    kernel module's top, which would belong to every definition of that module) must not draw every sample again."""
    from nnqft.workflow import codedeps

    package = codedeps.Package(PACKAGE)
    for script, kernel in (("sample_bags.py", "sampling.kernel"), ("sample_trained.py", "sampling.integrator"),
                           ("sample_outputs.py", "sampling.deep")):
        reached = {module for module, _ in package.closure(package.script_roots(PACKAGE.parent / script))}
        assert kernel in reached and "sampling.kernel_cache" not in reached, script


def test_the_folder_follows_numba_cache_dir_and_falls_back_when_the_package_is_read_only(tmp_path, monkeypatch):
    digest = kernel_cache.source_digest()
    assert kernel_cache.folder(environ={"NUMBA_CACHE_DIR": str(tmp_path)}) == tmp_path / f"nnqft-{digest}"
    assert kernel_cache.folder(environ={}) == PACKAGE / "__pycache__" / f"numba-{digest}"
    monkeypatch.setattr(kernel_cache.os, "access", lambda path, mode: False)
    assert kernel_cache.folder(environ={"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "nnqft" / f"numba-{digest}"


# GaussNet's φ(5) = e^5 through blocks.activations_and_slopes, which inlines fastmath.fast_exp
GAUSS_AT_5 = """
import numpy as np
from nnqft.model import ACTIVATIONS
from nnqft.sampling import blocks
phi, dphi = np.array([5.0]), np.empty(1)
blocks.activations_and_slopes(ACTIVATIONS["gauss"], 0.0, 1, phi, dphi)
print(repr(float(phi[0])))
"""
# the edit: fast_exp clamps its argument at 1 instead of 709, so that φ(5) = e
CLAMP = ("_EXP_MIN, _EXP_MAX = -708.0, 709.0", "_EXP_MIN, _EXP_MAX = -708.0, 1.0")


class PackageCopy:
    """A copy of the package under ``tmp_path``, run in new processes with a numba cache of its own; ``edit``
    replaces a text in one of its files (``sampling/<name>.py``)."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path / "package" / "nnqft"
        shutil.copytree(PACKAGE, self.dir, ignore=shutil.ignore_patterns("__pycache__"))
        self.env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(self.dir.parent)}

    def edit(self, module: str, old: str, new: str) -> None:
        path = self.dir / "sampling" / f"{module}.py"
        assert old in path.read_text(), (module, old)
        path.write_text(path.read_text().replace(old, new, 1))

    def run(self, code: str) -> str:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=self.env)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


def edit_and_rerun(tmp_path: Path, protection: bool) -> tuple[float, float]:
    """φ(5) from a copy of the package with a cache of its own, before and after the edit of fastmath (each in a new
    process, the second with the cache the first left); without the ``protection``, the copy's cache folder is one
    fixed name, as numba's own cache was."""
    copy = PackageCopy(tmp_path)
    if not protection:
        copy.edit("kernel_cache", "digest = source_digest(package)\n", "digest = 'fixed'\n")
    before = float(copy.run(GAUSS_AT_5))
    copy.edit("fastmath", *CLAMP)
    return before, float(copy.run(GAUSS_AT_5))


@pytest.mark.parametrize("protection", [True, False], ids=["digest folder", "protection removed: one folder"])
def test_an_edit_of_an_inlined_block_reaches_the_cached_function_that_inlines_it(tmp_path, protection):
    """With the folder named by the digest, the edited fastmath gives φ(5) = e; with one fixed folder (numba's own
    behaviour), the second process loads the machine code compiled before the edit and prints e^5 again."""
    before, after = edit_and_rerun(tmp_path, protection)
    assert before == pytest.approx(math.exp(5.0), rel=1e-14)
    assert after == pytest.approx(math.e if protection else math.exp(5.0), rel=1e-14)

