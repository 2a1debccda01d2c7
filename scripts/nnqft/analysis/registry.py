"""The analyses an experiment may ask for, the tables they compute and the figures they draw, each listed once: the
config checks, the rules (one ``analyse_<step>`` rule per entry of :data:`TABLES`, one ``plot_<name>`` rule per figure
with its report caption ``workflow/report/<name>.rst``), the scripts, the claims and the report all read these lists.

Figures follow the experiments' ``analyses``, never their names: a figure of one experiment is drawn for every
experiment that asks for its analyses, under ``results/figures/{experiment}/<name>``; a figure across experiments
(:attr:`Figure.per_experiment` False) once, under ``results/figures/<name>``, from every experiment that asks.
Importing this module imports nothing heavy (no numpy, no matplotlib), so the Snakefile reads it at parse time.
"""
from __future__ import annotations

from dataclasses import dataclass

#: What an experiment may ask for in its ``analyses`` list (the config schema lists the same names). Deviations and
#: couplings are computed for every experiment; these are the analyses and claims on top of them.
ANALYSES = {
    "falloff": "HMS's falloff of <|m_n|> with N (results/tables/hms_falloff.parquet, the falloff figure), the "
               "histograms and mean deviation of m_n over N, and the claims m_2 ≈ 0 and m_n ~ 1/N for the measured "
               "n > 2",
    "u4_negative": "the claim that u_4 is negative and nearly constant over combinations, and the u4_vs_N figure",
    "u6_positive": "the claim that u_6 is positive (and, with flow_fit, the u6_vs_sigma figure)",
    "flow_fit": "the exponent of |<u_n>| vs sigma_w at each N (results/tables/flow_fit.parquet), its figures and "
                "claims",
    "passive_flow": "the passive flow of (u_4, u_6) from the smallest sigma_w (results/tables/passive_flow.parquet, "
                    "its figure); one experiment at most",
    "lambda_running": "HMS's quartic coupling lambda vs the cutoff (results/tables/hms_lambda.parquet, "
                      "hms_lambda_slope.parquet, the lambda_running figure) and the claim that it runs with the "
                      "power derived from the kernel at the experiment's ngp_width",
    "six_point": "HMS's 6-point prediction with and without lambda (results/tables/hms_six_point.parquet, the "
                 "six_point figure) and the claim that lambda brings it closer to the measurement at ngp_width",
    "depth_running": "N G_c^(4) / G^(2)^2 against the depth L and L/N, measured beside the 1/N theory and the exact "
                     "one where it exists (results/tables/depth_running.parquet, the depth_running figure), across the "
                     "experiments of one activation, point set and (sigma_b, sigma_w) at several depths; the claims "
                     "that it grows linearly with L and that m_2 = K1/(N K) at depth > 1",
    "training": "a trained ensemble's mean, covariance and fourth cumulant against the flow time τ at every N, beside "
                "the infinite-width theory of the neural tangent kernel, and N (measured − theory) against N "
                "(results/tables/training.parquet, training_fit.parquet, the training figure); the claims that the "
                "ensemble at τ = 0 is the untrained one and that the mean and covariance approach the theory as 1/N",
    "outputs": "networks of several outputs (d_out > 1) against their theory: every (point, output) correlator "
               "and the connected 4-point functions of one output and of two (results/tables/outputs.parquet), HMS's "
               "falloff per output structure (results/tables/outputs_falloff.parquet), the outputs figure, and the "
               "claims that the outputs are uncorrelated, that the cross-output connected "
               "4-point function is V/N, and that the same-output one is 3 times it at one point",
}

#: The analyses (and the analysis steps of :data:`TABLES`, named alike or after them) of another kind of experiment than
#: the untrained one-output ones (:data:`nnqft.model.KINDS`): each reads only the correlators of its kind.
KIND_OF = {"training": "trained", "outputs": "outputs", "outputs_falloff": "outputs"}


def kind_of(exp) -> str:
    """The kind of an experiment (:attr:`nnqft.model.Ensemble.kind`; "untrained" for anything without one)."""
    return getattr(exp, "kind", "untrained")


def analysis_kind(name: str) -> str:
    """The kind of experiment an analysis, or an analysis step, is made for."""
    return KIND_OF.get(name, "untrained")

#: The analyses of networks of more than one hidden layer (the others need the exact one-hidden-layer theory).
DEEP_ANALYSES = ("falloff", "depth_running", "outputs")

