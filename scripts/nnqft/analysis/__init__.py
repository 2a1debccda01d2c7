"""Analysis: from the gathered correlators to the tables, the papers' claims and the figures.

- ``registry``    the analyses an experiment may ask for, the tables and figures they make, listed once (light: the
                  Snakefile reads it at parse time)
- ``steps``       one function per analysis step (``registry.TABLES``): tables in, tables out
- ``stats``       jackknife errors, log-log fits, the folded normal
- ``deviations``  deviations from the Gaussian process beside the exact theory, error-bar checks, HMS's falloff
                  (docs/science.md §2, §5, §8)
- ``flow``        the couplings u_4, u_6, their running with σ_W (the flow fit) and the passive flow (§3, §4)
- ``hms``         HMS's quartic coupling λ vs the cutoff, its conventions, and the 6-point prediction (§8)
- ``verdicts``    the verdict words, the t quantile, the fits and the agreement test every claim shares
- ``claims``      the papers' claims with calibrated verdicts
- ``depth``       the running of N G_c^(4)/G^(2)² with depth (docs/science.md §10), its claims and its figure
- ``training``    trained ensembles against the NTK theory and the power of N of their deviations (§11): table,
                  claims, figure
- ``outputs``     networks of several outputs against their exact theory (§12): table, claims, figure
- ``style``       the figures' colours, markers, ticks and panel helpers
- ``figures``     the figures of one hidden layer

The entry points, tables -> analysis: :func:`compute` (one step of ``registry.TABLES``), :func:`claims_table` and
:func:`draw` (one figure of ``registry.FIGURES``), imported on first use: importing this package imports no pandas
or matplotlib (the Snakefile reads ``registry`` at parse time).
"""


def __getattr__(name):
    """The entry points of the analysis modules, imported on first use."""
    from importlib import import_module

    where = {"compute": "steps", "claims_table": "claims", "draw": "registry"}
    if name in where:
        return getattr(import_module(f"{__name__}.{where[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
