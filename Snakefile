# NN-QFT correspondence: reproduction workflow (Erbin, Lahoche, Samary 2022).
# Rules are split by stage in workflow/rules; the science lives in the nnqft package (scripts/nnqft,
# installed with `pip install -e .`). The profiles are in workflow/profiles; `profiles` at the top is a
# link to that folder, where Snakemake looks for the default profile of a top-level Snakefile.
from snakemake.utils import min_version

min_version("9.0")


# The paper's config, unless --configfile names others: a config given on the command line replaces
# it (keys it omits take the schema's defaults) instead of being merged into it.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/sampling.smk"
include: "workflow/rules/analysis.smk"


report: "workflow/report/workflow.rst"


FIGURE_FILES = expand(
    "results/figures/{figure}.{ext}",
    figure=registry.figure_paths(EXPERIMENTS, config["orders"]),
    ext=["pdf", "png"],
)


# The figures of one run are its config's: before any job, remove those an earlier config drew that this one does
# not (samples and tables are shared or rewritten; a stale figure would sit beside the new ones).
onstart:
    for path in design.remove_stale_outputs("results/figures", FIGURE_FILES):
        logger.info(f"removed {path}: not a figure of this config")


rule all:
    input:
        [
            f"results/tables/{table}.parquet"
            for step in registry.steps_for(EXPERIMENTS)
            for table in (*step.reads, *step.writes)
        ],
        "results/claims.md",
        FIGURE_FILES,
