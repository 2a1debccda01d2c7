"""The code digests of the rules (nnqft.workflow.codedeps): a digest changes exactly when code its rule can reach
does, in a package of subpackages."""
import textwrap

import pytest

from helpers import ROOT
from nnqft.analysis import registry
from nnqft.workflow import codedeps

MODULES = {
    "__init__": '''
        """Package docstring."""
        VERSION = 1
    ''',
    "helpers": '''
        """Helpers."""
        SCALE = 2.0
        TABLE = {}
        for k in range(3):
            TABLE[k] = k * SCALE


        def double(x):
            return SCALE * x


        def unused(x):
            return x
    ''',
    "physics": '''
        from functools import lru_cache

        from . import helpers
        from .helpers import double


        @lru_cache(maxsize=None)
        def energy(x):
            return double(x) + 1


        def mass(x):
            return helpers.TABLE[x]


        def everything(name):
            return getattr(helpers, name)


        def lonely():
            return 0
    ''',
    "plots": '''
        import math

        from nnqft import physics
        from . import VERSION

        COLORS = {2: "blue"}


        def _style(ax):
            return COLORS[2]


        def fig_a():
            return _style(None), physics.energy(1)


        def fig_b():
            return _style(None), VERSION


        def fig_c():
            return math.pi
    ''',
    # a subpackage, reached from above and reaching up two levels
    "sub/__init__": '''
        """A subpackage that re-exports one name of a submodule."""
        from .deep import deep_value
    ''',
    "sub/deep": '''
        from .. import helpers
        from ..physics import mass

        OFFSET = 1.0


        def deep_value(x):
            return helpers.double(x) + OFFSET


        def deep_mass(x):
            return mass(x)
    ''',
    "sub/inner/__init__": '''
    ''',
    "sub/inner/leaf": '''
        from ... import VERSION
        from ..deep import OFFSET


        def leaf():
            return VERSION + OFFSET
    ''',
    "views": '''
        import nnqft.sub.deep
        from nnqft import sub
        from . import sub as package


        def by_chain():
            return sub.deep.deep_mass(1)


        def by_full_chain():
            return nnqft.sub.deep.OFFSET


        def by_reexport():
            return package.deep_value(2)


        def leafy():
            from .sub.inner import leaf
            return leaf.leaf()
    ''',
}


def write_package(root, modules):
    pkg = root / "nnqft"
    pkg.mkdir(parents=True, exist_ok=True)
    for name, text in modules.items():
        path = pkg / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return pkg


def edited(tmp_path, module, old, new):
    """Digest function for the package with one edit applied (and the unedited one)."""
    before = codedeps.Package(write_package(tmp_path / "before", MODULES))
    text = MODULES[module]
    assert old in text, old
    after = codedeps.Package(write_package(tmp_path / "after", {**MODULES, module: text.replace(old, new)}))
    assert before.names == after.names == {m.replace("/__init__", "").replace("/", ".") for m in MODULES}
    return lambda *roots: before.digest(roots) != after.digest(roots)


ROOTS = ["plots.fig_a", "plots.fig_b", "plots.fig_c", "physics.energy", "physics.mass", "physics.lonely",
         "views.by_chain", "views.by_full_chain", "views.by_reexport", "views.leafy", "sub.inner.leaf.leaf"]