#: The analyses of the couplings u_n, which are GaussNet's only (nnqft.analysis.flow.COUPLINGS_SKIPPED).
COUPLING_ANALYSES = ("u4_negative", "u6_positive", "flow_fit", "passive_flow")

#: The correlator orders each analysis reads (besides order 2, which every config measures): falloff takes
#: whichever orders are measured.
ANALYSIS_ORDERS = {"falloff": (), "u4_negative": (4,), "u6_positive": (4, 6), "flow_fit": (4,),
                   "passive_flow": (4, 6), "lambda_running": (4,), "six_point": (4, 6), "depth_running": (4,),
                   "training": (1,), "outputs": (4,)}


def asking(experiments: dict, analysis: str) -> dict:
    """The experiments (name -> :class:`nnqft.model.Experiment`) whose ``analyses`` list ``analysis``."""
    return {name: exp for name, exp in experiments.items() if analysis in exp.analyses}


def depth_scans(experiments: dict) -> dict[str, list[str]]:
    """The depth scans of a config: the experiments asking for ``depth_running`` that share an activation, a point set,
    σ_b, σ_W and an estimator, by depth; each named by its experiments joined by '+'."""
    groups: dict[tuple, list[str]] = {}
    for name, exp in asking(experiments, "depth_running").items():
        groups.setdefault((exp.activation, exp.points, exp.sigma_b, exp.sigma_w, exp.estimator), []).append(name)
    out = {}
    for names in groups.values():
        names = sorted(names, key=lambda n: (experiments[n].depth, n))
        out["+".join(names)] = names
    return out


def analysis_unmet(analysis: str, exp, orders=None) -> str:
    """What experiment ``exp`` (:class:`nnqft.model.Experiment`) lacks for ``analysis``, with the config's ``orders``
    (None: all); empty if nothing."""
    if analysis not in ANALYSES:
        return f"to be one of {list(ANALYSES)}"
    kind, wanted = kind_of(exp), analysis_kind(analysis)
    if kind != wanted:
        own = [a for a in ANALYSES if analysis_kind(a) == kind]
        return {"untrained": f"an untrained ensemble of one output (it reads the untrained correlators): this "
                             f"experiment's kind ({kind}) asks for {own}",
                "trained": "a training (the experiment's `training` key): it measures a trained ensemble",
                "outputs": "several outputs (the experiment's `d_out` > 1): it measures their correlators"}[wanted]
    missing = [o for o in ANALYSIS_ORDERS[analysis] if orders is not None and o not in orders]
    if missing:
        return f"orders {missing} (the config's `orders` is {list(orders)})"
    sigma_w, widths = list(exp.sigma_w), list(exp.N)
    if analysis == "training" and len(widths) < 2:
        return f"at least 2 widths N (N (measured − theory) against N), got {widths}"
    if exp.depth > 1 and analysis not in DEEP_ANALYSES:
        return (f"one hidden layer (depth 1; the exact theory it uses is that of one hidden layer), got depth "
                f"{exp.depth}: at depth > 1 ask for {[a for a in DEEP_ANALYSES if analysis_kind(a) == kind]}")
    if analysis == "depth_running" and len(sigma_w) != 1:
        return f"one sigma_w (a depth scan at fixed sigma_w), got {sigma_w}"
    if analysis in ("lambda_running", "six_point") and exp.activation == "linear":
        return "activation gauss, relu or erf (HMS's cutoff integrals diverge for a linear kernel)"
    if analysis == "falloff" and _opposite_rays(exp):
        return ("no two points on opposite rays for ReLU without bias at depth 1 (there K(x, y) = 0, so G_GP = 0 and "
                "m_n = ΔG/G_GP is undefined); move a point, give sigma_b > 0 or depth > 1")
    if analysis == "falloff" and len(widths) < 2:
        return f"at least 2 widths N (a slope in N), got {widths}"
    if analysis in ("falloff", "lambda_running", "six_point") and len(sigma_w) != 1:
        return (f"one sigma_w (HMS's measurements are at fixed sigma_w), got {sigma_w}; to measure another sigma_w, "
                f"add a second experiment with it (their shared points are sampled once)")
    if analysis in COUPLING_ANALYSES and exp.activation != "gauss":
        return f"activation gauss (the couplings are GaussNet's), got {exp.activation}"
    if analysis == "flow_fit" and len(sigma_w) < 3:
        return f"at least 3 sigma_w (a power law with an interval), got {sigma_w}"
    if analysis in ("lambda_running", "six_point") and exp.ngp_width not in widths:
        return f"ngp_width, one of its widths N {widths} (where the claim is checked), got {exp.ngp_width}"
    if analysis == "six_point" and not {"lambda_running", "falloff"} <= set(exp.analyses):
        return ("lambda_running and falloff in the same experiment (the prediction uses the mean lambda, the claim "
                "the 6-point deviation)")
    return ""


