"""Rule script (plot_*): one figure of nnqft.analysis.registry from the analysis tables, as PDF and PNG; a figure
of one experiment (its path results/figures/{experiment}/...) draws that experiment.

Each figure rule carries the digest of its own plotting function and of what that function uses, so
editing one figure's code (nnqft/analysis/figures.py, depth.py for the depth figure) reruns that figure and
leaves every other one and all
tables alone.
"""
import pandas as pd

from nnqft.analysis import registry
from nnqft.workflow import logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
spec = registry.figure(sm.params.figure)
experiment = sm.wildcards.get("experiment")
frames = {name: pd.read_parquet(path) for name, path in sm.input.items()}
fig = registry.draw(spec, frames, experiment)
tables.write_figure(fig, sm.output.pdf, sm.output.png)
log.info("figure %s%s from %s", spec.name, f" of {experiment}" if experiment else "", ", ".join(spec.tables))