@pytest.mark.parametrize("module, old, new, changed", [
    # a helper of the same module: the figures that call it, no other
    ("plots", 'return COLORS[2]', 'return COLORS[2] + "!"', {"plots.fig_a", "plots.fig_b"}),
    # a constant read by that helper
    ("plots", 'COLORS = {2: "blue"}', 'COLORS = {2: "red"}', {"plots.fig_a", "plots.fig_b"}),
    # a function of another module, reached through `from .helpers import double`, two modules away, and from a
    # subpackage through `from .. import helpers` (re-exported by the subpackage's __init__)
    ("helpers", "return SCALE * x", "return SCALE * x * 1.0", {"plots.fig_a", "physics.energy", "views.by_reexport"}),
    # a constant read by it, and by the module-level loop that fills TABLE (so by mass too, and by what calls mass
    # through `from ..physics import mass` in the subpackage and the chain sub.deep.deep_mass)
    ("helpers", "SCALE = 2.0", "SCALE = 3.0", {"plots.fig_a", "physics.energy", "physics.mass", "views.by_reexport",
                                               "views.by_chain"}),
    # a name of the package's __init__, also reached three levels down by `from ... import VERSION`
    ("__init__", "VERSION = 1", "VERSION = 2", {"plots.fig_b", "views.leafy", "sub.inner.leaf.leaf"}),
    # a constant of the subpackage: by the full chain nnqft.sub.deep.OFFSET, by `from ..deep import OFFSET`, and
    # through the re-exported function that reads it
    ("sub/deep", "OFFSET = 1.0", "OFFSET = 2.0", {"views.by_full_chain", "views.by_reexport", "views.leafy",
                                                  "sub.inner.leaf.leaf"}),
    # a decorator is part of its function
    ("physics", "@lru_cache(maxsize=None)", "@lru_cache(maxsize=8)", {"plots.fig_a", "physics.energy"}),
    # code nothing reaches
    ("helpers", "return x\n", "return -x\n", set()),
    ("physics", "return 0", "return 1", {"physics.lonely"}),
    # docstrings of modules are not code
    ("helpers", '"""Helpers."""', '"""Helper functions."""', set()),
])
def test_an_edit_changes_the_digests_of_what_reaches_it_and_no_other(tmp_path, module, old, new, changed):
    differs = edited(tmp_path, module, old, new)
    assert {root for root in ROOTS if differs(root)} == changed


def test_a_bare_module_reference_depends_on_the_whole_module(tmp_path):
    differs = edited(tmp_path, "helpers", "return x\n", "return -x\n")
    assert differs("physics.everything")  # getattr(helpers, name) can reach `unused`


def test_script_roots_follow_the_names_a_script_uses(tmp_path):
    pkg = codedeps.Package(write_package(tmp_path, MODULES))
    script = tmp_path / "rule_script.py"
    script.write_text("from nnqft import plots, physics\nimport numpy as np\n\nplots.fig_a()\nphysics.mass(1)\n")
    assert pkg.script_roots(script) == {("plots", "fig_a"), ("physics", "mass")}
    assert ("physics", "energy") in pkg.closure(pkg.script_roots(script))  # through fig_a
    assert ("plots", "fig_b") not in pkg.closure(pkg.script_roots(script))


# The rules of the real workflow (workflow/rules/*.smk call code_digest with these scripts and roots).
REAL = codedeps.Package()


def modules_reached(script, *roots):
    return {module for module, _ in REAL.closure([*REAL.script_roots(ROOT / "scripts" / script), *roots])}


def test_a_name_it_cannot_resolve_is_an_error_not_a_smaller_digest(tmp_path):
    """Leaving a reference out would leave code out of a digest (too little): a name that no module defines, used
    through an imported module, stops the digest instead."""
    pkg = codedeps.Package(write_package(tmp_path, {**MODULES, "typo": "from . import helpers\n\n\n"
                                                                         "def f():\n    return helpers.doubel(1)\n"}))
    with pytest.raises(LookupError, match="doubel"):
        pkg.digest(["typo.f"])


def test_sampling_reaches_the_kernels_and_not_the_analysis():
    reached = modules_reached("sample_bags.py")
    assert {"sampling.kernel", "sampling.conditional", "sampling.streams", "sampling.fastmath", "combos",
            "sampling.bags", "workflow.tables", "model"} <= reached
    assert not {m for m in reached if m.startswith(("theory", "analysis"))}


def test_each_analysis_step_reaches_the_theory_it_uses_and_not_the_other_steps():
    """Through nnqft.theory.of, whose imports of the theories are inside it, to the exact theory and its
    combinatorics; the depth step reaches the 1/N theory and not HMS's cutoff integrals."""
    def reached(step):
        closure = REAL.closure([*REAL.script_roots(ROOT / "scripts" / "analysis_table.py"), f"analysis.steps.{step}"])
        return {module for module, _ in closure}

    deviations = reached("deviations")
    assert {"analysis.deviations", "theory", "theory.exact", "theory.partitions", "theory.neurons", "theory.cones",
            "theory.linear", "theory.deep", "combos", "workflow.tables"} <= deviations
    assert not {"theory.cutoff", "theory.couplings", "analysis.depth", "analysis.flow"} & deviations
    assert {"analysis.hms", "theory.cutoff"} <= reached("hms_lambda")
    depth = reached("depth_running")
    assert {"analysis.depth", "theory.deep"} <= depth and "theory.cutoff" not in depth


