# Stage 2: analysis tables and the paper's claims, downstream of the gathered correlators only.

TABLES = "results/tables"
FIGURES = "results/figures"


rule analyse:
    input:
        correlators=f"{TABLES}/correlators.parquet",
    output:
        deviations=f"{TABLES}/deviations.parquet",
        couplings=f"{TABLES}/couplings.parquet",
        coupling_means=f"{TABLES}/coupling_means.parquet",
        flow_fit=f"{TABLES}/flow_fit.parquet",
        passive_flow=f"{TABLES}/passive_flow.parquet",
    log:
        "logs/analyse.log",
    params:
        seed=config["seed"],
        n_nets=config["n_nets"],
        points=config["points"],
        experiments=config["experiments"],
        sigma_experiment=sigma_experiment(),
        code=code_digest("analysis"),
    localrule: True
    conda:
        "../../envs/nnqft.yaml"
    script:
        "../../scripts/analysis_tables.py"


rule claims:
    input:
        deviations=f"{TABLES}/deviations.parquet",
        couplings=f"{TABLES}/couplings.parquet",
        coupling_means=f"{TABLES}/coupling_means.parquet",
        flow_fit=f"{TABLES}/flow_fit.parquet",
    output:
        table=f"{TABLES}/claims.parquet",
        markdown=report("results/claims.md", caption="../report/claims.rst", category="Claims"),
    params:
        code=code_digest("claims"),
    localrule: True
    conda:
        "../../envs/nnqft.yaml"
    script:
        "../../scripts/claims_report.py"


FIGURE_INPUTS = {
    "histograms": ["deviations"],
    "mean_deviation_vs_N": ["deviations"],
    "u4_vs_N": ["coupling_means"],
    "u4_vs_sigma": ["coupling_means", "flow_fit"],
    "u6_vs_sigma": ["coupling_means", "flow_fit"],
    "passive_flow": ["passive_flow", "coupling_means"],
    "validation": ["deviations"],
}
FIGURE_FUNCTIONS = {"u4_vs_sigma": "coupling_vs_sigma", "u6_vs_sigma": "coupling_vs_sigma"}


# One rule per figure (plot_histograms, plot_u4_vs_sigma, ...), each with its caption; the code param
# is the digest of that figure's plotting function, so editing one figure reruns only that figure.
for _figure, _inputs in FIGURE_INPUTS.items():

    rule:
        name:
            f"plot_{_figure}"
        input:
            **{name: f"{TABLES}/{name}.parquet" for name in _inputs},
        output:
            pdf=f"{FIGURES}/{_figure}.pdf",
            png=report(f"{FIGURES}/{_figure}.png", caption=f"../report/{_figure}.rst", category="Figures"),
        params:
            figure=_figure,
            code=code_digest("figures", FIGURE_FUNCTIONS.get(_figure, _figure)),
        localrule: True
        conda:
            "../../envs/nnqft.yaml"
        script:
            "../../scripts/plot_figure.py"
