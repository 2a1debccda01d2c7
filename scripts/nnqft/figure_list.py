"""The figures of the reproduction, listed once: the rules (one ``plot_<name>`` rule each, with its report
caption ``workflow/report/<name>.rst``), the plotting script and the report all read this list.

Importing it imports nothing heavy (no matplotlib), so the Snakefile can read it at parse time.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One figure: ``results/figures/<name>.{pdf,png}``, drawn by ``nnqft.figures.<function>`` from the
    analysis tables ``results/tables/<table>.parquet`` (passed in this order), keyword ``options``, and
    ``experiment=<experiment>`` when the figure draws one experiment of the config (None: all of them).
    A config without that experiment does not get the figure; nor one where that experiment (None: every
    experiment) lacks ``analysis`` (an entry of nnqft.design.ANALYSES) in its ``analyses``."""

    name: str
    function: str
    tables: tuple[str, ...]
    experiment: str | None
    options: tuple[tuple[str, object], ...] = ()
    analysis: str | None = None
    orders: tuple[int, ...] = (2,)  # the correlator orders it draws from: a config without one of them lacks it

    @property
    def needs_couplings(self) -> bool:
        """Drawn from the couplings, which GaussNet experiments alone have (nnqft.analysis.COUPLINGS_SKIPPED)."""
        return bool(set(self.tables) & COUPLING_TABLES)

    def kwargs(self) -> dict:
        extra = {} if self.experiment is None else {"experiment": self.experiment}
        return {**extra, **dict(self.options)}


#: Tables with rows for GaussNet experiments only.
COUPLING_TABLES = {"couplings", "coupling_means", "flow_fit", "passive_flow"}

#: The paper's width scan (Fig. 1, the mean-value plots, u_4 vs N) and sigma_w scan (Fig. 2, the flow), and
#: the sigma_w scan with the conditional estimator (docs/science.md §9), drawn beside Fig. 2.
WIDTH_SCAN, SIGMA_SCAN, SIGMA_SCAN_CONDITIONAL = "width_scan", "sigma_scan", "sigma_scan_conditional"

FIGURES = (
    Figure("histograms", "histograms", ("deviations",), WIDTH_SCAN, orders=(2, 4)),
    Figure("mean_deviation_vs_N", "mean_deviation_vs_N", ("deviations",), WIDTH_SCAN),
    Figure("u4_vs_N", "u4_vs_N", ("coupling_means",), WIDTH_SCAN, orders=(4,)),
    Figure("u4_vs_sigma", "coupling_vs_sigma", ("coupling_means", "flow_fit"), SIGMA_SCAN, (("order", 4),),
           "flow_fit", (4,)),
    Figure("u6_vs_sigma", "coupling_vs_sigma", ("coupling_means", "flow_fit"), SIGMA_SCAN, (("order", 6),),
           "flow_fit", (4, 6)),
    Figure("u4_vs_sigma_conditional", "coupling_vs_sigma", ("coupling_means", "flow_fit"), SIGMA_SCAN_CONDITIONAL,
           (("order", 4),), "flow_fit", (4,)),
    Figure("passive_flow", "passive_flow", ("passive_flow", "coupling_means"), SIGMA_SCAN, analysis="passive_flow",
           orders=(4, 6)),
    Figure("validation", "validation", ("deviations",), None),
    Figure("falloff", "falloff", ("hms_falloff",), None, analysis="falloff"),
    Figure("lambda_running", "lambda_running", ("hms_lambda", "hms_lambda_slope"), None, analysis="lambda_running",
           orders=(4,)),
    Figure("six_point", "six_point", ("hms_six_point",), None, analysis="six_point", orders=(4, 6)),
    Figure("u4_exponent_vs_d_in", "exponent_vs_d_in", ("flow_fit",), None, (("order", 4),), "flow_fit", (4,)),
)


def figure(name: str) -> Figure:
    """The figure called ``name``."""
    for spec in FIGURES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown figure {name!r}; known: {', '.join(f.name for f in FIGURES)}")


def names(experiments=None, orders=(2, 4, 6)) -> list[str]:
    """Names of the figures; with ``experiments`` (the config's), only those it has the experiment for,
    of the figures drawn from couplings only those whose experiment is a GaussNet one, and of those that need an
    analysis only those whose experiment (or, drawing all, some experiment) asks for it; and only those whose
    correlator orders are among the config's ``orders``."""
    def drawn(spec):
        if not set(spec.orders) <= set(orders):
            return False
        if experiments is None:
            return True
        if spec.experiment is None:
            return spec.analysis is None or any(spec.analysis in exp.get("analyses", []) for exp in experiments.values())
        exp = experiments.get(spec.experiment)
        return (exp is not None and (not spec.needs_couplings or exp.get("activation", "gauss") == "gauss")
                and (spec.analysis is None or spec.analysis in exp.get("analyses", [])))

    return [spec.name for spec in FIGURES if drawn(spec)]