def test_each_figure_reaches_its_own_function_and_helpers_only():
    closures = {spec.name: REAL.closure([*REAL.script_roots(ROOT / "scripts" / "plot_figure.py"),
                                         f"analysis.{spec.function}"]) for spec in registry.FIGURES}
    figures, style = "analysis.figures", "analysis.style"
    assert (style, "subtitle") in closures["u4_vs_N"]
    assert (figures, "histograms") not in closures["u4_vs_N"]
    assert (style, "plain_log_x") in closures["u4_vs_sigma"]
    assert (style, "plain_log_x") not in closures["histograms"]
    assert ("analysis.depth", "depth_running") in closures["depth_running"]
    assert (figures, "falloff") not in closures["depth_running"]
    assert len({REAL.digest([tuple(("analysis." + spec.function).rsplit(".", 1))]) for spec in registry.FIGURES}) == len(
        {spec.function for spec in registry.FIGURES})


def test_the_cached_digests_are_the_package_s_and_follow_every_edit(tmp_path, monkeypatch):
    """codedeps.CachedDigests, the rules' code params remembered across Snakemake invocations: on a cold cache each
    digest is Package.digest of the script's roots and the extra roots; a second instance answers from the cache file
    without parsing the package; after an edit of any module (one no rule reaches included) the cache is not used, and
    the digest of a rule that reaches the edit changes; an unwritable cache is ignored."""
    package = write_package(tmp_path / "pkg", MODULES)
    script = tmp_path / "script.py"
    script.write_text("from nnqft import physics\n\nphysics.energy(1)\n")
    cache = tmp_path / "cache" / "code-digests.json"
    fresh = codedeps.Package(package)
    expected = fresh.digest([*fresh.script_roots(script), "helpers.unused"])
    assert codedeps.CachedDigests(package, cache).digest(script, ["helpers.unused"]) == expected
    assert cache.exists()

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed the package although the cache holds the digest")

    with monkeypatch.context() as m:
        m.setattr(codedeps, "Package", no_parse)
        assert codedeps.CachedDigests(package, cache).digest(script, ["helpers.unused"]) == expected
    for module, old, new in (("helpers", "return SCALE * x", "return SCALE * x + 0"),
                             ("helpers", "return x", "return -x")):  # the second: reached by the root only
        (package / f"{module}.py").write_text((package / f"{module}.py").read_text().replace(old, new))
        edited = codedeps.Package(package)
        now = edited.digest([*edited.script_roots(script), "helpers.unused"])
        assert now != expected and codedeps.CachedDigests(package, cache).digest(script, ["helpers.unused"]) == now
        expected = now
    # a new module no rule reaches: the cache is not read (the package is parsed again)
    (package / "unrelated.py").write_text("X = 1\n")
    with monkeypatch.context() as m:
        m.setattr(codedeps, "Package", no_parse)
        with pytest.raises(AssertionError, match="parsed the package"):
            codedeps.CachedDigests(package, cache).digest(script, ["helpers.unused"])
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert codedeps.CachedDigests(package, blocked / "code-digests.json").digest(script, ["helpers.unused"]) == expected


def test_the_real_rules_cached_digests_are_the_package_s(tmp_path):
    """Every rule script of scripts/ with each analysis step and figure root the rules add: the cached digest is the
    one the package gives."""
    cached = codedeps.CachedDigests(cache=tmp_path / "code-digests.json")
    for script in sorted((ROOT / "scripts").glob("*.py")):
        roots = [f"analysis.steps.{s.name}" for s in registry.TABLES] if script.name == "analysis_table.py" else [""]
        for root in roots:
            extra = [root] if root else []
            assert cached.digest(script, extra) == REAL.digest([*REAL.script_roots(script), *extra]), (script, root)
