# Stage 2: analysis tables, the paper's claims and the figures, downstream of the gathered correlators only.

TABLES = "results/tables"
FIGURES = "results/figures"


wildcard_constraints:
    experiment="|".join(re.escape(name) for name in EXPERIMENTS),


# One rule per analysis step of nnqft.analysis.registry.TABLES (analyse_deviations, analyse_couplings, ...), each
# with the code digest of its own step function: an edit to one analysis reruns its tables and what reads them. The
# steps that others wait on start first (priority).
for step in registry.TABLES:

    rule:
        name:
            f"analyse_{step.name}"
        input:
            **{table: f"{TABLES}/{table}.parquet" for table in step.reads},
        output:
            **{table: f"{TABLES}/{table}.parquet" for table in step.writes},
        log:
            f"logs/analyse/{step.name}.log",
        priority: registry.waiting_on(step)
        localrule: True
        conda:
            "../../envs/nnqft.yaml"
        params:
            step=step.name,
            seed=config["seed"],
            experiments=registry.step_experiments(step, EXPERIMENTS),
            cutoffs=config["cutoffs"],
            code=code_digest("analysis_table.py", f"analysis.steps.{step.name}"),
        script:
            "../../scripts/analysis_table.py"


rule claims:
    input:
        **{table: f"{TABLES}/{table}.parquet" for table in registry.claims_reads(EXPERIMENTS)},
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
            code=code_digest("plot_figure.py", f"analysis.{spec.function}"),
        script:
            "../../scripts/plot_figure.py"