def _opposite_rays(exp) -> bool:
    """ReLU at σ_b = 0 and depth 1 with two points x, y = −c x (c > 0): the kernel K(x, y) vanishes exactly."""
    if exp.activation != "relu" or exp.sigma_b != 0 or exp.depth != 1:
        return False
    for i, x in enumerate(exp.points):
        for y in exp.points[i + 1:]:
            dot = sum(a * b for a, b in zip(x, y))
            norms = sum(a * a for a in x) ** 0.5 * sum(b * b for b in y) ** 0.5
            if norms > 0 and dot <= -(1 - 1e-12) * norms:
                return True
    return False


@dataclass(frozen=True)
class Step:
    """One analysis step: ``nnqft.analysis.steps.<name>`` computes the tables ``writes`` (``results/tables/<table>
    .parquet``; one table, or two that one computation gives) from the tables ``reads``. One rule each
    (``analyse_<name>``), with the code digest of its own function: editing one analysis reruns its tables and what
    reads them, no other."""

    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]


#: The analysis tables, each written by one step, in an order where every step follows the steps it reads.
TABLES = (
    Step("deviations", ("correlators",), ("deviations",)),
    Step("error_bars", ("deviations",), ("error_bars",)),
    Step("hms_falloff", ("deviations",), ("hms_falloff",)),
    Step("hms_lambda", ("correlators",), ("hms_lambda", "hms_lambda_slope", "hms_integrals")),
    Step("hms_six_point", ("hms_lambda", "deviations", "hms_integrals"), ("hms_six_point",)),
    Step("couplings", ("correlators",), ("couplings", "coupling_means")),
    Step("flow_fit", ("coupling_means",), ("flow_fit",)),
    Step("passive_flow", ("coupling_means",), ("passive_flow",)),
    Step("depth_running", ("correlators",), ("depth_running",)),
    Step("training", ("trained_correlators",), ("training", "training_fit")),
    Step("outputs", ("output_correlators",), ("outputs",)),
    Step("outputs_falloff", ("outputs",), ("outputs_falloff",)),
)

def steps_for(experiments: dict) -> tuple[Step, ...]:
    """The steps a config runs: those of each kind of experiment it has (a config of untrained one-output experiments
    runs exactly the steps it always ran)."""
    kinds = {kind_of(exp) for exp in experiments.values()}
    return tuple(s for s in TABLES if analysis_kind(s.name) in kinds)


def step_experiments(step: Step, experiments: dict) -> dict:
    """The experiments a step computes on: those of its kind."""
    return {n: e for n, e in experiments.items() if kind_of(e) == analysis_kind(step.name)}


def waiting_on(step: Step) -> int:
    """How many steps read ``step``'s tables, directly or through other steps: its rule's scheduling priority, so
    that the steps others wait on (the deviations, the longest) start first."""
    waiting, frontier = set(), set(step.writes)
    while frontier:
        readers = {s for s in TABLES if set(s.reads) & frontier and s.name not in waiting}
        waiting |= {s.name for s in readers}
        frontier = {t for s in readers for t in s.writes}
    return len(waiting)


#: The tables the claims read (nnqft.analysis.claims.claims_table), per kind of experiment.
CLAIMS_READS = {"untrained": ("deviations", "error_bars", "hms_falloff", "hms_lambda", "hms_lambda_slope",
                              "hms_six_point", "couplings", "coupling_means", "flow_fit", "depth_running"),
                "trained": ("training", "training_fit"),
                "outputs": ("outputs",)}


def claims_reads(experiments: dict) -> tuple[str, ...]:
    """The tables the claims of a config read: those of each kind of experiment it has, in the order of KINDS."""
    from ..model import KINDS

    kinds = {kind_of(exp) for exp in experiments.values()}
    return tuple(t for kind in KINDS if kind in kinds for t in CLAIMS_READS[kind])


def step(name: str) -> Step:
    """The analysis step called ``name``."""
    for spec in TABLES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown analysis step {name!r}; known: {', '.join(s.name for s in TABLES)}")


