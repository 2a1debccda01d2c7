# Stage 2: analysis tables, the paper's claims and the figures, downstream of the gathered correlators only.

TABLES = "results/tables"
FIGURES = "results/figures"


wildcard_constraints:
    experiment="|".join(re.escape(name) for name in EXPERIMENTS),


rule analyse:
    input:
        correlators=f"{TABLES}/correlators.parquet",
    output:
        deviations=f"{TABLES}/deviations.parquet",
        error_bars=f"{TABLES}/error_bars.parquet",
        hms_falloff=f"{TABLES}/hms_falloff.parquet",
        hms_lambda=f"{TABLES}/hms_lambda.parquet",
        hms_lambda_slope=f"{TABLES}/hms_lambda_slope.parquet",
        hms_six_point=f"{TABLES}/hms_six_point.parquet",
        couplings=f"{TABLES}/couplings.parquet",
        coupling_means=f"{TABLES}/coupling_means.parquet",
        flow_fit=f"{TABLES}/flow_fit.parquet",
        passive_flow=f"{TABLES}/passive_flow.parquet",
        depth_running=f"{TABLES}/depth_running.parquet",
    log:
        "logs/analyse.log",
    localrule: True
    conda:
        "../../envs/nnqft.yaml"
    params:
        seed=config["seed"],
        experiments=EXPERIMENTS,
        cutoffs=config["cutoffs"],
        code=code_digest("analysis_tables.py"),
    script:
        "../../scripts/analysis_tables.py"


rule claims:
    input:
        deviations=f"{TABLES}/deviations.parquet",
        error_bars=f"{TABLES}/error_bars.parquet",
        hms_falloff=f"{TABLES}/hms_falloff.parquet",
        hms_lambda=f"{TABLES}/hms_lambda.parquet",
        hms_lambda_slope=f"{TABLES}/hms_lambda_slope.parquet",
        hms_six_point=f"{TABLES}/hms_six_point.parquet",
        couplings=f"{TABLES}/couplings.parquet",
        coupling_means=f"{TABLES}/coupling_means.parquet",
        flow_fit=f"{TABLES}/flow_fit.parquet",
        depth_running=f"{TABLES}/depth_running.parquet",
    output:
        table=f"{TABLES}/claims.parquet",
        markdown=report("results/claims.md", caption="../report/claims.rst", category="Claims"),
    log:
        "logs/claims.log",
    localrule: True
    conda:
        "../../envs/nnqft.yaml"
    params:
        experiments=EXPERIMENTS,
        code=code_digest("claims_report.py"),
    script:
        "../../scripts/claims_report.py"


# One rule per figure of nnqft.analysis.registry (plot_histograms, plot_u4_vs_sigma, ...), each with its caption.
# A figure of one experiment is written under the experiment's name (results/figures/{experiment}/...), one across
# experiments under its own. The script draws the figure by the name of its plotting function, so the code param
# adds that function (and, through it, every helper and constant it uses) to what the script reaches.
for spec in registry.FIGURES:
    where = f"{FIGURES}/{{experiment}}/{spec.name}" if spec.per_experiment else f"{FIGURES}/{spec.name}"

    rule:
        name:
            f"plot_{spec.name}"
        input:
            **{table: f"{TABLES}/{table}.parquet" for table in spec.tables},
        output:
            pdf=f"{where}.pdf",
            png=report(
                f"{where}.png",
                caption=f"../report/{spec.name}.rst",
                category="Figures",
                subcategory="{experiment}" if spec.per_experiment else "across experiments",
            ),
        log:
            f"logs/plot/{{experiment}}/{spec.name}.log" if spec.per_experiment else f"logs/plot/{spec.name}.log",
        localrule: True
        conda:
            "../../envs/nnqft.yaml"
        params:
            figure=spec.name,
            code=code_digest("plot_figure.py", f"analysis.figures.{spec.function}"),
        script:
            "../../scripts/plot_figure.py"
