# NN-QFT correspondence: reproduction workflow (Erbin, Lahoche, Samary 2022).
# Rules are split by stage in workflow/rules; the science lives in scripts/nnqft.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/sampling.smk"
include: "workflow/rules/analysis.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        "results/tables/correlators.parquet",
        "results/claims.md",
        expand("results/figures/{figure}.{ext}", figure=FIGURE_INPUTS, ext=["pdf", "png"]),
