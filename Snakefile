# NN-QFT correspondence: reproduction workflow (Erbin, Lahoche, Samary 2022).
# Rules are split by stage in workflow/rules; the science lives in scripts/nnqft.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/sampling.smk"


rule all:
    input:
        "results/tables/correlators.parquet",