@dataclass(frozen=True)
class Figure:
    """One figure, drawn by ``nnqft.analysis.<function>`` (``module.function``) from the analysis tables
    ``results/tables/<table>.parquet`` (passed in this order) with keyword ``options``: for every experiment whose
    ``analyses`` hold all of ``analyses`` (``per_experiment``, with ``experiment=<name>``), or once from all of them;
    only where the config measures its ``orders``."""

    name: str
    function: str
    tables: tuple[str, ...]
    analyses: tuple[str, ...] = ()
    per_experiment: bool = True
    options: tuple[tuple[str, object], ...] = ()
    orders: tuple[int, ...] = (2,)
    kind: str = "untrained"  # the kind of experiment it is drawn for (nnqft.model.KINDS; trained: their orders)

    def kwargs(self, experiment: str | None = None) -> dict:
        return {**({} if experiment is None else {"experiment": experiment}), **dict(self.options)}

    def drawn_for(self, exp, orders) -> bool:
        """Whether experiment ``exp`` gets this figure (or, across experiments, takes part in it)."""
        if kind_of(exp) != self.kind:
            return False
        orders = orders if getattr(exp, "orders", None) is None else exp.orders
        return set(self.orders) <= set(orders) and set(self.analyses) <= set(exp.analyses)


FIGURES = (
    Figure("histograms", "figures.histograms", ("deviations",), ("falloff",), orders=(2, 4)),
    Figure("mean_deviation_vs_N", "figures.mean_deviation_vs_N", ("deviations",), ("falloff",)),
    Figure("u4_vs_N", "figures.u4_vs_N", ("coupling_means",), ("u4_negative",), orders=(4,)),
    Figure("u4_vs_sigma", "figures.coupling_vs_sigma", ("coupling_means", "flow_fit"), ("flow_fit",), options=(("order", 4),),
           orders=(4,)),
    Figure("u6_vs_sigma", "figures.coupling_vs_sigma", ("coupling_means", "flow_fit"), ("flow_fit", "u6_positive"),
           options=(("order", 6),), orders=(4, 6)),
    Figure("passive_flow", "figures.passive_flow", ("passive_flow", "coupling_means"), ("passive_flow",), orders=(4, 6)),
    Figure("validation", "figures.validation", ("deviations",), per_experiment=False),
    Figure("falloff", "figures.falloff", ("hms_falloff",), ("falloff",), per_experiment=False),
    Figure("lambda_running", "figures.lambda_running", ("hms_lambda", "hms_lambda_slope"), ("lambda_running",),
           per_experiment=False, orders=(4,)),
    Figure("six_point", "figures.six_point", ("hms_six_point",), ("six_point",), per_experiment=False, orders=(4, 6)),
    Figure("u4_exponent_vs_d_in", "figures.exponent_vs_d_in", ("flow_fit",), ("flow_fit",), per_experiment=False,
           options=(("order", 4),), orders=(4,)),
    Figure("depth_running", "depth.depth_running", ("depth_running",), ("depth_running",), per_experiment=False,
           orders=(4,)),
    Figure("training", "training.training_figure", ("training", "training_fit"), ("training",), orders=(1, 2),
           kind="trained"),
    Figure("outputs", "outputs.outputs_figure", ("outputs", "outputs_falloff"), ("outputs",), orders=(4,),
           kind="outputs"),
)


def draw(spec: Figure, frames: dict, experiment: str | None = None):
    """The figure ``spec`` from the tables ``frames`` (name -> DataFrame), of one ``experiment`` (per-experiment
    figures) or across experiments: its plotting function, imported by name only here (the figure rules add it to
    their code digest themselves), returns a matplotlib Figure."""
    from importlib import import_module

    module, function = spec.function.rsplit(".", 1)
    plot = getattr(import_module(f"{__package__}.{module}"), function)
    return plot(*(frames[name] for name in spec.tables), **spec.kwargs(experiment))


def figure(name: str) -> Figure:
    """The figure called ``name``."""
    for spec in FIGURES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown figure {name!r}; known: {', '.join(f.name for f in FIGURES)}")


def figure_paths(experiments: dict, orders=(2, 4, 6)) -> list[str]:
    """The figures a config gets, as paths under results/figures without extension: ``{experiment}/{name}`` for
    each experiment a per-experiment figure is drawn for, ``{name}`` for a figure across experiments that some
    experiment takes part in."""
    paths = []
    for spec in FIGURES:
        drawn = [name for name, exp in experiments.items() if spec.drawn_for(exp, orders)]
        if spec.per_experiment:
            paths += [f"{name}/{spec.name}" for name in drawn]
        elif drawn:
            paths.append(spec.name)
    return paths
