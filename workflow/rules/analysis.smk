# Stage 2: analysis tables and the paper's claims, downstream of the gathered correlators only.
from nnqft import analysis as nnqft_analysis, claims as nnqft_claims, figures as nnqft_figures

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
        code=module_digest(nnqft_analysis),
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
        code=code_digest(nnqft_claims, "claims_table"),
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


rule plot:
    input:
        unpack(lambda wc: {name: f"{TABLES}/{name}.parquet" for name in FIGURE_INPUTS[wc.figure]}),
    output:
        pdf=f"{FIGURES}/{{figure}}.pdf",
        png=report(f"{FIGURES}/{{figure}}.png", caption="../report/{figure}.rst", category="Figures"),
    params:
        figure=lambda wc: wc.figure,
        code=lambda wc: code_digest(nnqft_figures, FIGURE_FUNCTIONS.get(wc.figure, wc.figure)),
    wildcard_constraints:
        figure="|".join(FIGURE_INPUTS),
    localrule: True
    conda:
        "../../envs/nnqft.yaml"
    script:
        "../../scripts/plot_figure.py"
